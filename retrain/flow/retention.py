"""The parameter file's ``retention:`` as the local store's collection policy, and in words: what ``retrain gc``
(at a terminal and in the action) keeps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config.records import Config

if TYPE_CHECKING:
    from ..backends.local.retention import RetentionPolicy


def retention_policy(config: Config) -> RetentionPolicy:
    """The parameter file's retention, with the runs ``compare_to`` names (gc must keep those)."""
    from ..backends.local.retention import RetentionPolicy  # the local backend loads with the verbs that use it

    keep = {name: r.keep for name in config.pipelines if (r := config.retention_for(name)) is not None}
    baselines = frozenset(p.compare_to for p in config.pipelines.values() if p.compare_to not in ("default", "latest"))
    return RetentionPolicy(keep=keep, default=config.retention.keep if config.retention else None, baselines=baselines)


def retention_words(config: Config) -> str:
    kinds = {f"keep {r.keep}" for n in config.pipelines if (r := config.retention_for(n)) is not None}
    if not kinds:
        return "no retention is set, so every run is kept"
    return f"retention: {', '.join(sorted(kinds))}"
