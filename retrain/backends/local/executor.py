"""Execute one run: steps in dependency order, independent ones in parallel, each a subprocess in its
own folder, with its log kept per step, its metrics collected, and identical earlier steps reused.

The scheduling and the run's records are here; a step's preparation is ``prepare.py``, its process
``step_process.py``, reuse and output links ``reuse.py``.

This runs inside the worker process (``python -m retrain.backends.local.worker``), which is the leader
of its own process group: cancelling the run signals the whole group, steps included.
"""

from __future__ import annotations

import heapq
import json
import os
import queue
import signal
import subprocess
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import BackendError
from ...pipeline.flatten import local_steps
from ...pipeline.load import load_pipeline
from ...pipeline.model import Pipeline
from ...pipeline.types import format_literal
from ..base import RunStatus, StepStatus
from . import sweep as sweeps
from .sweep import run_step_names
from .direct import find_program
from .metrics import step_metrics
from .prepare import Prepared, StepPreparer
from .reuse import OutputLinks
from .step_process import StepProcesses
from .store import Store, dumps, run_dir, utcnow


@dataclass
class SweepState:
    """A sweep step while its trials run (main thread only)."""

    prep: Prepared
    pending: list[Prepared]
    limit: int
    running: int = 0
    results: list[tuple[str, dict[str, float]]] = field(default_factory=list)
    note: str = ""


Ended = tuple[int, str, str]  # a step's exit code, when it started, when it ended


def how_it_failed(code: int) -> str:
    """A failed step's end as a user reads it: its exit code, or the signal that killed it (a negative code)."""
    if code >= 0:
        return f"failed with exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = "an unknown signal"
    why = "; the system's out-of-memory killer sends it when memory runs out" if -code == signal.SIGKILL else ""
    return f"was killed by signal {-code} ({name}){why}"


class StepThreads:
    """Steps run in at most ``slots`` threads (started as they are needed), their ends handed back on one
    queue; leaving the ``with`` waits for the threads, as concurrent.futures' pool does. Not that pool:
    it imports logging, and every submit imports the executor before it forks the worker."""

    def __init__(self, slots: int, run: Callable[[Prepared], Ended]) -> None:
        self.slots, self.run = slots, run
        self.todo: queue.SimpleQueue[Prepared | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[tuple[str, Ended | None, BaseException | None]] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.running: set[str] = set()  # steps handed over whose end was not taken back yet

    def __enter__(self) -> StepThreads:
        return self

    def __exit__(self, *exc: object) -> None:
        for _ in self.threads:
            self.todo.put(None)
        for thread in self.threads:
            thread.join()

    def start(self, prep: Prepared) -> None:
        self.running.add(prep.step.name)
        if len(self.running) > len(self.threads) and len(self.threads) < self.slots:
            thread = threading.Thread(target=self._serve, name=f"step-{len(self.threads)}")
            thread.start()
            self.threads.append(thread)
        self.todo.put(prep)

    def _serve(self) -> None:
        while (prep := self.todo.get()) is not None:
            try:
                self.done.put((prep.step.name, self.run(prep), None))
            except BaseException as e:  # noqa: BLE001 - raised again in the main thread (see ended)
                self.done.put((prep.step.name, None, e))

    def ended(self, timeout: float | None) -> list[tuple[str, Ended]]:
        """The steps that ended: waits up to ``timeout`` for the first (None: until one ends), then takes
        whatever else ended meanwhile. A step whose thread failed raises its error here, once the steps that
        ended before it have been handed back (they finished: their ends must be recorded, not lost)."""
        found: list[tuple[str, Ended]] = []
        try:
            item = self.done.get(timeout=timeout)
            while True:
                name, result, error = item
                self.running.discard(name)
                if error is not None:
                    if found:
                        self.done.put(item)  # raised on the next call, after these are recorded
                        return found
                    raise error
                found.append((name, result))  # type: ignore[arg-type]
                item = self.done.get_nowait()
        except queue.Empty:
            pass
        return found


class Executor(StepPreparer, OutputLinks, StepProcesses):
    def __init__(self, store: Store, store_dir: Path, run_id: str, environ: Mapping[str, str],
                 pipeline: Pipeline | None = None) -> None:
        self.store, self.store_dir, self.run_id = store, store_dir, run_id
        self.pipeline = pipeline  # already loaded from the version's snapshot by a forking submitter
        self.environ = dict(environ)
        self.folder = run_dir(store_dir, run_id)
        self.cancel = threading.Event()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._component_hashes: dict[Path, str] = {}
        # Found once on the steps' PATH (as a process started with their environment finds it), not searched for
        # again by every step's start.
        self.bash = find_program("bash", self.environ.get("PATH") or os.defpath) or "bash"

    # -- database updates (main thread only) ------------------------------------------------------

    # A single statement is its own transaction (the connection autocommits), taking the write lock as it
    # starts, as BEGIN IMMEDIATE would: no BEGIN and COMMIT around it, two calls fewer per record.
    def _step(self, name: str, **fields: object) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.store.conn.execute(f"UPDATE steps SET {sets} WHERE run_id = ? AND name = ?", (*fields.values(), self.run_id, name))

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
        self.store.conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*fields.values(), self.run_id))

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
        self._recall_bash()

        status: dict[str, StepStatus] = {name: StepStatus.QUEUED for name in pipeline.steps}
        failure = ""
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

        with StepThreads(slots, self._run_step) as pool:
            running = pool.running
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
                            pool.start(tprep)
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
                        pool.start(prep)
                    if not running:
                        if ready or any(st.pending for st in active.values()):
                            continue
                        break  # nothing runs and nothing is ready: every step has its end
                    # The timeout only bounds how late a cancel (a signal) is noticed; a step that ends
                    # wakes this at once.
                    for name, (code, started, ended) in pool.ended(timeout=0.25):
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
                            message = f"step '{name}' {how_it_failed(code)}."
                            shown = f"{trial_notes[name]}; {how_it_failed(code)}" if is_trial else message
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
                while running:
                    for name, _ in pool.ended(timeout=None):
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
        self._record_bash()
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
