"""Promotion gates as the parameter file writes them: the ``promote:`` block's records and a condition's parsing.

A gate is the ``promote:`` block of a pipeline in the parameter file::

    promote:
      auc: ">= 0.90"              # absolute: metric, operator, threshold
      log_loss:                   # per metric, as MLflow's MetricThreshold names them
        threshold: 0.35           #   absolute, in the metric's direction (<= for a metric whose goal is min)
        min_absolute_change: 0    #   against the baseline: at least this much better (negative: at most this much worse)
        min_relative_change: 0.01 #   ... or this share of the baseline's value better
        greater_is_better: false  #   the metric's goal (or metrics: {log_loss: min})
      not_worse_than: baseline    # relative: no metric worse than the baseline run's by more than tolerance
      tolerance: 0.01

The block is read (with its problems at their lines) in ``review_keys``; judging a run's metrics against a gate
is ``review/gate.py``'s job. Values are compared in their own precision (``metric_values.exact``) and a
non-finite value never holds. The records hold what the file says; how a condition reads in a report and whether a
run meets it are decided there too, so reading the file needs no decimal arithmetic.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..errors import Location

# The operators a condition may use; what each decides (in the values' own precision) is review/gate.py's.
OPERATORS = (">=", "<=", ">", "<", "==", "!=")
_CONDITION = re.compile(r"\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*")
GATE_KEYS = ("not_worse_than", "tolerance")
RELATIVE_TO = ("baseline",)
# The keys of a metric's own entry (``promote: {log_loss: {...}}``), named as MLflow's MetricThreshold names them.
METRIC_KEYS = ("threshold", "min_absolute_change", "min_relative_change", "greater_is_better")


class BadCondition(ValueError):
    """A condition's text is not ``OP NUMBER``; the message says what to write."""


@dataclass(frozen=True)
class Condition:
    """``metric OP threshold``, e.g. ``auc >= 0.9``."""

    metric: str
    op: str
    threshold: float
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Change:
    """``min_absolute_change`` or ``min_relative_change`` of one metric against the baseline run's value.

    A run passes when its value is better than the baseline's by at least ``amount`` (absolute, in the metric's
    units) or by ``amount`` times the baseline's magnitude (relative); a negative amount lets it be worse by at most
    that much."""

    metric: str
    kind: str  # "absolute" or "relative"
    amount: float
    location: Location | None = field(default=None, compare=False)


def parse_condition(metric: str, text: object) -> Condition:
    """``">= 0.9"`` (or a bare number, read as ``>=``) for ``metric``; raise BadCondition."""
    if isinstance(text, bool):
        raise BadCondition(f"expected a condition such as \">= 0.9\", got {text!r}.")
    if isinstance(text, (int, float)):
        if not math.isfinite(text):
            raise BadCondition(f"the threshold {text!r} is not a finite number.")
        return Condition(metric, ">=", float(text))
    if not isinstance(text, str):
        raise BadCondition(f"expected a condition such as \">= 0.9\", got {type(text).__name__}.")
    m = _CONDITION.fullmatch(text)
    if m is None:
        raise BadCondition(f"the condition {text!r} is not an operator and a number. "
                           f"Write e.g. \">= 0.9\" (operators: {', '.join(OPERATORS)}).")
    threshold = float(m.group(2))
    if not math.isfinite(threshold):
        raise BadCondition(f"the threshold in {text!r} is not a finite number.")
    return Condition(metric, m.group(1), threshold)


@dataclass(frozen=True)
class Gate:
    """A pipeline's ``promote:`` block, validated."""

    conditions: tuple[Condition, ...] = ()
    not_worse_than: str | None = None  # "baseline"
    tolerance: float = 0.0
    location: Location | None = field(default=None, compare=False)
    changes: tuple[Change, ...] = ()  # per-metric min_absolute_change / min_relative_change
