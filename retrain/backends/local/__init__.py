"""The embedded local backend: endpoints, versions and runs on this machine.

Publishing copies the pipeline into the store (content-addressed, read-only). Submitting records the run
and starts a detached worker process that executes it, so the run survives the terminal that started it
and any process can follow or cancel it. See docs/local-backend.md.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ...errors import BackendError, NotFound, UsageError
from ...pipeline.flatten import local_steps
from ...pipeline.load import load_pipeline
from ...pipeline.model import Pipeline
from ...pipeline.types import CoercionError, coerce, unknown_parameter_hint
from ..base import DefaultMove, Endpoint, PublishResult, Run, RunStatus, StepResult, StepStatus, SubmitRequest, Version, pin_to_number
from .executor import run_dir, run_step_names
from .faults import WORKER_EXIT_DISK_FULL, StoreFull, disk_full_message, disk_nearly_full, is_disk_full, kill_session
from .logs import read_chunk
from .retention import GcPlan, RetentionPolicy, StoreUsage, collect, plan_gc, usage
from .snapshot import save_snapshot
from .store import Store, dumps, parse_time, paths_from_store, paths_to_store, utcnow

CANCEL_WAIT_S = 10.0
# Workers started by this process. Kept so they are reaped when they end (no zombies) and so Python
# does not warn about a Popen object dropped while its process still runs: detached is on purpose.
_WORKERS: list[subprocess.Popen[bytes]] = []
# Workers forked by this process: pid -> exit status once reaped (None while it runs); also the exit
# status of spawned workers once their Popen object is dropped.
_FORKED: dict[int, int | None] = {}
# The read ends of forked workers' exit pipes, by pid (see _start_worker).
_EXIT_PIPES: dict[int, int] = {}
# A run recorded but whose worker never reported its pid within this long is taken for dead.
UNSTARTED_GRACE = timedelta(seconds=60)


def _proc_start(pid: int) -> str | None:
    """The start time of a live process (clock ticks since boot), None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        if sys.platform.startswith("linux"):
            return None
        try:  # elsewhere, only liveness can be checked
            os.kill(pid, 0)
        except OSError:
            return None
        return "alive"
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return fields[19]


class DamagedRecord(BackendError):
    """A run's row in the store cannot be read (bad JSON, an unknown status): that run only."""


class LocalBackend:
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

    # -- endpoints and versions -------------------------------------------------------------------

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

    # -- runs -------------------------------------------------------------------------------------

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
        run_id = f"{request.pipeline}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        folder = run_dir(self.store_dir, run_id)
        folder.mkdir(parents=True)
        with self.store.write() as db:
            db.execute(
                "INSERT INTO runs(id, key, pipeline, endpoint, version, experiment, status, parameters, tags, force, created) "
                "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                (run_id, request.key, request.pipeline, request.endpoint, number, request.experiment,
                 dumps(parameters), dumps(dict(tags)), int(request.force), utcnow()),
            )
            # Nested pipelines flattened (outer.inner), each sweep followed by its trials (train.trial_1, ...).
            db.executemany("INSERT INTO steps(run_id, name, ord, status) VALUES (?, ?, ?, 'queued')",
                           [(run_id, name, i) for i, name in enumerate(run_step_names(local_steps(pipeline)))])
        pid = self._start_worker(run_id, folder / "worker.log", pipeline)
        with self.store.write() as db:
            db.execute("UPDATE runs SET pid = ?, pid_start = ? WHERE id = ?", (pid, _proc_start(pid), run_id))
        return self.run(run_id)

    def _start_worker(self, run_id: str, log: Path, pipeline: Pipeline) -> int:
        """Start the run's worker in its own session (a cancel signals it and its steps together); its pid.

        Forked from this process when that is safe, so the worker starts in a millisecond with everything
        already imported; otherwise ``python -m retrain.backends.local.worker`` (about 0.1 s of imports).
        Safe means: no other thread (a fork copies only the caller's, with whatever locks others held), and
        no SQLite connection to this store open in this process at the fork, as SQLite asks: this backend's
        own is closed before it and opened again after, and then no file of the store may be open here at
        all. That is checked on the open files themselves, not on the backends we know of: a connection
        nobody closed (a dropped backend's, which lingers in a reference cycle with its statement cache
        until the garbage collector runs) still has SQLite's per-file records in this process, the child
        inherits them, and its own connection then uses descriptors it has closed: "disk I/O error".
        """
        _reap_finished()
        if hasattr(os, "fork") and threading.active_count() == 1:
            self.store.close()
            if _store_open_here(self.store.db_path):  # another connection: spawn, after opening ours again
                self.store = Store(self.store_dir)
                self._seen, self._cache = None, {}
            else:
                return self._fork_worker(run_id, log, pipeline)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "retrain.backends.local.worker", str(self.store_dir), run_id],
                env=self.environ, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for ended in [w for w in _WORKERS if w.poll() is not None]:  # reaped; keep only their exit status
            _WORKERS.remove(ended)
            _FORKED[ended.pid] = ended.returncode
        _WORKERS.append(proc)
        return proc.pid

    def _fork_worker(self, run_id: str, log: Path, pipeline: Pipeline) -> int:
        """Fork the run's worker; this backend's connection is closed on entry and opened again here."""
        from .worker import forked  # before the fork: the child runs nothing that can fail into our code

        sys.stdout.flush()
        sys.stderr.flush()
        # The worker holds the write end of a pipe it never writes to: its exit (after it recorded the
        # end of the run) is the read end's EOF, which wakes a follower in this process at once.
        ended, holds = os.pipe()  # both close-on-exec: the steps the worker starts never hold them
        # Everything the worker inherits is the parent's: the worker must never finalize any of it. Garbage
        # the collector has not reached yet (another store's dropped connection) would be closed in the
        # worker by descriptor numbers that, after the worker closed the inherited files, name the worker's
        # own store or logs. So no collection between the fork and the freeze, and none of it after.
        collecting = gc.isenabled()
        gc.disable()
        try:
            pid = os.fork()
            if pid == 0:
                gc.freeze()
                if collecting:
                    gc.enable()
                os.close(ended)
                forked(self.store_dir, run_id, self.environ, log, pipeline, holds)  # never returns
        finally:
            if collecting:
                gc.enable()
            os.close(holds)
            self.store = Store(self.store_dir)
            self._seen, self._cache = None, {}
        _FORKED[pid] = None
        _EXIT_PIPES[pid] = ended
        self._worker_of[run_id] = pid
        return pid

    def sleep_until_end(self, run_id: str, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking at once if the run's worker exits (a worker this process forked);
        False, without sleeping, when this process cannot tell (the caller then sleeps its own way)."""
        pid = self._worker_of.get(run_id)
        fd = _EXIT_PIPES.get(pid) if pid is not None else None
        if fd is None:
            return False
        readable, _, _ = select.select([fd], [], [], seconds)
        if readable:  # nothing is ever written: readable means EOF, the worker has exited
            _close_exit_pipe(pid)  # type: ignore[arg-type]
        return True

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

    def run(self, run_id: str) -> Run:
        run, row = self._read(run_id)
        if not run.status.is_terminal:
            reason = self._worker_gone(row)
            if reason is not None:
                self._end_or_report(run_id, reason)
                run, row = self._read(run_id)
        return run

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
        steps = []
        for s in step_rows:
            key = tuple(s)
            step = known.get(key)
            if step is None:
                step = known[key] = StepResult(
                    name=s["name"], status=StepStatus(s["status"]), started=parse_time(s["started"]), ended=parse_time(s["ended"]),
                    reused_from=s["reused_from"], message=s["message"], metrics=_json(s["metrics"], f"metrics of step {s['name']}"),
                    url=(folder / "steps" / s["name"]).as_uri())
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

    def runs(self, *, pipeline: str | None = None, status: RunStatus | None = None, limit: int = 20) -> list[Run]:
        """Newest first. A run whose row is damaged is left out and named in :attr:`damaged`."""
        sql, args = "SELECT id FROM runs WHERE 1=1", list[object]()
        if pipeline:
            sql, args = sql + " AND pipeline = ?", [*args, pipeline]
        if status:
            sql, args = sql + " AND status = ?", [*args, status.value]
        rows = self.store.all(sql + " ORDER BY created DESC LIMIT ?", *args, limit)
        found: list[Run] = []
        self.damaged = []
        for r in rows:
            try:
                found.append(self.run(r["id"]))
            except DamagedRecord as e:
                self.damaged.append(str(e))
        return found

    def cancel(self, run_id: str) -> Run:
        run = self.run(run_id)
        if run.status.is_terminal:
            return run
        row = self.store.one("SELECT pid, pid_start FROM runs WHERE id = ?", run_id)
        pid, start = row["pid"], row["pid_start"]  # type: ignore[index]
        if pid and start and _proc_start(pid) == start:
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

    def usage(self) -> StoreUsage:
        return usage(self.store)

    def plan_gc(self, policy: RetentionPolicy) -> GcPlan:
        return plan_gc(self.store, policy)

    def gc(self, plan: GcPlan) -> None:
        collect(self.store, plan)

    # -- housekeeping -----------------------------------------------------------------------------

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _end(self, run_id: str, status: RunStatus, message: str, running_steps: StepStatus) -> None:
        now = utcnow()
        with self.store.write() as db:
            db.execute("UPDATE runs SET status = ?, ended = ?, message = ? WHERE id = ? AND status IN ('queued', 'running')",
                       (status.value, now, message, run_id))
            db.execute("UPDATE steps SET status = ?, ended = ? WHERE run_id = ? AND status = 'running'", (running_steps.value, now, run_id))
            db.execute("UPDATE steps SET status = 'not_run' WHERE run_id = ? AND status = 'queued'", (run_id,))

    def _worker_gone(self, row: sqlite3.Row) -> str | None:  # row: id, pid, pid_start, created
        """Why the worker of a queued or running run is no longer there, or None while it is."""
        pid = row["pid"]
        if pid is None:
            created = parse_time(row["created"])
            if created is not None and datetime.now(timezone.utc) - created > UNSTARTED_GRACE:
                return "its worker never started; submit it again."
            return None
        current = _proc_start(pid)
        if current is not None and current == row["pid_start"]:
            return None  # (a worker that ended before its start time was read is gone, not alive)
        exit_status = _reap(pid)
        kill_session(pid, row["id"])  # its steps, each in its own process group within the worker's session
        if exit_status == WORKER_EXIT_DISK_FULL or disk_nearly_full(self.store_dir):
            return disk_full_message(self.store_dir)
        how = ""
        if exit_status is not None and exit_status < 0:
            how = f" (killed by {signal.Signals(-exit_status).name})"
        elif exit_status:
            how = f" (exit status {exit_status}; see worker.log in the run folder)"
        return f"the process running it (pid {pid}) stopped unexpectedly{how}; submit it again."

    def _end_or_report(self, run_id: str, reason: str) -> None:
        try:
            self._end(run_id, RunStatus.FAILED, reason, StepStatus.FAILED)
        except Exception as e:
            if is_disk_full(e, self.store_dir):
                raise StoreFull(self.store_dir, f"Run {run_id} stopped and could not be recorded as failed yet; the next retrain "
                                                f"command that opens the store once there is space records it.") from None
            raise

    def _repair(self) -> None:
        """Runs left queued or running by a worker that died (killed, machine restarted) end as failed."""
        for row in self.store.all("SELECT id, pid, pid_start, created FROM runs WHERE status IN ('queued', 'running')"):
            reason = self._worker_gone(row)
            if reason is None:
                continue
            try:
                self._end(row["id"], RunStatus.FAILED, reason, StepStatus.FAILED)
            except Exception as e:  # noqa: BLE001 - a full disk: recorded by a later command, once there is space
                if not is_disk_full(e, self.store_dir):
                    raise


def _insert_move(db: sqlite3.Connection, move: DefaultMove) -> None:
    # Insert only: a recorded move is never updated or deleted (gc leaves the table alone).
    db.execute("INSERT INTO default_moves(id, endpoint, from_version, to_version, kind, actor, at, source_commit, run_id, "
               "verdict, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (move.id, move.endpoint, move.from_version, move.to_version, move.kind, move.actor,
                move.at.astimezone(timezone.utc).isoformat(timespec="milliseconds"), move.source_commit, move.run_id,
                move.verdict, move.reason))


def _reap(pid: int) -> int | None:
    """The exit status of a worker this process started (None for another process's).

    Called once /proc says the worker is gone: a killed multi-threaded worker can still be reported by
    waitpid a moment later (its threads exit after its main one), so wait that moment, boundedly."""
    give_up = time.monotonic() + 1.0
    while True:
        proc = next((w for w in _WORKERS if w.pid == pid), None)
        if proc is not None:
            status = proc.poll()
        elif pid in _FORKED:
            _reap_finished()
            status = _FORKED.get(pid)
        else:
            return None
        if status is not None or time.monotonic() >= give_up:
            return status
        time.sleep(0.005)


def _store_open_here(db_path: Path) -> bool:
    """Whether this process holds any file of the SQLite database at ``db_path`` open (the database, its
    write-ahead log or its shared-memory index), whoever opened it; True when that cannot be told."""
    wanted: set[tuple[int, int]] = set()
    for path in (db_path, db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm")):
        try:
            st = os.stat(path)
        except OSError:
            continue
        wanted.add((st.st_dev, st.st_ino))
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            fds = [int(name) for name in os.listdir(listing)]
        except (OSError, ValueError):
            continue
        for fd in fds:
            try:
                st = os.fstat(fd)
            except OSError:  # the listing's own descriptor, closed by now
                continue
            if (st.st_dev, st.st_ino) in wanted:
                return True
        return False
    return True


def _reap_finished() -> None:
    """Collect forked workers that ended (no zombies); keep their exit status as Popen.poll would."""
    for pid, status in list(_FORKED.items()):
        if status is not None:
            continue
        try:
            done, raw = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            _FORKED[pid] = 0
            continue
        if done:
            _FORKED[pid] = -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)
            _close_exit_pipe(pid)


def _close_exit_pipe(pid: int) -> None:
    fd = _EXIT_PIPES.pop(pid, None)
    if fd is not None:
        os.close(fd)


def _json(text: str, what: str) -> dict[str, object]:
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
