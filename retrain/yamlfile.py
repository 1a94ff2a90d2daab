"""Load YAML keeping where every key and value came from.

Validation messages must point at ``file:line:column``, so we compose the node tree ourselves and
record a :class:`Location` for each value (and each mapping key) by its key path. The data itself is
plain Python (dict, list, str, int, float, bool, None), built with PyYAML's safe constructors.
Duplicate keys, which PyYAML silently lets the last one win, are reported as problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import InvalidFile, Location, Problem

KeyPath = tuple[str | int, ...]

# The C loader is several times faster; the pure one behaves the same.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML file and the location of everything in it."""

    path: Path
    display: str  # the path as the user should see it in messages
    data: Any
    value_locations: dict[KeyPath, Location] = field(repr=False)
    key_locations: dict[KeyPath, Location] = field(repr=False)
    duplicate_keys: tuple[Problem, ...] = ()

    def where(self, path: KeyPath) -> Location:
        """Location of the value at ``path``, or of its nearest ancestor that exists."""
        p = tuple(path)
        while p:
            if p in self.value_locations:
                return self.value_locations[p]
            p = p[:-1]
        return self.value_locations.get((), Location(self.display, 1, 1))

    def where_key(self, path: KeyPath) -> Location:
        """Location of the mapping key that ends ``path`` (for unknown or misplaced keys)."""
        return self.key_locations.get(tuple(path)) or self.where(path)

    def problem(self, path: KeyPath, message: str, hint: str = "", *, at_key: bool = False) -> Problem:
        loc = self.where_key(path) if at_key else self.where(path)
        return Problem(message=message, location=loc, key_path=tuple(path), hint=hint)


def _loc(display: str, mark: yaml.Mark) -> Location:
    return Location(display, mark.line + 1, mark.column + 1)


def parse_yaml(text: str, *, path: Path, display: str | None = None) -> YamlDoc:
    """Parse ``text``; raise :class:`InvalidFile` with the parser's location on a syntax error."""
    shown = display if display is not None else str(path)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = _loc(shown, mark) if mark else Location(shown, 1, 1)
        what = (e.problem or e.context or "not valid YAML").strip()
        raise InvalidFile(
            [Problem(f"YAML syntax error: {what}.", loc, hint="Fix the indentation or quoting there.")],
            what=f"file {shown}",
        ) from None
    finally:
        loader.dispose()

    values: dict[KeyPath, Location] = {}
    keys: dict[KeyPath, Location] = {}
    dups: list[Problem] = []

    def build(node: yaml.Node, kp: KeyPath) -> Any:
        values[kp] = _loc(shown, node.start_mark)
        if isinstance(node, yaml.MappingNode):
            loader.flatten_mapping(node)  # resolves "<<" merge keys
            out: dict[Any, Any] = {}
            for knode, vnode in node.value:
                key = loader.construct_object(knode, deep=True)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    key = str(key)
                child = (*kp, key)
                if key in out:
                    dups.append(
                        Problem(
                            f"the key {key!r} appears twice; the second one would silently win.",
                            _loc(shown, knode.start_mark),
                            child,
                            "Remove one of them.",
                        )
                    )
                keys[child] = _loc(shown, knode.start_mark)
                out[key] = build(vnode, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*kp, i)) for i, item in enumerate(node.value)]
        return loader.construct_object(node, deep=True)

    data = build(root, ()) if root is not None else None
    return YamlDoc(path, shown, data, values, keys, tuple(dups))


def load_yaml(path: Path, *, display: str | None = None) -> YamlDoc:
    """Read and parse a YAML file; a missing or unreadable file is an :class:`InvalidFile`."""
    shown = display if display is not None else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidFile(
            [Problem(f"{shown} does not exist.", hint="Check the path, or pass the file with -f PATH.")],
            what="input",
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidFile([Problem(f"{shown} cannot be read: {e}.")], what="input") from None
    return parse_yaml(text, path=path, display=shown)
