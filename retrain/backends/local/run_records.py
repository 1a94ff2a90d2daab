"""A run as the local store records it, read back as :class:`~..base.Run` with its steps: rows read once
while the store does not change, each distinct step row built into a record once, and a damaged row
reported for that run alone."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote_from_bytes

from ...errors import BackendError, NotFound
from ..base import Run, RunStatus, StepResult, StepStatus
from .store import Store, parse_time, run_dir


class DamagedRecord(BackendError):
    """A run's row in the store cannot be read (bad JSON, an unknown status): that run only."""


class RunRecords:
    """LocalBackend's reading of runs (a mixin: it uses the backend's store and caches)."""

    store: Store
    store_dir: Path
    # Runs read since the store last changed: (data_version, own changes) -> the rows as read.
    _seen: tuple[int, int] | None
    _cache: dict[str, tuple[Run, sqlite3.Row]]
    _steps_seen: dict[str, dict[tuple[object, ...], StepResult]]

    def _read(self, run_id: str) -> tuple[Run, sqlite3.Row]:
        # PRAGMA data_version changes when another connection commits; total_changes when this one does.
        # While neither moved, the rows read before are still the rows: a poll costs one pragma.
        stamp = (self.store.one("PRAGMA data_version")[0], self.store.conn.total_changes)  # type: ignore[index]
        if stamp != self._seen:
            self._seen, self._cache = stamp, {}
        cached = self._cache.get(run_id)
        if cached is not None:
            return cached
        row = self.store.one("SELECT * FROM runs WHERE id = ?", run_id)
        if row is None:
            raise NotFound(f"no run '{run_id}' in the local store {self.store_dir}. 'retrain runs' lists them.")
        step_rows = self.store.all(
            "SELECT name, status, started, ended, reused_from, message, metrics FROM steps WHERE run_id = ? ORDER BY ord", run_id)
        try:
            run = self._to_run(row, step_rows)
        except (ValueError, TypeError) as e:  # json.JSONDecodeError and an unknown status are ValueErrors
            raise DamagedRecord(
                f"the record of run '{run_id}' in the local store {self.store_dir} is damaged ({_damage(e)}); the other "
                f"runs are not affected. Its files are in {run_dir(self.store_dir, run_id)}; submit it again if you need it."
            ) from None
        self._cache[run_id] = (run, row)
        return run, row

    def _to_run(self, row: sqlite3.Row, step_rows: list[sqlite3.Row]) -> Run:
        run_id = row["id"]
        folder = run_dir(self.store_dir, run_id)
        # A follower looks many times at a run whose steps mostly did not change since: a step's record is
        # built once per distinct row, so a look at a 10,000-step run costs the read, not 10,000 records.
        known = self._steps_seen.get(run_id)
        if known is None:
            known = self._steps_seen[run_id] = {}
        # Each step's URL is the steps folder's with the name quoted as Path.as_uri quotes it: built once,
        # not a path joined and quoted per step (a listing of 20 runs of 10 steps built 200 of them).
        steps_uri = (folder / "steps").as_uri() + "/"
        steps = []
        for s in step_rows:
            key = tuple(s)
            step = known.get(key)
            if step is None:
                step = known[key] = StepResult(
                    name=s["name"], status=StepStatus(s["status"]), started=parse_time(s["started"]), ended=parse_time(s["ended"]),
                    reused_from=s["reused_from"], message=s["message"], metrics=_json(s["metrics"], f"metrics of step {s['name']}"),
                    url=steps_uri + quote_from_bytes(os.fsencode(s["name"])))
            steps.append(step)
        if len(known) > 2 * len(step_rows):  # rows of earlier states: keep only the current ones
            self._steps_seen[run_id] = {tuple(s): step for s, step in zip(step_rows, steps)}
        return Run(
            id=run_id, pipeline=row["pipeline"], endpoint=row["endpoint"], version=row["version"],
            status=RunStatus(row["status"]), parameters=_json(row["parameters"], "parameters"), key=row["key"],
            created=parse_time(row["created"]), started=parse_time(row["started"]), ended=parse_time(row["ended"]),  # type: ignore[arg-type]
            steps=tuple(steps), metrics=_json(row["metrics"], "metrics"), url=folder.as_uri(),
            message=row["message"], tags=_json(row["tags"], "tags"), experiment=row["experiment"],
        )


def _json(text: str, what: str) -> dict[str, object]:
    if text == "{}":  # most steps log no metrics: no parse
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as e:
        raise ValueError(f"its {what} are not JSON: {e}") from None
    if not isinstance(value, dict):
        raise ValueError(f"its {what} are not a JSON object")
    return value


def _damage(e: Exception) -> str:
    text = str(e)
    if " is not a valid RunStatus" in text or " is not a valid StepStatus" in text:
        return f"unknown status {text.split(' is not')[0]}"
    return text
