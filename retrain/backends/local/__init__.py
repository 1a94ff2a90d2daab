"""The embedded local backend: endpoints, versions and runs on this machine.

Publishing copies the pipeline into the store (content-addressed, read-only). Submitting records the run
and starts a detached worker process that executes it, so the run survives the terminal that started it
and any process can follow or cancel it. See docs/local-backend.md.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ...errors import NotFound, UsageError
from ...pipeline.load import load_pipeline
from ...pipeline.model import Pipeline
from ...pipeline.types import CoercionError, coerce, unknown_parameter_hint
from ..base import Endpoint, PublishResult, Run, RunStatus, StepResult, StepStatus, SubmitRequest, Version, pin_to_number
from .executor import run_dir
from .snapshot import save_snapshot
from .store import Store, dumps, parse_time, paths_from_store, paths_to_store, utcnow

CANCEL_WAIT_S = 10.0
# Workers started by this process. Kept so they are reaped when they end (no zombies) and so Python
# does not warn about a Popen object dropped while its process still runs: detached is on purpose.
_WORKERS: list[subprocess.Popen[bytes]] = []
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


class LocalBackend:
    kind = "local"
    poll_interval = 0.1  # a local read costs a SQLite query: poll often, so progress shows at once

    def __init__(self, store_dir: Path, *, environ: Mapping[str, str] | None = None) -> None:
        self.store_dir = Path(store_dir).resolve()
        self.store = Store(self.store_dir)
        self.environ = dict(os.environ if environ is None else environ)
        self._repair()

    # -- endpoints and versions -------------------------------------------------------------------

    def publish(self, pipeline: Pipeline, *, endpoint: str, make_default: bool, source_commit: str | None) -> PublishResult:
        snapshot = save_snapshot(self.store_dir, pipeline)
        defaults = {n: p.default for n, p in pipeline.parameters.items()}
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
        assert version is not None
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
        earlier = self.find_run(request.key)
        if earlier is not None:
            return earlier
        endpoint = self.endpoint(request.endpoint)
        version = endpoint.version(pin_to_number(endpoint, request.version))
        assert version is not None
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

    def set_default(self, endpoint: str, number: int) -> None:
        """Make version ``number`` the endpoint's default (a passed gate, or ``retrain promote``)."""
        if self.endpoint(endpoint).version(number) is None:
            raise NotFound(f"endpoint '{endpoint}' has no version {number}.")
        with self.store.write() as db:
            db.execute("UPDATE endpoints SET default_version = ? WHERE name = ?", (number, endpoint))

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
            db.executemany("INSERT INTO steps(run_id, name, ord, status) VALUES (?, ?, ?, 'queued')",
                           [(run_id, name, i) for i, name in enumerate(pipeline.steps)])
        with (folder / "worker.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "retrain.backends.local.worker", str(self.store_dir), run_id],
                env=self.environ, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a cancel stops it and its steps together
            )
        _WORKERS[:] = [w for w in _WORKERS if w.poll() is None]
        _WORKERS.append(proc)
        with self.store.write() as db:
            db.execute("UPDATE runs SET pid = ?, pid_start = ? WHERE id = ?", (proc.pid, _proc_start(proc.pid), run_id))
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

    def run(self, run_id: str) -> Run:
        row = self.store.one("SELECT * FROM runs WHERE id = ?", run_id)
        if row is None:
            raise NotFound(f"no run '{run_id}' in the local store {self.store_dir}. 'retrain runs' lists them.")
        steps = tuple(
            StepResult(name=s["name"], status=StepStatus(s["status"]), started=parse_time(s["started"]), ended=parse_time(s["ended"]),
                       reused_from=s["reused_from"], message=s["message"], metrics=json.loads(s["metrics"]),
                       url=(run_dir(self.store_dir, run_id) / "steps" / s["name"]).as_uri())
            for s in self.store.all("SELECT * FROM steps WHERE run_id = ? ORDER BY ord", run_id)
        )
        return Run(
            id=row["id"], pipeline=row["pipeline"], endpoint=row["endpoint"], version=row["version"],
            status=RunStatus(row["status"]), parameters=json.loads(row["parameters"]), key=row["key"],
            created=parse_time(row["created"]), started=parse_time(row["started"]), ended=parse_time(row["ended"]),  # type: ignore[arg-type]
            steps=steps, metrics=json.loads(row["metrics"]), url=run_dir(self.store_dir, run_id).as_uri(),
            message=row["message"], tags=json.loads(row["tags"]), experiment=row["experiment"],
        )

    def runs(self, *, pipeline: str | None = None, status: RunStatus | None = None, limit: int = 20) -> list[Run]:
        sql, args = "SELECT id FROM runs WHERE 1=1", list[object]()
        if pipeline:
            sql, args = sql + " AND pipeline = ?", [*args, pipeline]
        if status:
            sql, args = sql + " AND status = ?", [*args, status.value]
        rows = self.store.all(sql + " ORDER BY created DESC LIMIT ?", *args, limit)
        return [self.run(r["id"]) for r in rows]

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
        path = run_dir(self.store_dir, run_id) / "steps" / step / "std_log.txt"
        try:
            with path.open("rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return "", offset
        # Hand back whole lines only, so a line is never split across two reads.
        cut = data.rfind(b"\n") + 1
        return data[:cut].decode(errors="replace"), offset + cut

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

    def _repair(self) -> None:
        """Runs left queued or running by a worker that died (killed, machine restarted) end as failed."""
        now = datetime.now(timezone.utc)
        for row in self.store.all("SELECT id, pid, pid_start, created FROM runs WHERE status IN ('queued', 'running')"):
            pid = row["pid"]
            if pid is None:
                created = parse_time(row["created"])
                if created is not None and now - created > UNSTARTED_GRACE:
                    self._end(row["id"], RunStatus.FAILED, "its worker never started; submit it again.", StepStatus.FAILED)
                continue
            if _proc_start(pid) != row["pid_start"]:
                self._end(row["id"], RunStatus.FAILED,
                          f"the process running it (pid {pid}) stopped unexpectedly; submit it again.", StepStatus.FAILED)
