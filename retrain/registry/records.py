"""What the registry replicates, one entry per record kind, and its events: parsed, checked, merged by union.

A record kind names a table of the local store, its key, the columns that travel and how events of one
record merge (:data:`KINDS`). Adding a table to the registry is one more entry here; nothing else changes.

An event is one JSON line ``{"id", "kind", "key", "data", "writer", "at"}``. Events are only ever added;
two registries merge by the union of their events (by ``id``). Lines this version does not understand
(a damaged line, a kind written by a newer retrain) are named once and carried along unchanged, so a
merge never drops them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Kind:
    name: str  # the event's "kind"
    table: str
    key: tuple[str, ...]
    fields: tuple[str, ...]  # the columns that travel besides the key
    # immutable: the first event of a key is the record (versions and default moves are never edited);
    # latest: the newest event wins (an endpoint's default); owner: the newest event of the writer that
    # created the record wins (only the job that runs a run says how it went), and `shared` fields (a
    # verdict's tags) are merged from every writer, key by key.
    merge: str
    shared: tuple[str, ...] = ()
    json_fields: tuple[str, ...] = ()  # TEXT columns that hold a JSON object
    # The last key column is a number unique within the others (a version's): a local record that meets
    # a different one under the same key is renumbered, and these (table, column, scope column) follow.
    renumber_refs: tuple[tuple[str, str, str], ...] = ()


KINDS: tuple[Kind, ...] = (
    Kind("endpoint", "endpoints", ("name",), ("default_version", "created"), "latest"),
    Kind("version", "versions", ("endpoint", "number"),
         ("content_hash", "created", "source_commit", "snapshot", "parameters"), "immutable",
         json_fields=("parameters",),
         renumber_refs=(("endpoints", "default_version", "name"), ("runs", "version", "endpoint"),
                        ("default_moves", "to_version", "endpoint"), ("default_moves", "from_version", "endpoint"))),
    Kind("default_move", "default_moves", ("id",),
         ("endpoint", "from_version", "to_version", "kind", "actor", "at", "source_commit", "run_id", "verdict", "reason"),
         "immutable"),
    Kind("run", "runs", ("id",),
         ("key", "pipeline", "endpoint", "version", "experiment", "status", "parameters", "tags", "force", "created",
          "started", "ended", "message", "metrics"),
         "owner", shared=("tags",), json_fields=("parameters", "tags", "metrics")),
    # Steps travel without their reuse key: their outputs stay on the runner that made them.
    Kind("step", "steps", ("run_id", "name"), ("ord", "status", "started", "ended", "reused_from", "message", "metrics"),
         "owner", json_fields=("metrics",)),
)
BY_NAME = {k.name: k for k in KINDS}
FORMAT = 1
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._#:+-]{0,254}")
SNAPSHOT = re.compile(r"snapshots/[0-9a-f]{32}(/(?!\.\.?/)[^/\x00]+)*(?<!/\.\.)")


def digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Event:
    id: str
    kind: Kind
    key: tuple[Any, ...]
    data: dict[str, Any]
    writer: str
    at: str
    partial: bool = False  # only shared fields (another writer's verdict on a run)
    seq: int = 0  # the writer's own count: orders one writer's events even if its clock stepped back

    def line(self) -> str:
        body: dict[str, Any] = {"v": FORMAT, "id": self.id, "kind": self.kind.name, "key": list(self.key),
                                "data": self.data, "writer": self.writer, "at": self.at, "seq": self.seq}
        if self.partial:
            body["partial"] = True
        return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Record:
    kind: Kind
    key: tuple[Any, ...]
    data: dict[str, Any]
    owner: str

    @property
    def digest(self) -> str:
        return digest(self.data)


@dataclass
class Log:
    """The registry's events as read: the ones understood, and every line kept for the next write."""

    events: list[Event] = field(default_factory=list)
    lines: dict[str, str] = field(default_factory=dict)  # event id (or the line itself) -> line, in order
    problems: list[str] = field(default_factory=list)

    def add(self, event: Event) -> None:
        if event.id not in self.lines:
            self.lines[event.id] = event.line()
            self.events.append(event)

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines.values())


def parse(text: str, where: str) -> Log:
    """Every line of an events file; a line that cannot be read is named (``where``:line) and kept as it is."""
    log = Log()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = _event(json.loads(line))
        except ValueError as e:
            log.problems.append(f"{where}:{number}: {e}; the line is kept as it is and otherwise left out.")
            log.lines.setdefault(line, line)
            continue
        if event.id in log.lines:
            continue
        log.lines[event.id] = line
        log.events.append(event)
    return log


def _event(body: Any) -> Event:
    if not isinstance(body, dict):
        raise ValueError("an event is not a JSON object")
    kind = BY_NAME.get(body.get("kind"))  # type: ignore[arg-type]
    if kind is None:
        raise ValueError(f"an event of kind {str(body.get('kind'))[:40]!r}, which this retrain does not know "
                         f"(written by a newer retrain?)")
    for name in ("id", "writer", "at"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise ValueError(f"a {kind.name} event without {name!r}")
    key, data = body.get("key"), body.get("data")
    if not isinstance(key, list) or len(key) != len(kind.key) or not all(isinstance(k, (str, int)) for k in key):
        raise ValueError(f"a {kind.name} event whose key is not {list(kind.key)}")
    if kind.renumber_refs and (not isinstance(key[-1], int) or isinstance(key[-1], bool) or key[-1] < 1):
        raise ValueError(f"a {kind.name} event whose {kind.key[-1]} {key[-1]!r} is not a number from 1")
    # Keys name folders (a run's, a step's): nothing from the registry may reach outside the store.
    if any(isinstance(k, str) and not NAME.fullmatch(k) for k in key):
        raise ValueError(f"a {kind.name} event whose key {key!r} is not a plain name")
    if not isinstance(data, dict) or not set(data) <= set(kind.fields):
        unknown = sorted(set(data) - set(kind.fields)) if isinstance(data, dict) else []
        raise ValueError(f"a {kind.name} event whose data is not an object of its fields"
                         + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    for name in kind.json_fields:
        if name in data and not isinstance(data[name], dict):
            raise ValueError(f"a {kind.name} event whose {name} is not an object")
    snapshot = data.get("snapshot")
    if snapshot is not None and not SNAPSHOT.fullmatch(str(snapshot)):
        raise ValueError(f"a {kind.name} event whose snapshot {str(snapshot)[:80]!r} is not inside snapshots/")
    partial = bool(body.get("partial"))
    if not partial and set(data) != set(kind.fields):
        raise ValueError(f"a {kind.name} event without {', '.join(sorted(set(kind.fields) - set(data)))}")
    seq = body.get("seq", 0)
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ValueError(f"a {kind.name} event whose seq is not a number")
    return Event(body["id"], kind, tuple(key), data, body["writer"], body["at"], partial, seq)


def fold(events: list[Event]) -> tuple[dict[tuple[str, tuple[Any, ...]], Record], list[str]]:
    """The records the events make, by (kind, key), with the conflicts found (named, the first one kept)."""
    grouped: dict[tuple[str, tuple[Any, ...]], list[Event]] = {}
    for event in sorted(events, key=lambda e: (e.at, e.id)):
        grouped.setdefault((event.kind.name, event.key), []).append(event)
    records: dict[tuple[str, tuple[Any, ...]], Record] = {}
    problems: list[str] = []
    for (name, key), group in grouped.items():
        kind = BY_NAME[name]
        full = [e for e in group if not e.partial]
        if not full:
            continue  # only verdicts on a record the registry does not hold (yet)
        owner = full[0].writer
        if kind.merge == "immutable":
            data = full[0].data
            for other in full[1:]:
                if other.data != data:
                    problems.append(f"{kind.name} {'/'.join(map(str, key))} was recorded twice with different content "
                                    f"(by {full[0].writer} and {other.writer}); the first record is kept.")
                    break
        elif kind.merge == "latest":
            data = full[-1].data
        else:
            own = max((e for e in full if e.writer == owner), key=lambda e: e.seq)
            data = dict(own.data)
            for name_ in kind.shared:
                merged: dict[str, Any] = {}
                for e in group:
                    merged.update(e.data.get(name_) or {})
                data[name_] = merged
        records[(name, key)] = Record(kind, key, data, owner)
    return records, problems
