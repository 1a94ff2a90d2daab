"""Endpoints and their versions in the local store: publishing a pipeline (its snapshot and the version's
record), reading endpoints back, and moving an endpoint's default, each move recorded once."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import timezone
from pathlib import Path

from ...errors import BackendError, NotFound
from ...pipeline.model import Pipeline
from ..base import DefaultMove, Endpoint, PublishResult, Version
from .snapshot import save_snapshot
from .store import Store, dumps, parse_time, paths_from_store, paths_to_store, utcnow


class Versions:
    """LocalBackend's endpoints and versions (a mixin: it uses the backend's store)."""

    store: Store
    store_dir: Path

    def publish(self, pipeline: Pipeline, *, endpoint: str, make_default: bool, source_commit: str | None) -> PublishResult:
        snapshot = save_snapshot(self.store_dir, pipeline)
        defaults = {n: p.default for n, p in pipeline.parameters.items()}
        try:
            return self._record_version(pipeline, endpoint, make_default, source_commit, snapshot, defaults)
        except sqlite3.OperationalError as e:
            if "full" not in str(e):
                raise
            # The transaction rolled back: no version was recorded (the snapshot is whole and unused).
            raise BackendError(f"the local store {self.store_dir} is out of disk space: nothing was published. "
                               f"Free space (retrain gc removes runs beyond retention), then publish again.") from None

    def _record_version(self, pipeline: Pipeline, endpoint: str, make_default: bool, source_commit: str | None,
                        snapshot: Path, defaults: dict[str, object]) -> PublishResult:
        with self.store.write() as db:
            db.execute("INSERT OR IGNORE INTO endpoints(name, default_version, created) VALUES (?, NULL, ?)", (endpoint, utcnow()))
            same = db.execute("SELECT number FROM versions WHERE endpoint = ? AND content_hash = ? ORDER BY number DESC LIMIT 1",
                              (endpoint, pipeline.content_hash)).fetchone()
            current = db.execute("SELECT default_version FROM endpoints WHERE name = ?", (endpoint,)).fetchone()[0]
            if same is not None:
                number, created = same[0], False
            else:
                number = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM versions WHERE endpoint = ?", (endpoint,)).fetchone()[0]
                db.execute(
                    "INSERT INTO versions(endpoint, number, content_hash, created, source_commit, snapshot, parameters) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (endpoint, number, pipeline.content_hash, utcnow(), source_commit, str(snapshot),
                     dumps(paths_to_store(defaults, self.store_dir.parent))),
                )
                created = True
            moved = current is None or (make_default and current != number)
            if moved:
                db.execute("UPDATE endpoints SET default_version = ? WHERE name = ?", (number, endpoint))
        version = self.endpoint(endpoint).version(number)
        if version is None:  # another process replaced the store between the write and this read
            raise BackendError(f"version {number} of endpoint '{endpoint}' was recorded but cannot be read back from "
                               f"the local store {self.store_dir}. Run retrain endpoints {endpoint} to see what it holds.")
        return PublishResult(version=version, created=created, default_moved=moved and current is not None)

    def endpoints(self) -> list[Endpoint]:
        return [self.endpoint(row["name"]) for row in self.store.all("SELECT name FROM endpoints ORDER BY name")]

    def endpoint(self, name: str) -> Endpoint:
        row = self.store.one("SELECT * FROM endpoints WHERE name = ?", name)
        if row is None:
            known = [r["name"] for r in self.store.all("SELECT name FROM endpoints ORDER BY name")]
            listing = f"Known endpoints: {', '.join(known)}." if known else "Nothing is published yet: run retrain publish."
            raise NotFound(f"no endpoint named '{name}' in the local store {self.store_dir}. {listing}")
        versions = tuple(
            Version(endpoint=name, number=v["number"], content_hash=v["content_hash"], created=parse_time(v["created"]),  # type: ignore[arg-type]
                    is_default=v["number"] == row["default_version"], source_commit=v["source_commit"],
                    parameters=paths_from_store(json.loads(v["parameters"]), self.store_dir.parent),
                    url=(self.store_dir / v["snapshot"]).parent.as_uri())
            for v in self.store.all("SELECT * FROM versions WHERE endpoint = ? ORDER BY number", name)
        )
        return Endpoint(name=name, default_version=row["default_version"], versions=versions)

    def set_default(self, endpoint: str, number: int, move: DefaultMove | None = None) -> None:
        """Make version ``number`` the endpoint's default (a passed gate, ``retrain promote`` or ``rollback``),
        recording ``move`` in the same transaction, with the default it replaced; nothing moved, nothing recorded."""
        if self.endpoint(endpoint).version(number) is None:
            raise NotFound(f"endpoint '{endpoint}' has no version {number}.")
        with self.store.write() as db:
            current = db.execute("SELECT default_version FROM endpoints WHERE name = ?", (endpoint,)).fetchone()[0]
            db.execute("UPDATE endpoints SET default_version = ? WHERE name = ?", (number, endpoint))
            if move is not None and current != number:
                _insert_move(db, replace(move, endpoint=endpoint, from_version=current, to_version=number))

    def record_default_move(self, move: DefaultMove) -> None:
        """Record a move made by a publish (the endpoint's first version, or ``--make-default``)."""
        with self.store.write() as db:
            _insert_move(db, move)

    def default_moves(self, endpoint: str) -> list[DefaultMove]:
        """Every recorded move of ``endpoint``'s default, oldest first."""
        return [DefaultMove(id=r["id"], endpoint=r["endpoint"], from_version=r["from_version"], to_version=r["to_version"],
                            kind=r["kind"], actor=r["actor"], at=parse_time(r["at"]), source_commit=r["source_commit"],  # type: ignore[arg-type]
                            run_id=r["run_id"], verdict=r["verdict"], reason=r["reason"])
                for r in self.store.all("SELECT * FROM default_moves WHERE endpoint = ? ORDER BY at, rowid", endpoint)]


def _insert_move(db: sqlite3.Connection, move: DefaultMove) -> None:
    # Insert only: a recorded move is never updated or deleted (gc leaves the table alone).
    db.execute("INSERT INTO default_moves(id, endpoint, from_version, to_version, kind, actor, at, source_commit, run_id, "
               "verdict, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (move.id, move.endpoint, move.from_version, move.to_version, move.kind, move.actor,
                move.at.astimezone(timezone.utc).isoformat(timespec="milliseconds"), move.source_commit, move.run_id,
                move.verdict, move.reason))
