"""The local store as a replica of the registry: its new records become events, the registry's records come in.

The store remembers, per record, what the registry last held (``registry_state``: its digest and which
writer owns it), so a pull writes only records that changed there and a push sends only records that
changed here. Each store is one writer (an id kept in the store's ``meta`` table): on a hosted runner,
one job.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..backends.local.store import Store, utcnow
from .records import KINDS, Event, Kind, Record, digest

STATE = """
CREATE TABLE IF NOT EXISTS registry_state (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,               -- the record's key, as a JSON list
    digest TEXT NOT NULL,            -- of the record as the registry last held it
    shared_digest TEXT NOT NULL,     -- of its shared fields alone
    owner TEXT NOT NULL,             -- the writer that created it
    PRIMARY KEY (kind, key)
);
"""


@dataclass(frozen=True)
class State:
    digest: str
    shared_digest: str
    owner: str


def _key_text(key: tuple[Any, ...]) -> str:
    return json.dumps(list(key))


def _shared(kind: Kind, data: dict[str, Any]) -> dict[str, Any]:
    return {n: data.get(n) for n in kind.shared}


class Replica:
    def __init__(self, store: Store | Callable[[], Store]) -> None:
        # The local backend opens its store again after forking a worker: always ask it for the current one.
        self._store_of: Callable[[], Store] = store if callable(store) else (lambda: store)  # type: ignore[assignment]
        store = self.store
        store.conn.executescript(STATE)
        with store.write() as db:
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('registry_writer', ?)", (uuid.uuid4().hex[:12],))
        self.writer = str(store.one("SELECT value FROM meta WHERE key = 'registry_writer'")[0])  # type: ignore[index]
        self.problems: list[str] = []

    @property
    def store(self) -> Store:
        return self._store_of()

    # -- reading the store ---------------------------------------------------------------------------

    def rows(self, kind: Kind) -> dict[tuple[Any, ...], dict[str, Any]]:
        """The table's records as events carry them (JSON columns parsed); a damaged row is named and left out."""
        columns = ", ".join((*kind.key, *kind.fields))
        out: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in self.store.all(f"SELECT {columns} FROM {kind.table}"):
            key = tuple(row[c] for c in kind.key)
            data = {c: row[c] for c in kind.fields}
            try:
                for name in kind.json_fields:
                    value = json.loads(data[name]) if data[name] is not None else {}
                    if not isinstance(value, dict):
                        raise ValueError(f"its {name} is not a JSON object")
                    data[name] = value
            except ValueError as e:
                self.problems.append(f"the {kind.name} {'/'.join(map(str, key))} in the local store is damaged ({e}); "
                                     f"it is not sent to the registry.")
                continue
            out[key] = data
        return out

    def states(self, kind: Kind) -> dict[tuple[Any, ...], State]:
        return {tuple(json.loads(r["key"])): State(r["digest"], r["shared_digest"], r["owner"])
                for r in self.store.all("SELECT key, digest, shared_digest, owner FROM registry_state WHERE kind = ?", kind.name)}

    # -- local changes as events -----------------------------------------------------------------------

    def changes(self) -> list[Event]:
        """Events for what changed here since the registry last held it: new records and changes in full,
        except a record another writer owns (a run), whose shared fields alone travel (a verdict on it)."""
        self.problems = []
        events: list[Event] = []
        at = utcnow()
        with self.store.write() as db:  # this writer's count, kept in the store: its events stay in order
            db.execute("INSERT INTO meta(key, value) VALUES ('registry_seq', '1') "
                       "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
            seq = int(db.execute("SELECT value FROM meta WHERE key = 'registry_seq'").fetchone()[0])
        for kind in KINDS:
            states = self.states(kind)
            for key, data in self.rows(kind).items():
                state = states.get(key)
                changed = state is not None and digest(data) != state.digest
                # An immutable record the registry holds is never sent again (the registry's copy stands).
                mutable = kind.merge == "latest" or (kind.merge == "owner" and state is not None and state.owner == self.writer)
                if state is None or (changed and mutable):
                    events.append(Event(uuid.uuid4().hex, kind, key, data, self.writer, at, seq=seq))
                elif state.owner != self.writer and kind.shared and digest(_shared(kind, data)) != state.shared_digest:
                    events.append(Event(uuid.uuid4().hex, kind, key, _shared(kind, data), self.writer, at, partial=True, seq=seq))
        return events

    def mark_sent(self, events: list[Event]) -> None:
        with self.store.write() as db:
            for e in events:
                key = _key_text(e.key)
                if e.partial:
                    db.execute("UPDATE registry_state SET shared_digest = ? WHERE kind = ? AND key = ?",
                               (digest(e.data), e.kind.name, key))
                    continue
                db.execute(
                    "INSERT INTO registry_state(kind, key, digest, shared_digest, owner) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(kind, key) DO UPDATE SET digest = excluded.digest, shared_digest = excluded.shared_digest",
                    (e.kind.name, key, digest(e.data), digest(_shared(e.kind, e.data)), self.writer))

    # -- the registry's records into the store ------------------------------------------------------------

    def apply(self, records: dict[tuple[str, tuple[Any, ...]], Record]) -> int:
        """Bring the registry's records into the store (after renumbering local versions that collide with
        them); return how many records were written."""
        self.renumber(records)
        written = 0
        for kind in KINDS:
            rows = self.rows(kind)
            states = self.states(kind)
            with self.store.write() as db:
                for (name, key), record in records.items():
                    if name != kind.name:
                        continue
                    state = states.get(key)
                    if state is not None and state.digest == record.digest:
                        continue  # nothing new there since
                    local = rows.get(key)
                    dirty = local is not None and (state is None or digest(local) != state.digest)
                    data = self._merged(kind, record, local, state, dirty)
                    if data is not None:
                        try:
                            self._upsert(db, kind, key, data, insert=local is None)
                        except sqlite3.IntegrityError as e:
                            self.problems.append(f"the registry's {kind.name} {'/'.join(map(str, key))} was not taken into "
                                                 f"the local store: {e}.")
                            continue
                        written += 1
                    owner = state.owner if state is not None else record.owner
                    db.execute(
                        "INSERT INTO registry_state(kind, key, digest, shared_digest, owner) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT(kind, key) DO UPDATE SET digest = excluded.digest, shared_digest = excluded.shared_digest",
                        (kind.name, _key_text(key), record.digest, digest(_shared(kind, record.data)), owner))
        return written

    def _merged(self, kind: Kind, record: Record, local: dict[str, Any] | None, state: State | None,
                dirty: bool) -> dict[str, Any] | None:
        """The record as the store should hold it, or None to leave the local row as it is."""
        if local is None:
            return record.data
        if kind.merge == "immutable":
            # Ours, unsent, under the same key (renumbering made the content the same): the registry's copy stands.
            return record.data if state is None else None
        if kind.merge == "latest":
            return None if dirty else record.data  # a local change not yet sent is newer: it is sent next
        mine = (state.owner if state is not None else self.writer) == self.writer
        data = dict(local) if mine else dict(record.data)
        for name in kind.shared:  # verdicts from every writer
            data[name] = {**(local.get(name) or {}), **(record.data.get(name) or {})}
        return data

    @staticmethod
    def _upsert(db: sqlite3.Connection, kind: Kind, key: tuple[Any, ...], data: dict[str, Any], *, insert: bool) -> None:
        values = {**dict(zip(kind.key, key)),
                  **{n: (json.dumps(v, sort_keys=True) if n in kind.json_fields else v) for n, v in data.items()}}
        if insert:
            names = ", ".join(values)
            db.execute(f"INSERT INTO {kind.table}({names}) VALUES ({', '.join('?' for _ in values)})", tuple(values.values()))
        else:
            sets = ", ".join(f"{n} = ?" for n in data)
            where = " AND ".join(f"{n} = ?" for n in kind.key)
            db.execute(f"UPDATE {kind.table} SET {sets} WHERE {where}",
                       (*(values[n] for n in data), *key))

    # -- unique numbers -------------------------------------------------------------------------------

    def renumber(self, records: dict[tuple[str, tuple[Any, ...]], Record]) -> list[str]:
        """Local numbered records the registry has not taken yet that meet another record under their number
        move to the next free number (or onto the registry's number for the same content), with every
        reference to them. Returns what moved, as sentences."""
        moved: list[str] = []
        for kind in (k for k in KINDS if k.renumber_refs):
            states = self.states(kind)
            remote: dict[tuple[Any, ...], dict[Any, Record]] = {}
            for (name, key), record in records.items():
                if name == kind.name:
                    remote.setdefault(key[:-1], {})[key[-1]] = record
            for key, data in sorted(self.rows(kind).items(), key=lambda kv: (list(map(str, kv[0][:-1])), kv[0][-1])):
                if key in states:
                    continue  # the registry holds it already: its number is its own
                theirs = remote.get(key[:-1], {})
                same = next((n for n, r in theirs.items() if r.data.get("content_hash") == data.get("content_hash")), None)
                clash = theirs.get(key[-1])
                if same is not None:
                    target = same
                elif clash is not None and clash.digest != digest(data):
                    local_numbers = [k[-1] for k in self.rows(kind) if k[:-1] == key[:-1]]
                    target = max([*theirs, *local_numbers]) + 1
                else:
                    continue
                if target == key[-1]:
                    continue
                self._move(kind, key, target, drop=same is not None)
                label = "/".join(map(str, key[:-1]))
                moved.append(f"{kind.name} {key[-1]} of {label} is {target}: another job "
                             + ("published the same content as it first." if same is not None else f"took number {key[-1]} first."))
        self.problems.extend(moved)
        return moved

    def _move(self, kind: Kind, key: tuple[Any, ...], target: Any, *, drop: bool) -> None:
        scope_cols, number_col = kind.key[:-1], kind.key[-1]
        where = " AND ".join(f"{c} = ?" for c in scope_cols)
        with self.store.write() as db:
            if drop:  # the registry's record with the same content takes its place
                db.execute(f"DELETE FROM {kind.table} WHERE {where} AND {number_col} = ?", (*key[:-1], key[-1]))
            else:
                db.execute(f"UPDATE {kind.table} SET {number_col} = ? WHERE {where} AND {number_col} = ?",
                           (target, *key[:-1], key[-1]))
            for table, column, scope in kind.renumber_refs:
                db.execute(f"UPDATE {table} SET {column} = ? WHERE {scope} = ? AND {column} = ?", (target, key[-2], key[-1]))
