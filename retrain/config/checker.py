"""What every block of the parameter file is checked with: problems collected against one YAML document.

Every problem is collected, not just the first: each names ``file:line:column`` (the document knows where every
key and value sits), the key path and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import Problem
from ..yamlfile import KeyPath, YamlDoc
from ..text import closest


def type_name(value: object) -> str:
    if value is None:
        return "nothing (null)"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


class Checker:
    """Collects problems against one YAML document."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.problems: list[Problem] = list(doc.duplicate_keys)
        self.warnings: list[Problem] = []  # what validate says but that does not stop the work

    def warn(self, path: KeyPath, message: str, hint: str = "") -> None:
        self.warnings.append(self.doc.problem(path, message, hint))

    def add(self, path: KeyPath, message: str, hint: str = "", *, at_key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, message, hint, at_key=at_key))

    def mapping(self, value: Any, path: KeyPath, what: str) -> dict[Any, Any] | None:
        if isinstance(value, dict):
            return value
        self.add(path, f"expected {what} (a mapping of keys to values), got {type_name(value)}.")
        return None

    def unknown_keys(self, mapping: Mapping[Any, Any], path: KeyPath, known: tuple[str, ...]) -> None:
        for key in mapping:
            if key in known:
                continue
            close = closest(str(key), known)
            hint = f"Did you mean '{close}'?" if close else f"Known keys here: {', '.join(known)}."
            self.add((*path, key), f"unknown key '{key}'.", hint, at_key=True)

    def string(self, value: Any, path: KeyPath, *, pattern: re.Pattern[str] | None = None, rule: str = "") -> str | None:
        if not isinstance(value, str) or not value:
            self.add(path, f"expected a non-empty string, got {type_name(value)}.")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.add(path, f"'{value}' is not a valid name.", rule)
            return None
        return value

    def boolean(self, value: Any, path: KeyPath) -> bool | None:
        if isinstance(value, bool):
            return value
        self.add(path, f"expected true or false, got {type_name(value)} {value!r}.")
        return None
