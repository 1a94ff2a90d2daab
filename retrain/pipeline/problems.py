"""What every part of the pipeline loader shares: the problems found so far, each at its ``file:line:column``,
the checks of keys and mappings they come from, and the repository boundary every path must stay inside."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..boundary import OUTSIDE_HINT, BadFileUri, describe_outside, file_uri_path, outside
from ..errors import Problem
from ..yamlfile import KeyPath, YamlDoc
from .model import Component
from .types import is_uri
from ..text import closest

FILES_HINT = "Move it into the repository: a pipeline's files are published from there (docs/limits.md)."


def display_path(path: Path, display_root: Path | None) -> str:
    base = (display_root or Path.cwd()).resolve()
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def nearest(word: str, known: tuple[str, ...] | list[str]) -> str:
    close = closest(word, known)
    return f"Did you mean '{close}'?" if close else f"Known keys here: {', '.join(k for k in known if k != '$schema')}."


class Problems:
    """The loader's shared state and the checks every part of it uses (each part is a class over this one:
    ports.py, components.py, graph.py, sweep.py, parallel.py, steps.py, and load.py's loader over them all)."""

    def __init__(self, display_root: Path | None, boundary: Path | None) -> None:
        self.display_root = display_root
        self.boundary = boundary  # the repository root every path must stay in; None = trusted (a stored snapshot)
        self.problems: list[Problem] = []
        self.components: dict[Path, Component | None] = {}  # component files loaded so far (components.py)
        self.root_file: Path | None = None

    def escapes(self, doc: YamlDoc, path: KeyPath, what: str, raw: str, target: Path) -> bool:
        """Report ``target`` if it leaves the repository; True when it does."""
        if self.boundary is None or (resolved := outside(target, self.boundary)) is None:
            return False
        hint = OUTSIDE_HINT if what.startswith("data") else FILES_HINT
        self.add(doc, path, f"the {what} {describe_outside(raw, resolved, self.boundary)}", hint)
        return True

    def data_path(self, doc: YamlDoc, path: KeyPath, raw: str) -> str | None:
        """A data path written in the pipeline: a URI as is, file:///x as /x, else absolute and inside."""
        if raw.lower().startswith("file:"):
            try:
                return str(file_uri_path(raw))
            except BadFileUri as e:
                self.add(doc, path, str(e))
                return None
        if is_uri(raw):
            return raw
        target = os.path.normpath(doc.path.parent / raw)
        return None if self.escapes(doc, path, "data path", raw, Path(target)) else target

    def add(self, doc: YamlDoc, path: KeyPath, message: str, hint: str = "", *, at_key: bool = False) -> None:
        self.problems.append(doc.problem(path, message, hint, at_key=at_key))

    def unknown_keys(self, doc: YamlDoc, mapping: Mapping[Any, Any], path: KeyPath, known: tuple[str, ...]) -> None:
        for key in mapping:
            if key not in known:
                self.add(doc, (*path, key), f"unknown key '{key}'.", nearest(str(key), known), at_key=True)

    def mapping(self, doc: YamlDoc, value: Any, path: KeyPath, what: str) -> dict[Any, Any] | None:
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.add(doc, path, f"{what} must be a mapping, not {type(value).__name__}.")
        return None
