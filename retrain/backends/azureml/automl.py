"""An AutoML step's keys as azure-ai-ml sends them: image search spaces as sampling expressions, and the defaults
the SDK adds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A sampling expression's parameters, in the order azure-ai-ml writes them: uniform(0.0001,0.001).
EXPRESSIONS = {"uniform": ("min_value", "max_value"), "loguniform": ("min_value", "max_value"),
               "quniform": ("min_value", "max_value", "q"), "qloguniform": ("min_value", "max_value", "q"),
               "normal": ("mu", "sigma"), "lognormal": ("mu", "sigma"), "qnormal": ("mu", "sigma", "q"),
               "qlognormal": ("mu", "sigma", "q"), "randint": ("upper",)}
TEXT_TASKS = ("text_classification", "text_classification_multilabel", "text_ner")
IMAGE_TASKS = ("image_classification", "image_classification_multilabel", "image_object_detection", "image_instance_segmentation")


def _term(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def expression(spec: object) -> object:
    """One search-space entry as the SDK writes it for an AutoML node: ``choice('a','b')``, ``uniform(0.1,1)``."""
    if not isinstance(spec, Mapping):
        return spec
    kind = str(spec.get("type"))
    if kind == "choice":
        return f"choice({','.join(_term(v) for v in spec.get('values') or [])})"
    if kind in EXPRESSIONS:
        return f"{kind}({','.join(_term(spec.get(k)) for k in EXPRESSIONS[kind])})"
    return dict(spec)


def automl(node: Mapping[str, Any]) -> dict[str, Any]:
    """An AutoML node's keys as azure-ai-ml sends them: image search spaces as expressions, the defaults it adds
    (text tasks run on one node, a bandit policy's slack amount)."""
    out = dict(node)
    task = str(node.get("task"))
    if isinstance(node.get("search_space"), list):
        out["search_space"] = [{str(k): expression(v) for k, v in space.items()} if isinstance(space, Mapping) else space
                               for space in node["search_space"]]
    if task in TEXT_TASKS:
        out["limits"] = {**(node.get("limits") or {}), **({} if "max_nodes" in (node.get("limits") or {}) else {"max_nodes": 1})}
    sweep = node.get("sweep")
    if task in IMAGE_TASKS and isinstance(sweep, Mapping) and isinstance(sweep.get("early_termination"), Mapping):
        policy = dict(sweep["early_termination"])
        if str(policy.get("type")) == "bandit" and "slack_factor" in policy:
            policy.setdefault("slack_amount", 0.0)
        out["sweep"] = {**sweep, "early_termination": policy}
    return out
