"""Execute one run: steps in dependency order, independent ones in parallel, each a subprocess in its
own folder, with its log kept per step, its metrics collected, and identical earlier steps reused.

This runs inside the worker process (``python -m retrain.backends.local.worker``), which is the leader
of its own process group: cancelling the run signals the whole group, steps included.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from ...pipeline.hashing import content_hash
from ...pipeline.load import load_pipeline
from ...pipeline.model import Component, DataValue, ParentInput, Pipeline, Step, StepOutput
from ...pipeline.types import format_literal
from ..base import RunStatus, StepStatus
from .command import render
from .metrics import step_metrics
from .store import Store, dumps, utcnow

LOG_TAIL_LINES = 15
KILL_GRACE_S = 3.0


@dataclass
class Prepared:
    step: Step
    folder: Path
    workdir: Path
    command: str
    env: dict[str, str]
    outputs: dict[str, Path]
    reuse_key: str | None


def run_dir(store_dir: Path, run_id: str) -> Path:
    return store_dir / "runs" / run_id


def _hash_path(path: Path) -> str:
    """Content hash of a data input: a file's bytes, or a folder's files by relative path."""
    h = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(file.relative_to(path).as_posix().encode() + b"\0" + _hash_path(file).encode())
        return h.hexdigest()
    return "missing:" + str(path)


class Executor:
    def __init__(self, store: Store, store_dir: Path, run_id: str, environ: Mapping[str, str]) -> None:
        self.store, self.store_dir, self.run_id = store, store_dir, run_id
        self.environ = dict(environ)
        self.folder = run_dir(store_dir, run_id)
        self.cancel = threading.Event()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._component_hashes: dict[Path, str] = {}

    # -- database updates (main thread only) ------------------------------------------------------

    def _step(self, name: str, **fields: object) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.store.write() as db:
            db.execute(f"UPDATE steps SET {sets} WHERE run_id = ? AND name = ?", (*fields.values(), self.run_id, name))

    def _run(self, **fields: object) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.store.write() as db:
            db.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*fields.values(), self.run_id))

    # -- the run ----------------------------------------------------------------------------------

    def execute(self) -> None:
        row = self.store.one("SELECT * FROM runs WHERE id = ?", self.run_id)
        assert row is not None, self.run_id
        if row["status"] != RunStatus.QUEUED.value:
            return  # canceled before it started, or already executed
        # A draft (a pull request's pipeline) names its snapshot; a version's run finds it by version.
        snapshot = json.loads(row["tags"]).get("retrain.snapshot")
        if snapshot is None:
            version = self.store.one("SELECT snapshot FROM versions WHERE endpoint = ? AND number = ?", row["endpoint"], row["version"])
            assert version is not None
            snapshot = version["snapshot"]
        pipeline = load_pipeline(self.store_dir / snapshot)
        parameters = json.loads(row["parameters"])
        self.experiment = row["experiment"]
        self.force = bool(row["force"])
        self._run(status=RunStatus.RUNNING.value, started=utcnow())

        status: dict[str, StepStatus] = {name: StepStatus.QUEUED for name in pipeline.steps}
        failure = ""
        running: dict[Future[tuple[int, str, str]], str] = {}
        prepared: dict[str, Prepared] = {}
        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            while True:
                if self.cancel.is_set():
                    break
                for name, step in pipeline.steps.items():
                    if status[name] is not StepStatus.QUEUED or len(running) >= (os.cpu_count() or 1):
                        continue
                    deps = [status[d] for d in step.depends_on]
                    if any(d in (StepStatus.FAILED, StepStatus.NOT_RUN, StepStatus.CANCELED) for d in deps):
                        status[name] = StepStatus.NOT_RUN
                        self._step(name, status=StepStatus.NOT_RUN.value, message="an upstream step did not complete")
                        continue
                    if not all(d in (StepStatus.COMPLETED, StepStatus.REUSED) for d in deps):
                        continue
                    prep = self._prepare(pipeline, step, parameters)
                    prepared[name] = prep
                    if self._try_reuse(prep):
                        status[name] = StepStatus.REUSED
                        continue
                    status[name] = StepStatus.RUNNING
                    self._step(name, status=StepStatus.RUNNING.value, started=utcnow())
                    running[pool.submit(self._run_step, prep)] = name
                if not running:
                    if all(s is not StepStatus.QUEUED for s in status.values()):
                        break
                    continue  # a pass marked steps not_run or reused; look again
                done, _ = wait(list(running), timeout=0.25, return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    code, started, ended = future.result()
                    prep = prepared[name]
                    metrics = step_metrics(prep.folder)
                    if self.cancel.is_set():
                        status[name] = StepStatus.CANCELED
                        self._step(name, status=StepStatus.CANCELED.value, ended=ended, metrics=dumps(metrics))
                    elif code == 0:
                        status[name] = StepStatus.COMPLETED
                        self._step(name, status=StepStatus.COMPLETED.value, ended=ended, metrics=dumps(metrics),
                                   reuse_key=prep.reuse_key)
                    else:
                        status[name] = StepStatus.FAILED
                        tail = self._tail(prep.folder / "std_log.txt")
                        message = f"step '{name}' failed with exit code {code}."
                        self._step(name, status=StepStatus.FAILED.value, ended=ended, metrics=dumps(metrics), message=message)
                        if not failure:
                            failure = f"{message} The end of its log:\n{tail}" if tail else message
            if self.cancel.is_set():
                self._stop_children()
                for future, name in list(running.items()):
                    future.result()
                    status[name] = StepStatus.CANCELED
                    self._step(name, status=StepStatus.CANCELED.value, ended=utcnow())
        for name, s in status.items():
            if s is StepStatus.QUEUED:
                self._step(name, status=StepStatus.NOT_RUN.value, message="the run ended before it started")
        self._link_pipeline_outputs(pipeline, prepared)
        totals: dict[str, float] = {}
        for row_ in self.store.all("SELECT metrics FROM steps WHERE run_id = ? ORDER BY ord", self.run_id):
            totals.update(json.loads(row_["metrics"]))
        if self.cancel.is_set():
            self._run(status=RunStatus.CANCELED.value, ended=utcnow(), message="canceled", metrics=dumps(totals))
        elif failure or any(s is StepStatus.FAILED for s in status.values()):
            self._run(status=RunStatus.FAILED.value, ended=utcnow(), message=failure, metrics=dumps(totals))
        else:
            self._run(status=RunStatus.COMPLETED.value, ended=utcnow(), metrics=dumps(totals))

    # -- one step ---------------------------------------------------------------------------------

    def _component_hash(self, component: Component) -> str:
        key = component.source if component.code is None else component.code
        if key not in self._component_hashes:
            files = [component.source]
            if component.code is not None and component.code.is_dir():
                files += [p for p in component.code.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
            elif component.code is not None:
                files.append(component.code)
            root = Path(os.path.commonpath([str(f.parent) for f in files]))
            self._component_hashes[key] = content_hash(files, root)
        return self._component_hashes[key]

    def _prepare(self, pipeline: Pipeline, step: Step, parameters: Mapping[str, object]) -> Prepared:
        component = step.component
        folder = self.folder / "steps" / step.name
        out_root = folder / "outputs"
        values: dict[str, str | None] = {}
        placeholders: dict[str, str | None] = {}
        data_hashes: dict[str, str] = {}
        for name, port in component.inputs.items():
            binding = step.inputs.get(name)
            value: object = port.default
            if isinstance(binding, ParentInput):
                value = parameters.get(binding.name)
            elif isinstance(binding, StepOutput):
                value = str(self.folder / "steps" / binding.step / "outputs" / binding.output)
            elif isinstance(binding, DataValue):
                value = binding.path
            elif binding is not None:
                value = binding
            if value is None:
                values[name] = placeholders[name] = None
            elif port.type.is_data:
                values[name] = str(value)
                # Data counts by content, not by where it lies, for reuse.
                placeholders[name] = f"<input:{name}>"
                data_hashes[name] = _hash_path(Path(str(value))) if not str(value).startswith(("azureml", "http")) else str(value)
            else:
                values[name] = placeholders[name] = format_literal(value)  # type: ignore[arg-type]
        outputs = {name: out_root / name for name in component.outputs}
        command = render(component.command, values, {k: str(v) for k, v in outputs.items()})
        env = {
            **self.environ,
            **component.environment_variables,
            **step.environment_variables,
            "PYTHONUNBUFFERED": "1",
            "MLFLOW_TRACKING_URI": (folder / "mlruns").as_uri(),
            # MLflow 3 refuses its file store unless told it is wanted; it is what we read back.
            "MLFLOW_ALLOW_FILE_STORE": "true",
            "MLFLOW_EXPERIMENT_NAME": self.experiment,
            "RETRAIN_RUN_ID": self.run_id,
            "RETRAIN_STEP": step.name,
        }
        for name, value in values.items():
            if value is not None:
                env[f"AZURE_ML_INPUT_{name}"] = value
        for name, path in outputs.items():
            env[f"AZURE_ML_OUTPUT_{name}"] = str(path)
        reuse_key = None
        if component.is_deterministic and not self.force:
            template = render(component.command, placeholders, {k: f"<output:{k}>" for k in outputs})
            body = {"component": self._component_hash(component), "command": template, "data": data_hashes,
                    "env": {**component.environment_variables, **step.environment_variables}}
            reuse_key = hashlib.sha256(dumps(body).encode()).hexdigest()
        workdir = folder / "code"
        return Prepared(step, folder, workdir, command, env, outputs, reuse_key)

    def _try_reuse(self, prep: Prepared) -> bool:
        if prep.reuse_key is None:
            return False
        hit = self.store.one(
            "SELECT run_id, metrics FROM steps WHERE reuse_key = ? AND status = ? ORDER BY ended DESC LIMIT 1",
            prep.reuse_key, StepStatus.COMPLETED.value,
        )
        if hit is None:
            return False
        source = run_dir(self.store_dir, hit["run_id"]) / "steps" / prep.step.name
        if not (source / "outputs").is_dir() and prep.outputs:
            return False  # its outputs are gone (cleaned up): run the step again
        now = utcnow()
        prep.folder.mkdir(parents=True, exist_ok=True)
        if (source / "outputs").is_dir():
            shutil.copytree(source / "outputs", prep.folder / "outputs", copy_function=_link_or_copy, dirs_exist_ok=True)
        for name in prep.outputs:
            (prep.folder / "outputs" / name).mkdir(parents=True, exist_ok=True)
        if (source / "std_log.txt").exists():
            shutil.copy2(source / "std_log.txt", prep.folder / "std_log.txt")
        self._step(prep.step.name, status=StepStatus.REUSED.value, started=now, ended=now,
                   reused_from=hit["run_id"], metrics=hit["metrics"])
        return True

    def _run_step(self, prep: Prepared) -> tuple[int, str, str]:
        """In a pool thread: lay out the folder, run the command, return (exit code, started, ended)."""
        started = utcnow()
        prep.folder.mkdir(parents=True, exist_ok=True)
        for path in prep.outputs.values():
            path.mkdir(parents=True, exist_ok=True)
        code = prep.step.component.code
        if code is not None and code.is_dir():
            # A copy, so a step cannot change the published snapshot (which is read-only anyway).
            shutil.copytree(code, prep.workdir, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
            for dirpath, _, files in os.walk(prep.workdir):
                for f in files:
                    os.chmod(os.path.join(dirpath, f), 0o644)
        else:
            prep.workdir.mkdir(parents=True, exist_ok=True)
            if code is not None:
                shutil.copy2(code, prep.workdir / code.name)
        (prep.folder / "command.txt").write_text(prep.command + "\n")
        with (prep.folder / "std_log.txt").open("wb") as log:
            if self.cancel.is_set():
                return -signal.SIGTERM, started, utcnow()
            proc = subprocess.Popen(["bash", "-c", prep.command], cwd=prep.workdir, env=prep.env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            self.procs[prep.step.name] = proc
            code_ = proc.wait()
            self.procs.pop(prep.step.name, None)
        return code_, started, utcnow()

    def _stop_children(self) -> None:
        for proc in list(self.procs.values()):
            if proc.poll() is None:
                proc.terminate()
        give_up = time.monotonic() + KILL_GRACE_S
        for proc in list(self.procs.values()):
            try:
                proc.wait(timeout=max(0.0, give_up - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()

    def _tail(self, log: Path) -> str:
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def _link_pipeline_outputs(self, pipeline: Pipeline, prepared: Mapping[str, Prepared]) -> None:
        """``${{parent.outputs.x}}``: the run's ``outputs/x`` points at the step output bound to it."""
        for step in pipeline.steps.values():
            for output, target in step.outputs.items():
                prep = prepared.get(step.name)
                if target and prep is not None and (prep.folder / "outputs" / output).exists():
                    link = self.folder / "outputs" / target
                    link.parent.mkdir(parents=True, exist_ok=True)
                    if not link.exists():
                        link.symlink_to(prep.folder / "outputs" / output, target_is_directory=True)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
