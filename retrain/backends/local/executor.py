"""Execute one run: steps in dependency order, independent ones in parallel, each a subprocess in its
own folder, with its log kept per step, its metrics collected, and identical earlier steps reused.

This runs inside the worker process (``python -m retrain.backends.local.worker``), which is the leader
of its own process group: cancelling the run signals the whole group, steps included.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path

from ...errors import BackendError
from ...pipeline.flatten import local_steps
from ...pipeline.hashing import content_hash
from ...pipeline.load import load_pipeline
from ...pipeline.model import Component, DataValue, ParentInput, Pipeline, Step, StepOutput
from ...pipeline.types import format_literal
from ..base import RunStatus, StepStatus
from . import sweep as sweeps
from .command import render
from .faults import KILL_GRACE_S
from .logs import log_tail
from .metrics import step_metrics
from .objects import intern_tree, materialize, prune_copies, remove_empty_folders, remove_tree, share_folder
from .store import Store, dumps, utcnow

LOG_TAIL_LINES = 15
PARALLEL_DRIVER = Path(__file__).with_name("parallel_run.py")


def run_step_names(pipeline: Pipeline) -> list[str]:
    """The rows a run of (flattened) ``pipeline`` has: each step, a sweep followed by its trials."""
    names: list[str] = []
    for name, step in pipeline.steps.items():
        names.append(name)
        if step.sweep is not None:
            names += [sweeps.trial_name(name, i + 1) for i in range(sweeps.trial_count(step.sweep))]
    return names


@dataclass
class SweepState:
    """A sweep step while its trials run (main thread only)."""

    prep: Prepared
    pending: list[Prepared]
    limit: int
    running: int = 0
    results: list[tuple[str, dict[str, float]]] = field(default_factory=list)
    note: str = ""


@dataclass
class Prepared:
    step: Step
    folder: Path
    workdir: Path
    command: str
    env: dict[str, str]
    outputs: dict[str, Path]
    reuse_key: str | None
    # Upstream outputs this step reads, each copied into its own inputs/ folder (dest -> stored source):
    # a step never gets a path into the store, so it cannot change what other runs share.
    inputs: dict[Path, Path] = field(default_factory=dict)


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
    def __init__(self, store: Store, store_dir: Path, run_id: str, environ: Mapping[str, str],
                 pipeline: Pipeline | None = None) -> None:
        self.store, self.store_dir, self.run_id = store, store_dir, run_id
        self.pipeline = pipeline  # already loaded from the version's snapshot by a forking submitter
        self.environ = dict(environ)
        self.folder = run_dir(store_dir, run_id)
        self.cancel = threading.Event()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._component_hashes: dict[Path, str] = {}
        # Found once on the steps' PATH, not searched for again by every step's start.
        self.bash = shutil.which("bash", path=self.environ.get("PATH")) or "bash"

    # -- database updates (main thread only) ------------------------------------------------------

    def _step(self, name: str, **fields: object) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.store.write() as db:
            db.execute(f"UPDATE steps SET {sets} WHERE run_id = ? AND name = ?", (*fields.values(), self.run_id, name))

    def _steps(self, names: list[str], **fields: object) -> None:
        """The same change to many steps in one transaction (a failure early in a long chain)."""
        if not names:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.store.write() as db:
            db.executemany(f"UPDATE steps SET {sets} WHERE run_id = ? AND name = ?",
                           [(*fields.values(), self.run_id, name) for name in names])

    def _run(self, **fields: object) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.store.write() as db:
            db.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*fields.values(), self.run_id))

    # -- the run ----------------------------------------------------------------------------------

    def execute(self) -> None:
        row = self.store.one("SELECT * FROM runs WHERE id = ?", self.run_id)
        if row is None:
            raise BackendError(f"run '{self.run_id}' is not in the local store {self.store_dir}: it was removed before its "
                               "worker started (retrain gc, or the store was replaced). Submit it again.")
        if row["status"] != RunStatus.QUEUED.value:
            return  # canceled before it started, or already executed
        # A draft (a pull request's pipeline) names its snapshot; a version's run finds it by version.
        snapshot = json.loads(row["tags"]).get("retrain.snapshot")
        if snapshot is None:
            version = self.store.one("SELECT snapshot FROM versions WHERE endpoint = ? AND number = ?", row["endpoint"], row["version"])
            if version is None:
                raise BackendError(f"run '{self.run_id}' is on version {row['version']} of endpoint '{row['endpoint']}', "
                                   f"which the local store {self.store_dir} no longer has. Publish again and submit it again.")
            snapshot = version["snapshot"]
        pipeline = local_steps(self.pipeline or load_pipeline(self.store_dir / snapshot))
        parameters = json.loads(row["parameters"])
        self.experiment = row["experiment"]
        self.force = bool(row["force"])
        self._run(status=RunStatus.RUNNING.value, started=utcnow())

        status: dict[str, StepStatus] = {name: StepStatus.QUEUED for name in pipeline.steps}
        failure = ""
        running: dict[Future[tuple[int, str, str]], str] = {}
        prepared: dict[str, Prepared] = {}
        # Sweeps whose trials run: sweep step -> state; a trial's name -> its sweep.
        active: dict[str, SweepState] = {}
        trial_of: dict[str, str] = {}
        trial_notes: dict[str, str] = {}  # a trial's sampled values, kept in its message
        trials_left: set[str] = {t for t in run_step_names(pipeline) if t not in pipeline.steps}
        # Kahn's algorithm: each step counts the upstream steps it still waits for; a step whose count
        # reaches zero joins the ready queue (a heap by position in the pipeline, so ties keep file
        # order). Each finished step touches only its own dependents: linear in steps and edges.
        position = {name: i for i, name in enumerate(pipeline.steps)}
        names = list(pipeline.steps)
        dependents: dict[str, list[str]] = {name: [] for name in names}
        waiting: dict[str, int] = {}
        for name, step in pipeline.steps.items():
            upstream = {d for d in step.depends_on if d in dependents}
            waiting[name] = len(upstream)
            for d in upstream:
                dependents[d].append(name)
        ready = [position[n] for n in names if waiting[n] == 0]
        heapq.heapify(ready)
        slots = max(1, os.cpu_count() or 1)  # read once: the machine does not change during a run

        def release(name: str) -> None:
            for d in dependents[name]:
                waiting[d] -= 1
                if waiting[d] == 0:
                    heapq.heappush(ready, position[d])

        def skip_downstream(name: str) -> None:
            skipped: list[str] = []
            todo = list(dependents[name])
            while todo:
                d = todo.pop()
                if status[d] is StepStatus.QUEUED:
                    status[d] = StepStatus.NOT_RUN
                    skipped.append(d)
                    todo.extend(dependents[d])
            self._steps(skipped, status=StepStatus.NOT_RUN.value, message="an upstream step did not complete")

        def next_trial() -> Prepared | None:
            for state in active.values():
                if state.pending and state.running < state.limit:
                    state.running += 1
                    return state.pending.pop(0)
            return None

        def finish_sweep(name: str) -> None:
            nonlocal failure
            state = active.pop(name)
            sweep = pipeline.steps[name].sweep
            chosen = sweeps.best(state.results, sweep.primary_metric, sweep.goal) if sweep else None
            if chosen is None:
                status[name] = StepStatus.FAILED
                message = (f"step '{name}': no trial of the sweep completed with its primary metric "
                           f"'{sweep.primary_metric if sweep else ''}' logged.")
                self._step(name, status=StepStatus.FAILED.value, ended=utcnow(), message=message)
                skip_downstream(name)
                failure = failure or message
                return
            trial, value = chosen
            metrics = dict(state.results)[trial]
            self._adopt_outputs(state.prep, prepared[trial])
            note = f"best of {len(state.results)} trials: {trial.rsplit('.', 1)[-1]} ({sweep.primary_metric}={value:g}, {sweep.goal})"
            status[name] = StepStatus.COMPLETED
            self._step(name, status=StepStatus.COMPLETED.value, ended=utcnow(), metrics=dumps(metrics),
                       message=f"{note}{'; ' + state.note if state.note else ''}")
            release(name)

        def end_trial(trial: str, done_status: StepStatus, metrics: dict[str, float]) -> None:
            trials_left.discard(trial)
            state = active.get(trial_of[trial])
            if state is None:
                return
            if done_status is not StepStatus.REUSED:
                state.running -= 1
            if done_status in (StepStatus.COMPLETED, StepStatus.REUSED):
                state.results.append((trial, metrics))
            if not state.pending and state.running == 0 and not self.cancel.is_set():
                finish_sweep(trial_of[trial])

        def start_sweep(name: str) -> None:
            step = pipeline.steps[name]
            sweep = step.sweep
            if sweep is None:
                return
            prep = self._prepare(pipeline, step, parameters)
            prepared[name] = prep
            seed = zlib.crc32(self.run_id.encode())  # reproducible within a run; a seed: in the YAML fixes it
            values = sweeps.trials(sweep, seed)
            pending = []
            for i, trial_values in enumerate(values):
                trial = sweeps.trial_name(name, i + 1)
                trial_of[trial] = name
                tprep = self._prepare(pipeline, step, parameters, overrides=trial_values, name=trial)
                prepared[trial] = tprep
                pending.append(tprep)
                trial_notes[trial] = "values: " + ", ".join(f"{k}={format_literal(v)}" for k, v in trial_values.items())
                self._step(trial, message=trial_notes[trial])
            note = "bayesian sampling is not run locally; these trials were sampled at random" if sweep.sampling_algorithm == "bayesian" else ""
            active[name] = SweepState(prep=prep, pending=pending, limit=max(1, sweep.max_concurrent_trials or slots), note=note)
            status[name] = StepStatus.RUNNING
            self._step(name, status=StepStatus.RUNNING.value, started=utcnow(), message=note)
            if not pending:
                finish_sweep(name)

        with ThreadPoolExecutor(max_workers=slots) as pool:
            try:
                while not self.cancel.is_set():
                    while len(running) < slots and not self.cancel.is_set():
                        tprep = next_trial()
                        if tprep is not None:
                            tname = tprep.step.name
                            if self._try_reuse(tprep):
                                active[trial_of[tname]].running -= 1  # it did not run after all
                                row = self.store.one("SELECT metrics FROM steps WHERE run_id = ? AND name = ?", self.run_id, tname)
                                end_trial(tname, StepStatus.REUSED, json.loads(row["metrics"]) if row else {})
                                continue
                            self._step(tname, status=StepStatus.RUNNING.value, started=utcnow())
                            running[pool.submit(self._run_step, tprep)] = tname
                            continue
                        if not ready:
                            break
                        name = names[heapq.heappop(ready)]
                        if status[name] is not StepStatus.QUEUED:
                            continue
                        if pipeline.steps[name].sweep is not None:
                            start_sweep(name)
                            continue
                        prep = self._prepare(pipeline, pipeline.steps[name], parameters)
                        prepared[name] = prep
                        if self._try_reuse(prep):
                            status[name] = StepStatus.REUSED
                            release(name)
                            continue
                        status[name] = StepStatus.RUNNING
                        self._step(name, status=StepStatus.RUNNING.value, started=utcnow())
                        running[pool.submit(self._run_step, prep)] = name
                    if not running:
                        if ready or any(st.pending for st in active.values()):
                            continue
                        break  # nothing runs and nothing is ready: every step has its end
                    # The timeout only bounds how late a cancel (a signal) is noticed; a step that ends
                    # wakes this at once.
                    done, _ = wait(list(running), timeout=0.25, return_when=FIRST_COMPLETED)
                    for future in done:
                        name = running.pop(future)
                        code, started, ended = future.result()
                        prep = prepared[name]
                        metrics = step_metrics(prep.folder)
                        is_trial = name in trial_of
                        if self.cancel.is_set():
                            if not is_trial:
                                status[name] = StepStatus.CANCELED
                            self._step(name, status=StepStatus.CANCELED.value, ended=ended, metrics=dumps(metrics))
                        elif code == 0:
                            self._step(name, status=StepStatus.COMPLETED.value, ended=ended, metrics=dumps(metrics),
                                       reuse_key=prep.reuse_key)
                            if is_trial:
                                end_trial(name, StepStatus.COMPLETED, metrics)
                            else:
                                status[name] = StepStatus.COMPLETED
                                release(name)
                        else:
                            message = f"step '{name}' failed with exit code {code}."
                            shown = f"{trial_notes[name]}; failed with exit code {code}" if is_trial else message
                            self._step(name, status=StepStatus.FAILED.value, ended=ended, metrics=dumps(metrics), message=shown)
                            if is_trial:
                                end_trial(name, StepStatus.FAILED, metrics)  # the sweep goes on with the other trials
                                continue
                            status[name] = StepStatus.FAILED
                            tail = self._tail(prep.folder / "std_log.txt")
                            skip_downstream(name)
                            if not failure:
                                failure = f"{message} The end of its log:\n{tail}" if tail else message
            except BaseException:
                # Leaving the pool waits for its threads: stop their steps first, or a failure here
                # (a full disk) would wait for every running step to end by itself.
                self.stop_steps()
                raise
            if self.cancel.is_set():
                self._stop_children()
                for future, name in list(running.items()):
                    future.result()
                    if name not in trial_of:
                        status[name] = StepStatus.CANCELED
                    self._step(name, status=StepStatus.CANCELED.value, ended=utcnow())
                    trials_left.discard(name)
                for name in active:
                    status[name] = StepStatus.CANCELED
                    self._step(name, status=StepStatus.CANCELED.value, ended=utcnow())
        self._steps([name for name, s in status.items() if s is StepStatus.QUEUED] + sorted(trials_left),
                    status=StepStatus.NOT_RUN.value, message="the run ended before it started")
        self._link_pipeline_outputs(pipeline, prepared)
        totals: dict[str, float] = {}
        for row_ in self.store.all("SELECT name, metrics FROM steps WHERE run_id = ? ORDER BY ord", self.run_id):
            if row_["name"] not in trial_of:  # a sweep's metrics are its best trial's
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

    def _prepare(self, pipeline: Pipeline, step: Step, parameters: Mapping[str, object], *,
                 overrides: Mapping[str, object] | None = None, name: str | None = None) -> Prepared:
        """A step (or, with ``name`` and ``overrides``, one trial of a sweep) ready to run."""
        if name is not None:
            step = replace(step, name=name)
        component = step.component
        folder = self.folder / "steps" / step.name
        out_root = folder / "outputs"
        values: dict[str, str | None] = {}
        placeholders: dict[str, str | None] = {}
        data_paths: dict[str, str] = {}
        inputs: dict[Path, Path] = {}
        for name, port in component.inputs.items():
            binding = step.inputs.get(name)
            value: object = port.default
            if isinstance(binding, ParentInput):
                value = parameters.get(binding.name)
            elif isinstance(binding, StepOutput):
                value = str(folder / "inputs" / name)
                inputs[Path(value)] = self.folder / "steps" / binding.step / "outputs" / binding.output
            elif isinstance(binding, DataValue):
                value = binding.path
            elif binding is not None:
                value = binding
            if overrides is not None and name in overrides:
                value = overrides[name]  # a sweep trial's sampled value
            if value is None:
                values[name] = placeholders[name] = None
            elif port.type.is_data:
                values[name] = str(value)
                # Data counts by content, not by where it lies, for reuse.
                placeholders[name] = f"<input:{name}>"
                raw = str(value)
                # A step output's copy is hashed from its stored source.
                data_paths[name] = raw if raw.startswith(("azureml", "http")) else str(inputs.get(Path(raw), Path(raw)))
            else:
                values[name] = placeholders[name] = format_literal(value)  # type: ignore[arg-type]
        outputs = {name: out_root / name for name in component.outputs}
        template = self._parallel_command(step) if step.parallel is not None else component.command
        command = render(template, values, {k: str(v) for k, v in outputs.items()})
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
        # Recorded for forced runs too, so the run after a forced one can reuse its steps.
        if component.is_deterministic:
            template = render(template, placeholders, {k: f"<output:{k}>" for k in outputs})
            # Data is read for its hash only here: a forced run or a non-deterministic step never pays for it.
            data = {n: v if v.startswith(("azureml", "http")) else _hash_path(Path(v)) for n, v in data_paths.items()}
            body = {"component": self._component_hash(component), "command": template, "data": data,
                    "env": {**component.environment_variables, **step.environment_variables}}
            reuse_key = hashlib.sha256(dumps(body).encode()).hexdigest()
        workdir = folder / "code"
        return Prepared(step, folder, workdir, command, env, outputs, reuse_key, inputs)

    def _parallel_command(self, step: Step) -> str:
        """A parallel step's command: parallel_run.py over its input, the task's program_arguments after ``--``."""
        task = step.parallel
        if task is None or task.input_data is None or task.entry_script is None:
            raise BackendError(f"the parallel step '{step.name}' has no input_data or entry_script; validate its pipeline.")
        python = (shutil.which("python", path=self.environ.get("PATH")) or shutil.which("python3", path=self.environ.get("PATH"))
                  or sys.executable)
        parts = [shlex.quote(python), shlex.quote(str(PARALLEL_DRIVER)), "--entry-script", shlex.quote(task.entry_script),
                 "--input-data", f"${{{{inputs.{task.input_data}}}}}",
                 "--mini-batch-size", shlex.quote(task.mini_batch_size or "1"),
                 "--concurrency", str(task.max_concurrency_per_instance),
                 # Unset thresholds fail the step on any failure: a local run should not hide one.
                 "--error-threshold", str(task.error_threshold if task.error_threshold is not None else 0),
                 "--mini-batch-error-threshold", str(task.mini_batch_error_threshold if task.mini_batch_error_threshold is not None else 0),
                 "--max-retries", str(task.max_retries or 0)]
        if task.append_row_to is not None:
            parts += ["--append-row-to", f"${{{{outputs.{task.append_row_to}}}}}"]
        return " ".join(parts) + " -- " + task.program_arguments

    def _adopt_outputs(self, prep: Prepared, trial: Prepared) -> None:
        """A sweep's outputs are its best trial's: the same stored tree, or hard links to its files."""
        stored = trial.folder / "outputs"
        target = prep.folder / "outputs"
        prep.folder.mkdir(parents=True, exist_ok=True)
        remove_tree(target)
        if stored.is_symlink():
            tree = stored.parent / os.readlink(stored)
            target.symlink_to(os.path.relpath(tree, prep.folder), target_is_directory=True)
        elif stored.is_dir():
            shutil.copytree(stored, target, copy_function=_link_or_copy)
        for name in prep.outputs:
            if not (target / name).exists() and not target.is_symlink():
                (target / name).mkdir(parents=True, exist_ok=True)

    def _try_reuse(self, prep: Prepared) -> bool:
        if prep.reuse_key is None or self.force:
            return False
        # A reused step holds its own links to the outputs, so it can be reused in turn after gc removed
        # the run that first computed them.
        hit = self.store.one(
            "SELECT run_id, metrics FROM steps WHERE reuse_key = ? AND status IN (?, ?) ORDER BY ended DESC LIMIT 1",
            prep.reuse_key, StepStatus.COMPLETED.value, StepStatus.REUSED.value,
        )
        if hit is None:
            return False
        source = run_dir(self.store_dir, hit["run_id"]) / "steps" / prep.step.name
        if not (source / "outputs").is_dir() and prep.outputs:
            return False  # its outputs are gone (cleaned up): run the step again
        now = utcnow()
        prep.folder.mkdir(parents=True, exist_ok=True)
        try:
            stored = source / "outputs"
            if stored.is_symlink() and all((stored / name).is_dir() for name in prep.outputs):
                # The same stored folder as the earlier run (see objects.share_folder): link to it too.
                tree = stored.parent / os.readlink(stored)
                os.utime(tree)  # fresh: gc will not take it while this link is being made
                (prep.folder / "outputs").symlink_to(os.path.relpath(tree, prep.folder), target_is_directory=True)
            elif stored.is_dir():
                shutil.copytree(stored, prep.folder / "outputs", copy_function=_link_or_copy, dirs_exist_ok=True)
        except OSError:  # gc removed the earlier run meanwhile: run the step instead
            remove_tree(prep.folder / "outputs")
            return False
        for name in prep.outputs:
            (prep.folder / "outputs" / name).mkdir(parents=True, exist_ok=True)
        if (source / "std_log.txt").exists():
            _link_or_copy(str(source / "std_log.txt"), str(prep.folder / "std_log.txt"))
        self._step(prep.step.name, status=StepStatus.REUSED.value, started=now, ended=now,
                   reused_from=hit["run_id"], metrics=hit["metrics"], reuse_key=prep.reuse_key)
        return True

    def _run_step(self, prep: Prepared) -> tuple[int, str, str]:
        """In a pool thread: lay out the folder, run the command, return (exit code, started, ended)."""
        started = utcnow()
        prep.folder.mkdir(parents=True, exist_ok=True)
        for path in prep.outputs.values():
            path.mkdir(parents=True, exist_ok=True)
        code = prep.step.component.code
        # Private copies (reflinks where the filesystem can), so a step cannot change the published
        # snapshot or an upstream step's stored outputs.
        if code is not None and code.is_dir():
            materialize(code, prep.workdir, ignore=("__pycache__",))
        else:
            prep.workdir.mkdir(parents=True, exist_ok=True)
            if code is not None:
                materialize(code, prep.workdir / code.name)
        for dest, source in prep.inputs.items():
            materialize(source, dest)
        (prep.folder / "command.txt").write_text(prep.command + "\n")
        with (prep.folder / "std_log.txt").open("wb") as log:
            if self.cancel.is_set():
                return -signal.SIGTERM, started, utcnow()
            # Its own process group (in the worker's session): a timeout or cancel signals the step and
            # everything it started, and a dead worker's steps can still be found by the session.
            proc = subprocess.Popen([self.bash, "-c", prep.command], cwd=prep.workdir, env=prep.env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, process_group=0)
            self.procs[prep.step.name] = proc
            # Wait without reaping, so the group id cannot be reused before what the step left running in
            # the background is ended with it (as its container would be on Azure).
            try:
                os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
                _signal_group(proc.pid, signal.SIGKILL)
            except ChildProcessError:  # a cancel reaped it already, after killing its group
                pass
            code_ = proc.wait()
            self.procs.pop(prep.step.name, None)
        self._settle(prep)
        return code_, started, utcnow()

    def _settle(self, prep: Prepared) -> None:
        """Store what the step left by content: drop its copies of inputs and unchanged code, intern the rest."""
        try:
            remove_tree(prep.folder / "inputs")
            code = prep.step.component.code
            if code is not None:
                prune_copies(prep.workdir, code if code.is_dir() else code.parent)
            remove_empty_folders(prep.folder, keep=("outputs",))  # outputs stay, even empty: they are the contract
            share_folder(self.store_dir, prep.folder / "outputs", intern_tree(self.store_dir, prep.folder))
        except OSError:
            pass  # the files stay as they are: correct, only not shared

    def stop_steps(self) -> None:
        """The run ends early (the worker failed): no step outlives it."""
        self.cancel.set()
        self._stop_children()

    def _stop_children(self) -> None:
        """SIGTERM to every running step's process group, a grace period, then SIGKILL to what is left:
        a step that ignores SIGTERM and the children it started are gone too."""
        procs = list(self.procs.values())
        for proc in procs:
            _signal_group(proc.pid, signal.SIGTERM)
        give_up = time.monotonic() + KILL_GRACE_S
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, give_up - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in procs:
            _signal_group(proc.pid, signal.SIGKILL)

    def _tail(self, log: Path) -> str:
        return log_tail(log, LOG_TAIL_LINES)

    def _link_pipeline_outputs(self, pipeline: Pipeline, prepared: Mapping[str, Prepared]) -> None:
        """``${{parent.outputs.x}}``: the run's ``outputs/x`` points at the step output bound to it."""
        for step in pipeline.steps.values():
            for output, target in step.outputs.items():
                prep = prepared.get(step.name)
                if target and prep is not None and (prep.folder / "outputs" / output).exists():
                    link = self.folder / "outputs" / target
                    link.parent.mkdir(parents=True, exist_ok=True)
                    if not link.exists():
                        # Relative: short enough to live in the inode (no disk block), and the store can move.
                        target_path = os.path.relpath(prep.folder / "outputs" / output, link.parent)
                        link.symlink_to(target_path, target_is_directory=True)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
