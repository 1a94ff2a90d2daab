"""The review keys of a pipeline's entry: ``metrics:`` (each metric's goal) and ``compare_to:`` (the baseline of every
report). ``promote:``, the gate a version's run must pass, is ``promote_block.py``'s."""

from __future__ import annotations

import re
from typing import Any

from .checker import Checker, type_name
from ..yamlfile import KeyPath

GOALS = ("max", "min")
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,255}")


def read_goals(c: Checker, value: Any, path: KeyPath) -> dict[str, str]:
    """``metrics: {auc: {goal: max}, log_loss: {goal: min}}``; ``log_loss: min`` is the short form."""
    if value is None:
        return {}
    spec = c.mapping(value, path, "metrics and their goals")
    out: dict[str, str] = {}
    for name, entry in (spec or {}).items():
        here = (*path, name)
        if isinstance(entry, dict):
            c.unknown_keys(entry, here, ("goal",))
            goal = entry.get("goal", "max")
            where = (*here, "goal")
        else:
            goal, where = entry, here
        if goal not in GOALS:
            c.add(where, f"the goal of metric '{name}' is {goal!r}.", "Write goal: max (higher is better) or goal: min (lower is better).")
            continue
        out[str(name)] = str(goal)
    return out


def read_compare_to(c: Checker, value: Any, path: KeyPath) -> str:
    if isinstance(value, str) and value in ("default", "latest"):
        return value
    if isinstance(value, str) and RUN_ID.fullmatch(value):
        return value  # a run id: whether it exists is checked against the backend before anything runs
    c.add(path, f"expected default, latest or a run id, got {type_name(value)} {value!r}.",
          "Write compare_to: default (the default version's latest run), latest, or a run id from `retrain runs`.")
    return "default"
