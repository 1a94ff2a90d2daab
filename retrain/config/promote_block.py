"""The ``promote:`` block of a pipeline's entry (the gate a version's run must pass), read into the records of
``gate.py``. Loaded only for an entry that has the block: a parameter file without a gate does not load the gate."""

from __future__ import annotations

from typing import Any

from ..yamlfile import KeyPath
from .checker import Checker, type_name
from .gate import GATE_KEYS, METRIC_KEYS, RELATIVE_TO, BadCondition, Change, Condition, Gate, parse_condition


def read_gate(c: Checker, value: Any, path: KeyPath, goals: dict[str, str]) -> Gate | None:
    """The ``promote:`` block. A metric's entry is a condition (``auc: ">= 0.9"``) or a mapping of MLflow's
    MetricThreshold keys; its ``greater_is_better`` joins ``goals`` (the ``metrics:`` goals), which it must not
    contradict."""
    spec = c.mapping(value, path, "the promotion gate")
    if spec is None:
        return None
    conditions: list[Condition] = []
    changes: list[Change] = []
    for key, entry in spec.items():
        if key in GATE_KEYS:
            continue
        if not isinstance(key, str) or not key.strip():
            c.add((*path, key), f"expected a metric name, got {key!r}.", at_key=True)
            continue
        if isinstance(entry, dict):
            cond, more = _metric_rule(c, key, entry, (*path, key), goals)
            conditions += cond
            changes += more
            continue
        try:
            cond_ = parse_condition(key, entry)
        except BadCondition as e:
            c.add((*path, key), str(e))
            continue
        conditions.append(Condition(cond_.metric, cond_.op, cond_.threshold, c.doc.where((*path, key))))
    relative = spec.get("not_worse_than")
    if relative is not None and relative not in RELATIVE_TO:
        c.add((*path, "not_worse_than"), f"not_worse_than is {relative!r}.", "Write not_worse_than: baseline.")
        relative = None
    tolerance = 0.0
    if "tolerance" in spec:
        raw = spec["tolerance"]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0 or raw != raw or raw == float("inf"):
            c.add((*path, "tolerance"), f"expected a number of at least 0, got {type_name(raw)} {raw!r}.",
                  "The tolerance is how much worse than the baseline a metric may be, e.g. tolerance: 0.01.")
        else:
            tolerance = float(raw)
            if "not_worse_than" not in spec:
                c.add((*path, "tolerance"), "a tolerance without not_worse_than has nothing to loosen.",
                      "Add not_worse_than: baseline, or remove tolerance.")
    if not any(k not in GATE_KEYS for k in spec) and spec.get("not_worse_than") is None:
        c.add(path, "the gate has no condition.", 'Add one, e.g. auc: ">= 0.9", or not_worse_than: baseline.')
        return None
    return Gate(tuple(conditions), "baseline" if relative in RELATIVE_TO else None, tolerance, c.doc.where(path), tuple(changes))


def _metric_rule(c: Checker, name: str, entry: dict[Any, Any], path: KeyPath,
                 goals: dict[str, str]) -> tuple[list[Condition], list[Change]]:
    """``promote: {log_loss: {threshold: 0.4, min_absolute_change: 0, min_relative_change: 0.01, greater_is_better: false}}``."""
    c.unknown_keys(entry, path, METRIC_KEYS)
    if "greater_is_better" in entry:
        gib = entry["greater_is_better"]
        if not isinstance(gib, bool):
            c.add((*path, "greater_is_better"), f"expected true or false, got {type_name(gib)} {gib!r}.",
                  "true: higher is better (goal max); false: lower is better (goal min).")
        else:
            goal = "max" if gib else "min"
            if name in goals and goals[name] != goal:
                c.add((*path, "greater_is_better"), f"greater_is_better: {str(gib).lower()} contradicts metrics: "
                      f"{name} has goal {goals[name]}.", "Say which way the metric is better in one place.")
            else:
                goals[name] = goal
    goal = goals.get(name, "max")
    conditions: list[Condition] = []
    changes: list[Change] = []
    if "threshold" in entry:
        raw = entry["threshold"]
        try:
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                # As MLflow reads a threshold: at least it for a metric whose goal is max, at most for min.
                cond = parse_condition(name, raw)
                cond = Condition(name, ">=" if goal == "max" else "<=", cond.threshold)
            else:
                cond = parse_condition(name, raw)
            conditions.append(Condition(cond.metric, cond.op, cond.threshold, c.doc.where((*path, "threshold"))))
        except BadCondition as e:
            c.add((*path, "threshold"), str(e))
    for key, kind in (("min_absolute_change", "absolute"), ("min_relative_change", "relative")):
        if key not in entry:
            continue
        raw = entry[key]
        limit = 1.0 if kind == "relative" else float("inf")
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != raw or not -limit <= raw <= limit \
                or abs(raw) == float("inf"):
            what = "a number from -1 to 1 (a share of the baseline's value)" if kind == "relative" else "a finite number"
            c.add((*path, key), f"expected {what}, got {type_name(raw)} {raw!r}.",
                  f"e.g. {key}: {'0.01 (1% better than the baseline)' if kind == 'relative' else '0.005'}; "
                  "a negative number allows that much worse.")
            continue
        changes.append(Change(name, kind, float(raw), c.doc.where((*path, key))))
    if not any(k in entry for k in ("threshold", "min_absolute_change", "min_relative_change")):
        c.add(path, f"the gate's entry for metric '{name}' has no condition.",
              "Add threshold, min_absolute_change or min_relative_change (greater_is_better alone only sets the goal; "
              "write that under metrics:).")
    return conditions, changes
