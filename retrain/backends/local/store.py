"""The local backend's store: endpoints, versions, runs and steps in SQLite (WAL), beside snapshots.

WAL lets the worker that executes a run write while other processes (``retrain status``, the
follower) read. Timestamps are ISO 8601 UTC strings; JSON columns hold parameters, tags and metrics.
"""

from __future__ import annotations

import json
import re
import sqlite3
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ...errors import BackendError
from .faults import StoreFull, is_disk_full

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY,
    default_version INTEGER,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    endpoint TEXT NOT NULL REFERENCES endpoints(name),
    number INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    created TEXT NOT NULL,
    source_commit TEXT,
    snapshot TEXT NOT NULL,          -- the pipeline file inside the store, relative to the store
    parameters TEXT NOT NULL,        -- JSON: name -> declared default
    PRIMARY KEY (endpoint, number)
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    pipeline TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    version INTEGER NOT NULL,
    experiment TEXT NOT NULL,
    status TEXT NOT NULL,
    parameters TEXT NOT NULL,
    tags TEXT NOT NULL,
    force INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    started TEXT,
    ended TEXT,
    message TEXT NOT NULL DEFAULT '',
    pid INTEGER,                     -- the worker executing the run (its process group too)
    pid_start TEXT,                  -- that process's start time, so a reused pid is not mistaken for it
    metrics TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    ord INTEGER NOT NULL,
    status TEXT NOT NULL,
    started TEXT,
    ended TEXT,
    reused_from TEXT,
    message TEXT NOT NULL DEFAULT '',
    metrics TEXT NOT NULL DEFAULT '{}',
    reuse_key TEXT,
    PRIMARY KEY (run_id, name)
);
CREATE INDEX IF NOT EXISTS steps_reuse ON steps(reuse_key, status);
CREATE TABLE IF NOT EXISTS default_moves (
    id TEXT PRIMARY KEY,             -- a uuid4 hex
    endpoint TEXT NOT NULL,
    from_version INTEGER,            -- the default before the move (NULL: none)
    to_version INTEGER NOT NULL,
    kind TEXT NOT NULL,              -- publish, gate, promote, force, rollback
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    source_commit TEXT,
    run_id TEXT,
    verdict TEXT,
    reason TEXT NOT NULL DEFAULT ''
);
"""

SCHEMA_NAMES = frozenset(re.findall(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)", SCHEMA))


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def run_dir(store_dir: Path, run_id: str) -> Path:
    """A run's folder in the store: its worker.log, its steps' folders, its outputs."""
    return store_dir / "runs" / run_id


class Store:
    """One SQLite database; short transactions, so many processes can share it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.db_path = folder / "retrain.db"
        # isolation_level=None: we open transactions ourselves (BEGIN IMMEDIATE takes the write lock up
        # front, so two writers queue instead of failing halfway).
        self.conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
        # Closed when the store is dropped, or at the latest when the process exits (atexit), never left to the
        # garbage collector: the sqlite3 module keeps a connection in a reference cycle with its statement cache,
        # and closing it is what copies the write-ahead log into the database (a later command on a full disk
        # depends on it). The command line's quick exit runs atexit handlers but collects no garbage.
        self._closer = weakref.finalize(self, self.conn.close)
        self.conn.row_factory = sqlite3.Row
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            # After a checkpoint the write-ahead log shrinks back to this, rather than keeping its peak size.
            self.conn.execute("PRAGMA journal_size_limit=1048576")
            self.conn.execute("PRAGMA foreign_keys=ON")
            if not self._has_schema():
                self.conn.executescript(SCHEMA)  # every statement is IF NOT EXISTS: safe when processes race
                self.conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as e:
            self.close()
            if is_disk_full(e, folder):  # not damaged: full
                raise StoreFull(folder) from None
            raise BackendError(
                f"the local store {self.db_path} cannot be opened ({e}). If it is damaged, move the folder "
                f"{folder} aside; retrain starts a new store (its versions and runs stay in the old folder)."
            ) from None

    def _has_schema(self) -> bool:
        """Whether every table and index of :data:`SCHEMA` and the schema's version are there (one read).

        Opening a store that has them only reads: the schema script's INSERT takes the write lock, and a
        submit opens the store three times in a few milliseconds (the submitter, its forked worker, the
        submitter again after the fork), so each open queued behind the others' writes, in SQLite's busy
        handler's sleeps. A store that lacks any of them (a new one, an older one) gets the script."""
        try:
            names = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
            version = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() if "meta" in names else None
        except sqlite3.OperationalError:
            return False
        # Another version's store takes the slow path, where a later version's migrations will run.
        return SCHEMA_NAMES <= names and version is not None and version[0] == str(SCHEMA_VERSION)

    def close(self) -> None:
        self._closer()  # the connection's close, once

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One read transaction: the queries inside see the same state of the store, whoever writes meanwhile."""
        self.conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")  # the body's error is the one to see, not a failed COMMIT's
            raise
        else:
            self.conn.execute("COMMIT")

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        return self.conn.execute(sql, args).fetchone()

    def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self.conn.execute(sql, args).fetchall()


def paths_to_store(values: dict[str, Any], base: Path) -> dict[str, Any]:
    """Values as the store records them: a path inside ``base`` (the folder holding the store, i.e. the
    repository's) as ``{"repo_path": relative}``, so a store restored under another path (a cache on a
    hosted runner, the image's /github/workspace) still finds the data. Values are literals, never objects,
    so the marker cannot be mistaken for one."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, (str, Path)) and Path(value).is_absolute():
            try:
                value = {"repo_path": Path(value).relative_to(base).as_posix()}
            except ValueError:
                pass
        out[name] = value
    return out


def paths_from_store(values: dict[str, Any], base: Path) -> dict[str, Any]:
    return {n: str(base / v["repo_path"]) if isinstance(v, dict) and "repo_path" in v else v for n, v in values.items()}


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
