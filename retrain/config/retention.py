"""The ``retention:`` block, at the top of the parameter file or in one pipeline's entry."""

from __future__ import annotations

from typing import Any

from .checker import Checker, type_name
from .records import Retention
from ..yamlfile import KeyPath


def read_retention(c: Checker, value: Any, path: KeyPath) -> Retention | None:
    """``retention: {keep: N}``: runs kept per pipeline, newest first, besides those versions need."""
    spec = c.mapping(value, path, "the retention settings")
    if spec is None:
        return None
    c.unknown_keys(spec, path, ("keep",))
    if "keep" not in spec:
        c.add(path, "retention has no 'keep'.", "Write retention: {keep: 10} to keep the newest 10 runs of each pipeline.")
        return None
    keep = spec["keep"]
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        c.add((*path, "keep"), f"expected a whole number of runs (0 or more), got {type_name(keep)} {keep!r}.",
              "Write e.g. keep: 10.")
        return None
    return Retention(keep=keep, location=c.doc.where(path))
