"""What the review leaves on runs (their tags) and hands to the reports (:class:`Review`).

Kept apart from the judging (baseline, gate, promote) so that a submit, which writes the tags and carries an
empty Review until its run ends, does not load the judging before its run has started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..backends.base import Run
    from .baseline import Comparison
    from .gate import GateResult

DRAFT_TAG = "retrain.draft"  # a run of a pull request's pipeline (a draft): never a baseline
GATE_TAG = "retrain.gate"  # the gated version a run was submitted to judge: that version's number
# Added to that run once judged (promoted, failed, not-promoted), so the syncs settle a version once.
VERDICT_TAG = "retrain.verdict"
VALUES_TAG = "retrain.values"  # "file": submitted with the parameter file's values; "set": with values given by hand


@dataclass(frozen=True)
class Review:
    """What a report adds to a run: the comparison, the gate (when there is one) and the trend."""

    comparison: Comparison | None = None
    gate: GateResult | None = None
    trend: tuple[Run, ...] = field(default=())  # the pipeline's last completed runs, oldest first
