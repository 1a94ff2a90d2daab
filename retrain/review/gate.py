"""Judging a run against its promotion gate: which conditions held, which failed, which could not be evaluated.

The gate's records and the ``promote:`` block's parsing are the parameter file's (``config/gate.py``). Pure:
judging a run's metrics needs no backend. Which run is the baseline is ``baseline.py``'s job; moving the default
is the backend's. Values are compared in their own precision (``metric_values.exact``) and a non-finite value
never passes. A gate none of whose conditions could be evaluated (no baseline, no metrics) fails: a gate never
passes on nothing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from ..config.gate import Change, Condition, Gate
from ..errors import Location
from ..metric_values import exact, finite, full

# What each of config.gate.OPERATORS decides, on the values in their own precision.
COMPARE: dict[str, Callable[[Decimal, Decimal], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "!=": operator.ne,
}


def condition_text(cond: Condition) -> str:
    """``auc >= 0.9``: the condition as a report shows it, every digit of the threshold."""
    return f"{cond.metric} {cond.op} {full(cond.threshold)}"


def holds(cond: Condition, value: float) -> bool:
    """Decided in the values' own precision; a non-finite value never holds."""
    return finite(value) and COMPARE[cond.op](exact(value), exact(cond.threshold))


def change_bound(change: Change, base: float, goal: str) -> Decimal:
    """The value a run must reach (goal max: at least; min: at most) to meet ``change`` against ``base``."""
    step = exact(change.amount) if change.kind == "absolute" else abs(exact(base)) * exact(change.amount)
    return exact(base) + step if goal == "max" else exact(base) - step


def change_words(change: Change) -> str:
    """``at least 0.01 better than`` / ``at most 1% worse than``, to be followed by the baseline."""
    if change.kind == "absolute":
        amount = full(abs(change.amount))
    else:
        amount = f"{full(abs(change.amount) * 100)}%"
    return f"at least {amount} better than" if change.amount >= 0 else f"at most {amount} worse than"


@dataclass(frozen=True)
class Check:
    """One judged condition: what was required, what the run had, whether it passed.

    A skipped check could not be evaluated (no baseline to compare with, or the baseline's value is not a
    number); it neither passes nor fails, and a gate whose every check was skipped fails."""

    text: str  # "auc >= 0.9", "auc not worse than baseline 0.91 (tolerance 0.01)"
    metric: str
    value: float | None
    threshold: float | None
    passed: bool
    why: str = ""  # for a failure or a skip: in words, with the value and the threshold
    skipped: bool = False

    @property
    def result(self) -> str:
        """``passed``, ``failed`` or ``skipped``, as reports and JSON show it."""
        return "skipped" if self.skipped else "passed" if self.passed else "failed"


NOTHING_EVALUATED = "at least one condition evaluated"


@dataclass(frozen=True)
class GateResult:
    checks: tuple[Check, ...]
    baseline_run: str | None = None

    @property
    def passed(self) -> bool:
        return all(c.passed or c.skipped for c in self.checks) and any(not c.skipped for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed and not c.skipped)

    @property
    def skipped(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.skipped)

    def summary(self) -> str:
        if self.passed:
            held = len(self.checks) - len(self.skipped)
            text = f"the gate passed ({held} condition{'s' if held != 1 else ''}"
            return text + (f", {len(self.skipped)} skipped)" if self.skipped else ")")
        return "the gate failed: " + "; ".join(c.why for c in self.failed)


def evaluate(
    gate: Gate,
    metrics: Mapping[str, float],
    *,
    goals: Mapping[str, str],
    baseline: Mapping[str, float] | None = None,
    baseline_run: str | None = None,
    where: str = "",
) -> GateResult:
    """Judge ``metrics`` against ``gate``. ``goals`` maps a metric to ``max`` or ``min`` (default max).

    ``baseline`` is None when there is no baseline run, and empty when there is one that reported no metrics
    (a failed run, or one whose metrics could not be read): then nothing can be compared with it, and that
    fails the gate rather than letting it pass on nothing.

    A metric the gate names but the run did not report fails its condition, naming the metrics it did
    report, so a misspelt name is caught the first time a gated version runs. ``where`` (file:line)
    points at the gate in the parameter file.
    """
    reported = ", ".join(sorted(metrics)) or "none"
    at = f" (promote: at {where})" if where else ""
    checks: list[Check] = []

    def missing(name: str, location: Location | None, text: str, threshold: float | None) -> Check:
        cat = f" at {location}" if location else at
        return Check(text, name, None, threshold, False,
                     f"the gate names metric '{name}'{cat}, but the run reported no such metric "
                     f"(it reported: {reported}); fix the name in promote:")

    for cond in gate.conditions:
        value = metrics.get(cond.metric)
        if value is None:
            checks.append(missing(cond.metric, cond.location, condition_text(cond), cond.threshold))
            continue
        ok = holds(cond, value)
        why = "" if ok else f"{cond.metric} is {full(value)}, needs {cond.op} {full(cond.threshold)}" + (
            "" if finite(value) else " (not a finite number, so it cannot pass)")
        checks.append(Check(condition_text(cond), cond.metric, value, cond.threshold, ok, why))

    relative = gate.not_worse_than is not None or bool(gate.changes)
    if relative and baseline is not None and not baseline:
        which = (f"the baseline run {baseline_run} has no metrics (it failed, or its metrics could not be read)"
                 if baseline_run else "the baseline could not be read")
        checks.append(Check("the baseline run has metrics", "", None, None, False,
                            f"{which}, so nothing can be compared with it; name a run with metrics in compare_to, "
                            "or promote by hand"))
        baseline = None
        relative = False  # reported once, above, not once per condition

    if gate.not_worse_than is not None and relative:
        if baseline is None:
            checks.append(Check("not worse than the baseline", "", None, None, False,
                                "no baseline run to compare with", skipped=True))
        else:
            for name in sorted(baseline):
                checks.append(_not_worse(name, metrics.get(name), baseline[name], goals.get(name, "max"), gate.tolerance,
                                         baseline_run))
    for change in gate.changes if relative else ():
        goal = goals.get(change.metric, "max")
        text = f"{change.metric} {change_words(change)} the baseline"
        value = metrics.get(change.metric)
        if baseline is None:
            checks.append(Check(text, change.metric, value, None, False, "no baseline run to compare with", skipped=True))
            continue
        base = baseline.get(change.metric)
        if base is None:
            checks.append(Check(text, change.metric, value, None, False,
                                f"the baseline run {baseline_run} did not report {change.metric}", skipped=True))
            continue
        text = f"{change.metric} {change_words(change)} the baseline's {full(base)}"
        if value is None:
            checks.append(missing(change.metric, change.location, text, None))
            continue
        if not finite(base):
            checks.append(Check(text, change.metric, value, None, False,
                                f"the baseline's {change.metric} is {full(base)}: nothing to compare with", skipped=True))
            continue
        bound = change_bound(change, base, goal)
        sign = ">=" if goal == "max" else "<="
        ok = finite(value) and (exact(value) >= bound if goal == "max" else exact(value) <= bound)
        checks.append(Check(text, change.metric, value, float(bound), ok,
                            "" if ok else f"{change.metric} is {full(value)}, needs {sign} {full(float(bound))} "
                                          f"({change_words(change)} the baseline run {baseline_run}'s {full(base)})"))

    if not checks:  # validate refuses an empty gate; a Gate built otherwise still does not pass on nothing
        checks.append(Check(NOTHING_EVALUATED, "", None, None, False, "the gate has no condition to evaluate"))
    elif all(c.skipped for c in checks):
        reasons = "; ".join(dict.fromkeys(c.why for c in checks))
        checks.append(Check(NOTHING_EVALUATED, "", None, None, False,
                            f"no condition could be evaluated ({reasons}), and a gate does not pass on nothing"))
    return GateResult(tuple(checks), baseline_run)


def _not_worse(name: str, value: float | None, base: float, goal: str, tolerance: float, baseline_run: str | None) -> Check:
    text = f"{name} not worse than the baseline's {full(base)}" + (f" (tolerance {full(tolerance)})" if tolerance else "")
    if value is None:
        return Check(text, name, None, base, False,
                     f"{name} was not reported by this run but the baseline run {baseline_run} has it ({full(base)})")
    if not finite(base):
        return Check(text, name, value, None, False, f"the baseline's {name} is {full(base)}: nothing to compare with",
                     skipped=True)
    threshold = exact(base) - exact(tolerance) if goal == "max" else exact(base) + exact(tolerance)
    ok = finite(value) and (exact(value) >= threshold if goal == "max" else exact(value) <= threshold)
    sign = ">=" if goal == "max" else "<="
    return Check(text, name, value, float(threshold), ok,
                 "" if ok else f"{name} is {full(value)}, needs {sign} {full(float(threshold))} "
                               f"(baseline run {baseline_run}: {full(base)}, tolerance {full(tolerance)})")
