"""Load YAML keeping where every key and value came from, within limits.

Validation messages must point at ``file:line:column``, so we compose the node tree ourselves and
record a :class:`Location` for each value (and each mapping key) by its key path. The data itself is
plain Python (dict, list, str, int, float, bool, None), built with PyYAML's safe constructors.
Duplicate keys, which PyYAML silently lets the last one win, are reported as problems.

Both files retrain reads are written by people, so anything hostile or absurd is refused with a
``file:line`` problem before it can cost time or memory (docs/limits.md states the numbers):

- a file larger than :data:`MAX_BYTES` is not read at all;
- a first pass over the parser's events (libyaml's parser is iterative, so it cannot overflow a stack)
  counts what the document *expands to*: nesting deeper than :data:`MAX_DEPTH`, or more than
  :data:`MAX_NODES` keys and values once aliases are expanded (an "alias bomb" of a few hundred bytes
  expands to billions), or an alias that refers to itself, stop there in linear time;
- tags other than YAML's plain ones (``!vault x``, ``!!python/object``), NUL characters, integers beyond
  64 bits and values the constructors reject (``2001-13-45``) are problems at their line, not crashes.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidFile, Location, Problem

if TYPE_CHECKING:
    import yaml

KeyPath = tuple[str | int, ...]


def _loader() -> type[yaml.SafeLoader]:
    """PyYAML's safe loader, imported when a file is parsed (a remembered file is not: see :func:`use_cache`).
    The C loader is several times faster; the pure one behaves the same."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # type: ignore[no-any-return]

# Limits (docs/limits.md). A real parameter file or pipeline is a few kB, a few hundred keys, and
# nested fewer than ten levels; these leave room by orders of magnitude and still answer in well
# under a second.
MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what Azure ML, SQLite and JSON consumers all hold exactly

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_MERGE = _TAG + "merge"


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


def _refuse(shown: str, message: str, hint: str, loc: Location | None = None) -> InvalidFile:
    return InvalidFile([Problem(message, loc or Location(shown, 1, 1), hint=hint)], what=f"file {shown}")


def _line_of(text: str, position: int) -> Location:
    line = text.count("\n", 0, position) + 1
    return Location("", line, position - (text.rfind("\n", 0, position) + 1) + 1)


def _syntax_error(e: yaml.YAMLError, text: str, shown: str) -> InvalidFile:
    import yaml

    if isinstance(e, yaml.reader.ReaderError):
        # The reader reports a character position, not a line (NUL bytes, control characters).
        at = _line_of(text, e.position)
        char = f"U+{e.character:04X}" if isinstance(e.character, int) else repr(e.character)
        return _refuse(shown, f"the file contains the control character {char}, which YAML does not allow.",
                       "Remove it; write it as an escape inside double quotes if a value really needs it.",
                       Location(shown, at.line, at.column))
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        what = (e.problem or e.context or "not valid YAML").strip()
        if e.context and "duplicate anchor" in e.context:
            what = "the same anchor (&name) is defined twice"
        return _refuse(shown, f"YAML syntax error: {what}.", "Fix the indentation or quoting there.",
                       _loc(shown, mark) if mark else None)
    return _refuse(shown, f"YAML syntax error: {e}.", "Fix the file there.")


def _check_shape(text: str, shown: str) -> None:
    """Walk the parser's events once and refuse what would be too deep or too large to build."""
    import yaml

    loader = _loader()(text)
    # One frame per open collection: [anchor, expanded size so far, deepest child so far, start].
    # A scalar has depth 0, a collection one more than its deepest child.
    stack: list[list[Any]] = []
    size_of: dict[str, int] = {}
    depth_of: dict[str, int] = {}
    raw = 0

    def close(size: int, depth: int, anchor: str | None, mark: yaml.Mark, alias: bool) -> None:
        if anchor is not None and not alias:
            size_of[anchor], depth_of[anchor] = size, depth
        if not stack:
            return
        parent = stack[-1]
        parent[1] += size
        parent[2] = max(parent[2], depth)
        if alias and len(stack) + depth > MAX_DEPTH:
            raise _refuse(shown, f"the file nests deeper than {MAX_DEPTH} levels (the limit) once the alias *{anchor} is expanded.",
                          "Flatten it; no parameter file or pipeline needs that depth.", _loc(shown, mark))
        if alias and sum(frame[1] for frame in stack) > MAX_NODES:
            raise _refuse(shown, f"the aliases in the file expand to more than {MAX_NODES} keys and values "
                          f"(the limit on alias expansion), here at *{anchor}.",
                          "Write the values out, or use fewer nested aliases.", _loc(shown, mark))

    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                raw += 1
                if len(stack) >= MAX_DEPTH:
                    raise _refuse(shown, f"the file nests deeper than {MAX_DEPTH} levels (the limit).",
                                  "Flatten it; no parameter file or pipeline needs that depth.", _loc(shown, event.start_mark))
                stack.append([event.anchor, 1, 0, event.start_mark])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                anchor, size, depth, mark = stack.pop()
                close(size, depth + 1, anchor, mark, alias=False)
            elif isinstance(event, yaml.ScalarEvent):
                raw += 1
                close(1, 0, event.anchor, event.start_mark, alias=False)
            elif isinstance(event, yaml.AliasEvent):
                name = event.anchor
                if any(frame[0] == name for frame in stack):
                    raise _refuse(shown, f"the alias *{name} refers to a collection that contains it, which never ends.",
                                  "Remove the alias there.", _loc(shown, event.start_mark))
                close(size_of.get(name, 1), depth_of.get(name, 0), name, event.start_mark, alias=True)
            if raw > MAX_NODES:
                raise _refuse(shown, f"the file has more than {MAX_NODES} keys and values (the limit).",
                              "Split it; a parameter file or pipeline is normally a few hundred keys.",
                              _loc(shown, event.start_mark))
    finally:
        loader.dispose()


def parse_yaml(text: str, *, path: Path, display: str | None = None) -> YamlDoc:
    """Parse ``text``; raise :class:`InvalidFile` with the parser's location on a syntax error or limit."""
    shown = display if display is not None else str(path)
    if len(text) > MAX_BYTES:
        raise _refuse(shown, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB (the limit).",
                      "A parameter file or pipeline is a few kB; keep data in data files, not in YAML.")
    import yaml

    try:
        _check_shape(text, shown)
        loader = _loader()(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        raise _syntax_error(e, text, shown) from None

    values: dict[KeyPath, Location] = {}
    keys: dict[KeyPath, Location] = {}
    dups: list[Problem] = []
    bad: list[Problem] = []

    def scalar(node: yaml.Node, kp: KeyPath) -> Any:
        where = _loc(shown, node.start_mark)
        if node.tag not in _SCALAR_TAGS:
            bad.append(Problem(f"the YAML tag {node.tag.replace(_TAG, '!!')} is not supported.", where, kp,
                               "retrain reads plain YAML values; remove the tag (secrets belong in repository secrets, not here)."))
            return None
        digits = node.value.lstrip("+-").replace("_", "")
        if node.tag == _TAG + "int" and len(digits) > 19 and digits.isdigit():
            # Checked before Python converts it: 5,000 digits would hit its own limit, a million take seconds.
            bad.append(Problem(f"the integer ({len(digits)} digits) is beyond 64 bits, the limit for numbers.", where, kp,
                               "Quote it if you mean text."))
            return None
        try:
            value = loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as e:
            # Integers past Python's digit limit, impossible dates, bad base64, ...
            reason = str(e).split(";")[0].strip()
            bad.append(Problem(f"the value cannot be read: {reason}.", where, kp, "Quote it to make it text."))
            return None
        if isinstance(value, int) and not isinstance(value, bool) and not INT_MIN <= value <= INT_MAX:
            bad.append(Problem(f"the integer {value} is beyond 64 bits, the limit for numbers.", where, kp,
                               "Quote it if you mean text."))
            return None
        if isinstance(value, str) and "\x00" in value:
            bad.append(Problem("the value contains a NUL character.", where, kp, "Remove it; no command line can carry it."))
            return None
        return value

    def pairs(node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node, bool]]:
        """A mapping's own pairs, then those ``<<`` merges in (earlier sources win, own keys win)."""
        merges: list[yaml.Node] = []
        for knode, vnode in node.value:
            if knode.tag == _MERGE:
                merges += vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
            else:
                yield knode, vnode, False
        for source in merges:
            if not isinstance(source, yaml.MappingNode):
                bad.append(Problem("a << merge key needs a mapping or a list of mappings.", _loc(shown, source.start_mark)))
                continue
            for knode, vnode, _ in pairs(source):
                yield knode, vnode, True

    def build(node: yaml.Node, kp: KeyPath) -> Any:
        values[kp] = _loc(shown, node.start_mark)
        if isinstance(node, yaml.MappingNode):
            if node.tag != _TAG + "map":
                bad.append(Problem(f"the YAML tag {node.tag.replace(_TAG, '!!')} is not supported.", values[kp], kp,
                                   "retrain reads plain YAML mappings; remove the tag."))
            out: dict[Any, Any] = {}
            for knode, vnode, merged in pairs(node):
                key = build_key(knode, kp)
                child = (*kp, key)
                if key in out:
                    if merged:
                        continue  # a merged-in key never overrides one written out, as YAML defines
                    dups.append(Problem(f"the key {key!r} appears twice; the second one would silently win.",
                                        _loc(shown, knode.start_mark), child, "Remove one of them."))
                keys[child] = _loc(shown, knode.start_mark)
                out[key] = build(vnode, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _TAG + "seq":
                bad.append(Problem(f"the YAML tag {node.tag.replace(_TAG, '!!')} is not supported.", values[kp], kp,
                                   "retrain reads plain YAML lists; remove the tag."))
            return [build(item, (*kp, i)) for i, item in enumerate(node.value)]
        return scalar(node, kp)

    def build_key(knode: yaml.Node, kp: KeyPath) -> Any:
        if isinstance(knode, yaml.ScalarNode):
            key = scalar(knode, kp)
        else:  # a list or mapping as a key: never a valid key here, but shown as text in the message
            try:
                key = loader.construct_object(knode, deep=True)
            except (yaml.YAMLError, ValueError, OverflowError, TypeError):
                key = "?"
        if not isinstance(key, (str, int, float, bool)) or key is None:
            key = str(key)
        return key

    data = build(root, ()) if root is not None else None
    if bad:
        raise InvalidFile([*bad, *dups], what=f"file {shown}")
    return YamlDoc(path, shown, data, values, keys, tuple(dups))


def load_yaml(path: Path, *, display: str | None = None) -> YamlDoc:
    """Read and parse a YAML file; a missing, unreadable or oversized file is an :class:`InvalidFile`."""
    shown = display if display is not None else str(path)
    try:
        if path.exists() and not path.is_file():
            what = "a folder" if path.is_dir() else "not a regular file"
            raise InvalidFile([Problem(f"{shown} is {what}.", hint="Give the path of a YAML file.")], what="input")
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)  # never more: a 20 MB file is refused, not parsed
    except FileNotFoundError:
        raise InvalidFile(
            [Problem(f"{shown} does not exist.", hint="Check the path, or pass the file with -f PATH.")],
            what="input",
        ) from None
    except OSError as e:
        raise InvalidFile([Problem(f"{shown} cannot be read: {e.strerror or e}.")], what="input") from None
    if len(data) > MAX_BYTES:
        raise _refuse(shown, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB (the limit).",
                      "A parameter file or pipeline is a few kB; keep data in data files, not in YAML.")
    key = REMEMBERED.key(data, _FORMAT)
    remembered = _recall_doc(key, path, shown)
    if remembered is not None:
        return remembered
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        at = _line_of(data.decode("utf-8", errors="replace"), e.start)
        raise _refuse(shown, f"the file is not UTF-8 text (byte 0x{data[e.start]:02x}).", "Save it as UTF-8.",
                      Location(shown, at.line, at.column)) from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark, as some editors on Windows write
    doc = parse_yaml(text, path=path, display=shown)
    _remember_doc(key, doc)
    return doc


# Bump when what parse_yaml makes of a text changes: entries of another format are never read.
_FORMAT = b"retrain-yaml-1"
# Entries kept (each a few kB): a project's files and their recent versions. Past it, the oldest half goes.
PARSED_LIMIT = 1_000


class Remembered:
    """What a file's bytes make (a parsed document, a workflow's dispatch form), remembered by those bytes, as Python
    remembers a module's bytecode by its source: the same bytes make the same thing, so what is recalled is never
    stale, and a command that reads only remembered files does not import PyYAML at all (about 12 ms of every
    command's start-up, a third of it one regular expression PyYAML compiles at import for its pure-Python reader).
    One marshal file per content and kind in the folder the entry point names (``~/.cache/retrain/yaml/``); a value
    marshal cannot hold (a YAML timestamp) is made every time. Like bytecode, an entry is trusted as the user's own
    file: the folder is in their home."""

    def __init__(self) -> None:
        self.folder: Path | None = None

    def key(self, data: bytes, kind: bytes) -> str | None:
        """The entry of ``data`` made into ``kind`` (a format tag: bump it when what is made of a text changes)."""
        if self.folder is None:
            return None
        version = f"{sys.version_info[0]}.{sys.version_info[1]}".encode()  # marshal's format is the interpreter's
        return hashlib.blake2b(data, digest_size=20, person=kind[:16], salt=version[:16]).hexdigest()

    def recall(self, key: str | None) -> Any:
        """The value remembered under ``key``; None when there is none (or not one of ours)."""
        if key is None or self.folder is None:
            return None
        try:
            return marshal.loads((self.folder / key).read_bytes())
        except (OSError, ValueError, EOFError, TypeError):  # none yet, or not one of ours: make it again
            return None

    def remember(self, key: str | None, value: Any) -> None:
        if key is None or self.folder is None:
            return
        try:
            blob = marshal.dumps(value)
        except ValueError:  # a value marshal cannot hold (a date): made every time
            return
        if write_whole(self.folder / key, blob):
            try:
                _prune(self.folder)  # only after a new entry: a recall costs nothing more
            except OSError:
                pass


def write_whole(target: Path, data: bytes) -> bool:
    """Write a file of retrain's cache whole or not at all (a reader never sees half of it, whoever else writes the
    same file meanwhile), making its folder; False when it cannot be written (a read-only or full disk, a file where
    the folder should be): a cache is only a cache. Not tempfile's: it loads shutil and random with it, and a
    command writes here before its run's first step starts."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return True
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        return False


def _recall_doc(key: str | None, path: Path, shown: str) -> YamlDoc | None:
    try:
        data, values, keys = REMEMBERED.recall(key)
        return YamlDoc(path, shown, data, {kp: Location(shown, line, column) for kp, line, column in values},
                       {kp: Location(shown, line, column) for kp, line, column in keys})
    except (ValueError, TypeError):  # none (None does not unpack), or not a document's shape
        return None


def _remember_doc(key: str | None, doc: YamlDoc) -> None:
    if doc.duplicate_keys:  # a duplicate key is reported every time
        return
    REMEMBERED.remember(key, (doc.data, [(kp, at.line, at.column) for kp, at in doc.value_locations.items()],
                              [(kp, at.line, at.column) for kp, at in doc.key_locations.items()]))


def _prune(folder: Path) -> None:
    """Past :data:`PARSED_LIMIT` entries, remove the oldest half (by when each was written)."""
    names = os.listdir(folder)
    if len(names) <= PARSED_LIMIT:
        return
    dated = sorted((os.stat(folder / name).st_mtime_ns, name) for name in names)
    for _, name in dated[: len(dated) - PARSED_LIMIT // 2]:
        (folder / name).unlink(missing_ok=True)


REMEMBERED = Remembered()


def use_cache(folder: Path | None) -> None:
    """Remember parsed files across processes in ``folder`` (the entry point chooses it; None: parse every time)."""
    REMEMBERED.folder = folder
