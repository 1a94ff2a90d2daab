"""Which run a run is compared with, the metric differences, and the pipeline's recent history.

The baseline is, by default, the run that judged the endpoint's default version (its gate promoted it),
else the latest completed run of the default version with the parameter file's values. A run submitted
with other values (``submit --set``, a dispatch form changed by hand) is in the trend but never a baseline,
unless ``compare_to: <run id>`` names it. ``compare_to: latest`` takes the pipeline's latest completed run
of any version with the file's values. Drafts (runs of a pull request's pipeline) are never a baseline:
they are what is being judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..backends.base import Backend, Run, RunStatus
from ..errors import NotFound, RetrainError
from ..metric_values import exact, finite, json_safe
from .records import DRAFT_TAG, GATE_TAG, VALUES_TAG, VERDICT_TAG

HISTORY = 20  # runs in the trend: enough to see a drift, small enough to read
SPARK = "▁▂▃▄▅▆▇█"
# How many recent runs the baseline search reads; older default-version runs are not a fair baseline anyway.
SEARCH = 200


def is_draft(run: Run) -> bool:
    return run.tags.get(DRAFT_TAG) == "true"


def by_hand(run: Run) -> bool:
    """A run submitted with values other than the parameter file's (runs from before the tag count as the file's)."""
    return run.tags.get(VALUES_TAG) == "set"


@dataclass(frozen=True)
class MetricDiff:
    name: str
    value: float | None
    baseline: float | None
    goal: str  # "max" or "min"

    @property
    def difference(self) -> float | None:
        """This run's value minus the baseline's, in their own precision (0.603 - 0.563 is 0.04, not
        0.040000000000000036); None when either is missing or not finite."""
        if self.value is None or self.baseline is None or not finite(self.value) or not finite(self.baseline):
            return None
        return float(exact(self.value) - exact(self.baseline))

    @property
    def verdict(self) -> str:
        """``better``, ``worse``, ``same``, ``new`` (no baseline value), ``missing`` (not in this run) or
        ``not finite`` (NaN or an infinity on either side: never better)."""
        if self.value is None:
            return "missing"
        if not finite(self.value):
            return "not finite"
        if self.baseline is None:
            return "new"
        if not finite(self.baseline):
            return "not finite"
        d = exact(self.value) - exact(self.baseline)
        if d == 0:
            return "same"
        return "better" if (d > 0) == (self.goal == "max") else "worse"


@dataclass(frozen=True)
class Comparison:
    baseline_run: str | None  # None: nothing to compare with (the reason says why)
    baseline_version: int | None
    how: str  # how the baseline was chosen, in words
    rows: tuple[MetricDiff, ...]
    unreadable: bool = False  # there may be a baseline, but it could not be read: nothing may pass by comparing with it

    def differences(self) -> dict[str, dict[str, object]]:
        """The action's ``metric-differences`` output: per metric, value, baseline, difference, verdict."""
        return json_safe({r.name: {"value": r.value, "baseline": r.baseline, "difference": r.difference,
                                   "goal": r.goal, "verdict": r.verdict} for r in self.rows})


def compare(run: Run | Mapping[str, float], baseline: Run | None, goals: Mapping[str, str], *, how: str = "") -> Comparison:
    metrics = run.metrics if isinstance(run, Run) else run
    base = dict(baseline.metrics) if baseline is not None else {}
    names = sorted(set(metrics) | set(base))
    rows = tuple(MetricDiff(n, metrics.get(n), base.get(n), goals.get(n, "max")) for n in names)
    return Comparison(baseline.id if baseline else None, baseline.version if baseline else None, how, rows)


def completed_runs(backend: Backend, pipeline: str) -> list[Run]:
    """The pipeline's completed runs, newest first, drafts left out: what a baseline and a history are chosen from.
    One listing (a request to Azure ML, up to :data:`SEARCH` runs with their steps from the local store): a review
    reads it once for both."""
    return [r for r in backend.runs(pipeline=pipeline, status=RunStatus.COMPLETED, limit=SEARCH) if not is_draft(r)]


def pick_baseline(
    backend: Backend,
    *,
    pipeline: str,
    endpoint: str,
    compare_to: str,
    parameters: Mapping[str, object] | None = None,  # unused: the baseline is chosen by how a run was submitted
    exclude: str | None = None,
    completed: Sequence[Run] | None = None,  # completed_runs(backend, pipeline), when the caller has read it
) -> tuple[Run | None, str]:
    """The baseline run and how it was chosen (for the report). Raise NotFound for a named run that is not there."""
    if compare_to not in ("default", "latest"):
        try:
            return backend.run(compare_to), "named by compare_to"
        except NotFound:
            raise NotFound(f"compare_to names run '{compare_to}', which does not exist. "
                           "Name a run that `retrain runs` lists, or write compare_to: default.") from None
    base, how = _choose(backend, endpoint, compare_to, exclude,
                        completed if completed is not None else completed_runs(backend, pipeline))
    return (_detailed(backend, base), how) if base is not None else (None, how)


def _detailed(backend: Backend, run: Run) -> Run:
    """A listed run with its metrics: some backends (Azure ML) list runs without them."""
    if run.metrics:
        return run
    try:
        return backend.run(run.id)
    except RetrainError:
        return run


def _choose(backend: Backend, endpoint: str, compare_to: str, exclude: str | None,
            completed: Sequence[Run]) -> tuple[Run | None, str]:
    runs = [r for r in completed if r.id != exclude and r.endpoint == endpoint]
    mine = [r for r in runs if not by_hand(r)]
    others = len(runs) - len(mine)
    note = (f"; {others} run{'s' if others != 1 else ''} with values given by hand "
            f"{'are' if others != 1 else 'is'} not a baseline unless compare_to names it") if others else ""
    if compare_to == "latest":
        if mine:
            return mine[0], "the latest completed run with the parameter file's values"
        return None, f"no completed run with the parameter file's values yet{note}"
    try:
        default = backend.endpoint(endpoint).default_version
    except NotFound:
        default = None
    if default is None:
        return None, f"endpoint '{endpoint}' has no default version yet"
    judged = [r for r in runs if r.version == default and r.tags.get(GATE_TAG) == str(default)
              and r.tags.get(VERDICT_TAG, "promoted") == "promoted"]
    if judged:
        return judged[0], "the run that passed the gate and promoted the default version"
    on_default = [r for r in mine if r.version == default]
    if on_default:
        return on_default[0], "the latest completed run of the default version with the parameter file's values"
    others = sum(1 for r in runs if r.version == default)
    note = (f"; {others} run{'s' if others != 1 else ''} of it with values given by hand "
            f"{'are' if others != 1 else 'is'} not a baseline unless compare_to names it") if others else ""
    return None, f"the default version {default} has no completed run with the parameter file's values yet{note}"


def compare_safely(backend: Backend, run: Run, *, endpoint: str, compare_to: str, goals: Mapping[str, str],
                   parameters: Mapping[str, object] | None = None, completed: Sequence[Run] | None = None) -> Comparison:
    """The comparison for a report: a backend that cannot list runs leaves it empty rather than failing the work."""
    try:
        base, how = pick_baseline(backend, pipeline=run.pipeline, endpoint=endpoint, compare_to=compare_to,
                                  parameters=parameters if parameters is not None else run.parameters, exclude=run.id,
                                  completed=completed)
    except NotFound:
        raise
    except RetrainError as e:
        return replace(compare(run, None, goals, how=f"the baseline could not be read: {e}"), unreadable=True)
    return compare(run, base, goals, how=how)


def history(backend: Backend, pipeline: str, *, current: Run | None = None, limit: int = HISTORY,
            completed: Sequence[Run] | None = None) -> list[Run]:
    """The pipeline's last completed runs, oldest first, ending with ``current`` when it completed."""
    try:
        listed = completed if completed is not None else completed_runs(backend, pipeline)
        runs = [_detailed(backend, r) for r in listed[:limit]]
    except RetrainError:
        return [current] if current is not None else []
    if current is not None and current.status is RunStatus.COMPLETED and not is_draft(current) and all(r.id != current.id for r in runs):
        runs = [current, *runs][:limit]
    return list(reversed(runs))


def sparkline(values: Sequence[float | None]) -> str:
    """Unicode block characters, lowest to highest; a run without the metric, or with a value that is not a
    finite number, is a space."""
    known = [v for v in values if v is not None and finite(v)]
    if not known:
        return ""
    lo, hi = min(known), max(known)
    span = hi - lo
    out = []
    for v in values:
        if v is None or not finite(v):
            out.append(" ")
        elif span == 0:
            out.append(SPARK[len(SPARK) // 2])
        else:
            out.append(SPARK[min(len(SPARK) - 1, int((v - lo) / span * (len(SPARK) - 1) + 0.5))])
    return "".join(out)


@dataclass(frozen=True)
class Trend:
    runs: tuple[Run, ...]  # oldest first
    lines: tuple[tuple[str, str, float | None, float | None], ...]  # metric, sparkline, min, max (finite values)


def trend(runs: Sequence[Run]) -> Trend:
    names = sorted({k for r in runs for k in r.metrics})
    lines = []
    for n in names:
        values = [r.metrics.get(n) for r in runs]
        known = [v for v in values if v is not None and finite(v)]
        lines.append((n, sparkline(values), min(known) if known else None, max(known) if known else None))
    return Trend(tuple(runs), tuple(lines))
