"""The embedded local backend: endpoints, versions and runs on this machine.

Publishing copies the pipeline into the store (content-addressed, read-only). Submitting records the run
and starts a detached worker process that executes it, so the run survives the terminal that started it
and any process can follow or cancel it. See docs/local-backend.md.

:class:`LocalBackend` is assembled from one part per job: endpoints and versions (``versions.py``),
reading runs back (``run_records.py``), starting workers (``launch.py``) and watching them
(``liveness.py``); submitting, cancelling and the store's size are here.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import NotFound, UsageError
from ...pipeline.flatten import local_steps
from ...pipeline.load import load_pipeline
from ...pipeline.model import Pipeline
from ...pipeline.types import CoercionError, coerce, unknown_parameter_hint
from ..base import Run, RunStatus, StepResult, StepStatus, SubmitRequest, pin_to_number
from .faults import StoreFull, is_disk_full
from .launch import WorkerLauncher, proc_start
from .liveness import Liveness
from .logs import read_chunk
from .run_records import DamagedRecord, RunRecords
from .snapshot import save_snapshot
from .store import Store, dumps, run_dir, utcnow
from .sweep import run_step_names
from .versions import Versions

if TYPE_CHECKING:
    from .retention import GcPlan, RetentionPolicy, StoreUsage

__all__ = ["DamagedRecord", "LocalBackend"]

CANCEL_WAIT_S = 10.0


class LocalBackend(Versions, RunRecords, WorkerLauncher, Liveness):
    kind = "local"
    # A look costs one SQLite pragma while nothing changed (see run()): poll often and at a fixed pace, so
    # the end of a run is reported within tens of milliseconds. No back-off: nothing throttles us.
    poll_interval = 0.02
    poll_backoff = False
    drain_logs = True  # reading a log is a local read: follow may read on until it has caught up

    def __init__(self, store_dir: Path, *, environ: Mapping[str, str] | None = None) -> None:
        self.store_dir = Path(store_dir).resolve()
        self.store = Store(self.store_dir)
        self.environ = dict(os.environ if environ is None else environ)
        # Runs read since the store last changed: (data_version, own changes) -> the rows as read.
        self._seen: tuple[int, int] | None = None
        self._cache: dict[str, tuple[Run, sqlite3.Row]] = {}
        self._steps_seen: dict[str, dict[tuple[object, ...], StepResult]] = {}
        self._worker_of: dict[str, int] = {}  # run id -> pid of the worker this backend forked for it
        # Runs whose rows could not be read, with why, from the last runs() listing.
        self.damaged: list[str] = []
        self._repair()

    # -- submitting -------------------------------------------------------------------------------

    def find_run(self, key: str) -> Run | None:
        row = self.store.one("SELECT id FROM runs WHERE key = ?", key)
        return self.run(row["id"]) if row else None

    def submit(self, request: SubmitRequest) -> Run:
        try:
            return self._submit(request)
        except (OSError, sqlite3.OperationalError) as e:
            if is_disk_full(e, self.store_dir):  # no room for the run's folder or records: nothing was started
                raise StoreFull(self.store_dir, "The run was not started.") from None
            raise

    def _submit(self, request: SubmitRequest) -> Run:
        earlier = self.find_run(request.key)
        if earlier is not None:
            return earlier
        endpoint = self.endpoint(request.endpoint)
        number = pin_to_number(endpoint, request.version)
        version = endpoint.version(number)
        if version is None:
            raise NotFound(f"endpoint '{request.endpoint}' has no version {number}. "
                           f"Run retrain endpoints {request.endpoint} to see its versions.")
        snapshot_row = self.store.one("SELECT snapshot FROM versions WHERE endpoint = ? AND number = ?", request.endpoint, version.number)
        pipeline = load_pipeline(self.store_dir / snapshot_row["snapshot"])  # type: ignore[index]
        return self._start(request, pipeline, version.number, version.parameters, tags=dict(request.tags))

    def submit_draft(self, pipeline: Pipeline, request: SubmitRequest) -> Run:
        """Run ``pipeline`` as it is (a pull request's): a snapshot that no endpoint lists, never a version.

        The run records version 0 and the tag ``retrain.draft``; the worker finds its snapshot by the
        ``retrain.snapshot`` tag instead of by version.
        """
        earlier = self.find_run(request.key)
        if earlier is not None:
            return earlier
        snapshot = save_snapshot(self.store_dir, pipeline)
        copy = load_pipeline(self.store_dir / snapshot)
        defaults = {n: p.default for n, p in pipeline.parameters.items()}
        tags = {**request.tags, "retrain.draft": "true", "retrain.snapshot": str(snapshot)}
        return self._start(request, copy, 0, defaults, tags=tags)

    def tag_run(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Add ``tags`` to a run's record (a gated version's verdict, so a sync judges it once)."""
        with self.store.write() as db:
            row = db.execute("SELECT tags FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFound(f"no run '{run_id}' in the local store {self.store_dir}. 'retrain runs' lists them.")
            try:
                current = json.loads(row[0] or "{}")
            except ValueError:
                current = {}  # a damaged tag column: the verdict is still worth recording
            db.execute("UPDATE runs SET tags = ? WHERE id = ?", (dumps({**current, **tags}), run_id))

    def _start(self, request: SubmitRequest, pipeline: Pipeline, number: int, published: Mapping[str, object],
               *, tags: Mapping[str, str]) -> Run:
        parameters = self._assign(pipeline, request, published)
        run_id = f"{request.pipeline}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{os.urandom(3).hex()}"
        folder = run_dir(self.store_dir, run_id)
        folder.mkdir(parents=True)
        names = run_step_names(local_steps(pipeline))

        def record(pid: int | None) -> None:
            with self.store.write() as db:
                db.execute(
                    "INSERT INTO runs(id, key, pipeline, endpoint, version, experiment, status, parameters, tags, force, created, "
                    "pid, pid_start) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)",
                    (run_id, request.key, request.pipeline, request.endpoint, number, request.experiment,
                     dumps(parameters), dumps(dict(tags)), int(request.force), utcnow(),
                     pid, proc_start(pid) if pid is not None else None),
                )
                # Nested pipelines flattened (outer.inner), each sweep followed by its trials (train.trial_1, ...).
                db.executemany("INSERT INTO steps(run_id, name, ord, status) VALUES (?, ?, ?, 'queued')",
                               [(run_id, name, i) for i, name in enumerate(names)])

        self._start_worker(run_id, folder / "worker.log", pipeline, record)
        return self.run(run_id)

    def _assign(self, pipeline: Pipeline, request: SubmitRequest, published: Mapping[str, object]) -> dict[str, object]:
        # Defaults as published: a default data path points at the data where it was when published,
        # not into the snapshot, which holds the pipeline's code and definitions but never its data.
        values: dict[str, object] = {n: published.get(n, p.default) for n, p in pipeline.parameters.items()}
        for name, value in request.parameters.items():
            port = pipeline.parameters.get(name)
            if port is None:
                raise UsageError(f"version of '{request.endpoint}' has no parameter '{name}'. {unknown_parameter_hint(name, pipeline.parameters)}")
            try:
                values[name] = coerce(port, value, base_dir=Path.cwd())
            except CoercionError as e:
                raise UsageError(str(e)) from None
        missing = [n for n, p in pipeline.parameters.items() if values.get(n) is None and not p.optional]
        if missing:
            raise UsageError(f"no value for {', '.join(missing)}: the pipeline gives no default. Set it with --set NAME=VALUE.")
        return {n: v for n, v in values.items() if v is not None}

    # -- following, listing, cancelling -----------------------------------------------------------

    def run(self, run_id: str) -> Run:
        run, row = self._read(run_id)
        if not run.status.is_terminal:
            reason = self._worker_gone(row)
            if reason is not None:
                self._end_or_report(run_id, reason)
                run, row = self._read(run_id)
        return run

    def runs(self, *, pipeline: str | None = None, status: RunStatus | None = None, limit: int = 20) -> list[Run]:
        """Newest first. A run whose row is damaged is left out and named in :attr:`damaged`."""
        where, args = "1=1", list[object]()
        if pipeline:
            where, args = where + " AND pipeline = ?", [*args, pipeline]
        if status:
            where, args = where + " AND status = ?", [*args, status.value]
        found: list[Run] = []
        self.damaged = []
        for row, read in self._read_listed(where, args, limit):
            try:
                if isinstance(read, DamagedRecord):
                    raise read
                run = read[0]
                # One that has not ended is looked at as run() does: its worker may be gone.
                found.append(run if run.status.is_terminal else self.run(row["id"]))
            except DamagedRecord as e:
                self.damaged.append(str(e))
        return found

    def cancel(self, run_id: str) -> Run:
        run = self.run(run_id)
        if run.status.is_terminal:
            return run
        row = self.store.one("SELECT pid, pid_start FROM runs WHERE id = ?", run_id)
        pid, start = row["pid"], row["pid_start"]  # type: ignore[index]
        if pid and start and proc_start(pid) == start:
            self._signal_group(pid, signal.SIGTERM)
            give_up = time.monotonic() + CANCEL_WAIT_S
            while time.monotonic() < give_up:
                time.sleep(0.05)
                if self.run(run_id).status.is_terminal:
                    return self.run(run_id)
            self._signal_group(pid, signal.SIGKILL)  # it did not stop: make sure nothing is left running
        self._end(run_id, RunStatus.CANCELED, "canceled", StepStatus.CANCELED)
        return self.run(run_id)

    def logs(self, run_id: str, step: str, offset: int = 0) -> tuple[str, int]:
        """Whole lines from ``offset``, at most a chunk at a time, long lines cut (see logs.py)."""
        path = run_dir(self.store_dir, run_id) / "steps" / step / "std_log.txt"

        def ended() -> bool:
            row = self.store.one("SELECT status FROM steps WHERE run_id = ? AND name = ?", run_id, step)
            return row is None or row["status"] not in ("queued", "running")

        return read_chunk(path, offset, ended)

    # -- the store's size and garbage collection ---------------------------------------------------

    # Imported when used: a submit or a follow never measures the store, and need not load how.

    def usage(self) -> StoreUsage:
        from .retention import usage

        return usage(self.store)

    def plan_gc(self, policy: RetentionPolicy) -> GcPlan:
        from .retention import plan_gc

        return plan_gc(self.store, policy)

    def gc(self, plan: GcPlan) -> None:
        from .retention import collect

        collect(self.store, plan)
