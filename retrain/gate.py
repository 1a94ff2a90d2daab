"""Promotion gates: the conditions a version's run must meet before it becomes the endpoint's default.

A gate is the ``promote:`` block of a pipeline in the parameter file::

    promote:
      auc: ">= 0.90"              # absolute: metric, operator, threshold
      not_worse_than: baseline    # relative: no metric worse than the baseline run's by more than tolerance
      tolerance: 0.01

Pure: parsing a condition and judging a run's metrics need no backend. Which run is the baseline is
``baseline.py``'s job; moving the default is the backend's.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .errors import Location

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "!=": operator.ne,
}
_CONDITION = re.compile(r"\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*")
GATE_KEYS = ("not_worse_than", "tolerance")
RELATIVE_TO = ("baseline",)


class BadCondition(ValueError):
    """A condition's text is not ``OP NUMBER``; the message says what to write."""


@dataclass(frozen=True)
class Condition:
    """``metric OP threshold``, e.g. ``auc >= 0.9``."""

    metric: str
    op: str
    threshold: float
    location: Location | None = field(default=None, compare=False)

    def holds(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {_num(self.threshold)}"


def parse_condition(metric: str, text: object) -> Condition:
    """``">= 0.9"`` (or a bare number, read as ``>=``) for ``metric``; raise BadCondition."""
    if isinstance(text, bool):
        raise BadCondition(f"expected a condition such as \">= 0.9\", got {text!r}.")
    if isinstance(text, (int, float)):
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


@dataclass(frozen=True)
class Check:
    """One judged condition: what was required, what the run had, whether it passed."""

    text: str  # "auc >= 0.9", "auc not worse than baseline 0.91 (tolerance 0.01)"
    metric: str
    value: float | None
    threshold: float | None
    passed: bool
    why: str = ""  # for a failure: in words, with the value and the threshold


@dataclass(frozen=True)
class GateResult:
    checks: tuple[Check, ...]
    baseline_run: str | None = None

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def summary(self) -> str:
        if self.passed:
            return f"the gate passed ({len(self.checks)} condition{'s' if len(self.checks) != 1 else ''})"
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

    A metric the gate names but the run did not report fails its condition, naming the metrics it did
    report, so a misspelt name is caught the first time a gated version runs. ``where`` (file:line)
    points at the gate in the parameter file.
    """
    reported = ", ".join(sorted(metrics)) or "none"
    at = f" (promote: at {where})" if where else ""
    checks: list[Check] = []
    for cond in gate.conditions:
        value = metrics.get(cond.metric)
        if value is None:
            cat = f" at {cond.location}" if cond.location else at
            checks.append(Check(str(cond), cond.metric, None, cond.threshold, False,
                                f"the gate names metric '{cond.metric}'{cat}, but the run reported no such metric "
                                f"(it reported: {reported}); fix the name in promote:"))
            continue
        ok = cond.holds(value)
        checks.append(Check(str(cond), cond.metric, value, cond.threshold, ok,
                            "" if ok else f"{cond.metric} is {_num(value)}, needs {cond.op} {_num(cond.threshold)}"))
    if gate.not_worse_than is not None:
        if baseline is None:
            # Nothing to compare with (the endpoint's first gated version): a relative condition cannot fail.
            checks.append(Check("not worse than the baseline", "", None, None, True, "no baseline run to compare with"))
        else:
            for name in sorted(baseline):
                value = metrics.get(name)
                base = baseline[name]
                goal = goals.get(name, "max")
                text = f"{name} not worse than the baseline's {_num(base)}" + (
                    f" (tolerance {_num(gate.tolerance)})" if gate.tolerance else "")
                if value is None:
                    checks.append(Check(text, name, None, base, False,
                                        f"{name} was not reported by this run but the baseline run {baseline_run} has it ({_num(base)})"))
                    continue
                threshold = base - gate.tolerance if goal == "max" else base + gate.tolerance
                ok = value >= threshold if goal == "max" else value <= threshold
                sign = ">=" if goal == "max" else "<="
                checks.append(Check(text, name, value, threshold, ok,
                                    "" if ok else f"{name} is {_num(value)}, needs {sign} {_num(threshold)} "
                                                  f"(baseline run {baseline_run}: {_num(base)}, tolerance {_num(gate.tolerance)})"))
    return GateResult(tuple(checks), baseline_run)


def _num(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
