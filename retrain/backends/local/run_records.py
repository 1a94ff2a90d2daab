"""A run as the local store records it, read back as :class:`~..base.Run` with its steps: rows read once
while the store does not change, each distinct step row built into a record once, and a damaged row
reported for that run alone."""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote_from_bytes

from ...errors import BackendError, NotFound
from ..base import Run, RunStatus, StepResult, StepStatus
from .store import Store, parse_time, run_dir


STEP_COLUMNS = "name, status, started, ended, reused_from, message, metrics"
STEP_COLUMN_COUNT = len(STEP_COLUMNS.split(","))


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

    def _fresh(self) -> None:
        """Forget the rows read before if the store changed since.

        PRAGMA data_version changes when another connection commits; total_changes when this one does.
        While neither moved, the rows read before are still the rows: a poll costs one pragma."""
        stamp = (self.store.one("PRAGMA data_version")[0], self.store.conn.total_changes)  # type: ignore[index]
        if stamp != self._seen:
            self._seen, self._cache = stamp, {}

    def _read(self, run_id: str) -> tuple[Run, sqlite3.Row]:
        self._fresh()
        cached = self._cache.get(run_id)
        if cached is not None:
            return cached
        row = self.store.one("SELECT * FROM runs WHERE id = ?", run_id)
        if row is None:
            raise NotFound(f"no run '{run_id}' in the local store {self.store_dir}. 'retrain runs' lists them.")
        step_rows = self.store.all(f"SELECT {STEP_COLUMNS} FROM steps WHERE run_id = ? ORDER BY ord", run_id)
        return self._build(row, step_rows)

    def _read_listed(self, where: str, args: list[object], limit: int) -> list[tuple[sqlite3.Row, tuple[Run, sqlite3.Row] | DamagedRecord]]:
        """The runs ``WHERE where``, newest first, at most ``limit``, each read or why it cannot be.

        Two queries in one read transaction (the runs, then all their steps), not two a run: the baseline is
        chosen among up to 200 completed runs after every submit, and a query costs more than building a run.
        """
        self._fresh()
        listed = f"SELECT * FROM runs WHERE {where} ORDER BY created DESC LIMIT ?"
        with self.store.reading():
            rows = self.store.all(listed, *args, limit)
            steps: dict[str, list[sqlite3.Row]] = {r["id"]: [] for r in rows}
            if rows:
                for s in self.store.all(f"SELECT {STEP_COLUMNS}, run_id FROM steps WHERE run_id IN "
                                        f"(SELECT id FROM runs WHERE {where} ORDER BY created DESC LIMIT ?) ORDER BY run_id, ord",
                                        *args, limit):
                    if s["run_id"] in steps:
                        steps[s["run_id"]].append(s)
        found: list[tuple[sqlite3.Row, tuple[Run, sqlite3.Row] | DamagedRecord]] = []
        for row in rows:
            cached = self._cache.get(row["id"])
            try:
                found.append((row, cached if cached is not None else self._build(row, steps[row["id"]])))
            except DamagedRecord as e:
                found.append((row, e))
        return found

    def _build(self, row: sqlite3.Row, step_rows: list[sqlite3.Row]) -> tuple[Run, sqlite3.Row]:
        run_id = row["id"]
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
            key = tuple(s)[:STEP_COLUMN_COUNT]  # a listing's rows carry the run id after the step's columns
            step = known.get(key)
            if step is None:
                step = known[key] = StepResult(
                    name=s["name"], status=_STEP_STATUS.get(s["status"]) or StepStatus(s["status"]), started=parse_time(s["started"]), ended=parse_time(s["ended"]),
                    reused_from=s["reused_from"], message=s["message"], metrics=_json(s["metrics"], f"metrics of step {s['name']}"),
                    url=steps_uri + _quoted(s["name"]))
            steps.append(step)
        if len(known) > 2 * len(step_rows):  # rows of earlier states: keep only the current ones
            self._steps_seen[run_id] = {tuple(s)[:STEP_COLUMN_COUNT]: step for s, step in zip(step_rows, steps)}
        return Run(
            id=run_id, pipeline=row["pipeline"], endpoint=row["endpoint"], version=row["version"],
            status=RunStatus(row["status"]), parameters=_json(row["parameters"], "parameters"), key=row["key"],
            created=parse_time(row["created"]), started=parse_time(row["started"]), ended=parse_time(row["ended"]),  # type: ignore[arg-type]
            steps=tuple(steps), metrics=_json(row["metrics"], "metrics"), url=folder.as_uri(),
            message=row["message"], tags=_json(row["tags"], "tags"), experiment=row["experiment"],
        )


# A listing builds thousands of step records (the baseline looks at up to 200 runs): the status by a dict
# lookup rather than the enum's call (an unknown one still raises the enum's own error, which names the run
# damaged), and each step name quoted once (every run of a pipeline has the same names).
_STEP_STATUS = {status.value: status for status in StepStatus}


@functools.lru_cache(maxsize=4096)
def _quoted(name: str) -> str:
    return quote_from_bytes(os.fsencode(name))


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
