"""The local backend runs, end to end, the step kinds beyond a command: a nested pipeline component, a sweep
(6 trials, the best by its metric) and a parallel run_function step (10 files in mini-batches of 3).

Each pipeline is a fixture under tests/fixtures/pipelines/, published and submitted through the backend as
`retrain submit` does; what is checked is what a user sees: the run's steps (as `retrain status` lists
them), their metrics and messages, the files the steps wrote, and the pipeline's outputs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from retrain.backends.base import Run, RunStatus, StepStatus, SubmitRequest
from retrain.backends.local import LocalBackend
from retrain.backends.local.executor import StepThreads
from retrain.report.console import render_run
from retrain.pipeline.load import load_pipeline
from tests.paths import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "pipelines"


def run_fixture(tmp_path: Path, name: str, change: Callable[[Path], None] | None = None,
                **parameters: object) -> tuple[LocalBackend, Run]:
    """Publish the fixture pipeline ``name`` (after ``change`` edits its copy) and run it to its end."""
    project = tmp_path / name
    shutil.copytree(FIXTURES / name, project)
    if change is not None:
        change(project)
    backend = LocalBackend(tmp_path / "store", environ=os.environ)
    pipeline = load_pipeline(project / "pipeline.yml", boundary=project)
    backend.publish(pipeline, endpoint="ep-test", make_default=True, source_commit="c1")
    run = backend.submit(SubmitRequest(pipeline=name, endpoint="ep-test", version="default", parameters=parameters,
                                       experiment="exp", key=f"k-{name}"))
    give_up = time.monotonic() + 120
    while not run.status.is_terminal and time.monotonic() < give_up:
        time.sleep(0.05)
        run = backend.run(run.id)
    return backend, run


def outputs_of(run: Run, step: str) -> Path:
    return Path(run.url.removeprefix("file://")) / "steps" / step / "outputs"  # type: ignore[union-attr]


def test_a_nested_pipeline_component_runs_flattened_with_its_own_inputs_and_outputs(tmp_path: Path) -> None:
    backend, run = run_fixture(tmp_path, "nested_component")
    assert run.status is RunStatus.COMPLETED, run.message
    # The component's steps, named outer.inner, then the step that reads the component's output.
    assert [(s.name, s.status) for s in run.steps] == [
        ("train_pipeline.prepare", StepStatus.COMPLETED),
        ("train_pipeline.train", StepStatus.COMPLETED),
        ("evaluate", StepStatus.COMPLETED),
    ]
    # prepare got the pipeline's data through the component's raw_data and its own default suffix ...
    assert (outputs_of(run, "train_pipeline.prepare") / "prepared" / "count.txt").read_text() == "3 rows"
    # ... train the pipeline's factor 3 through the component's factor (whose default is 1).
    assert json.loads((outputs_of(run, "train_pipeline.train") / "model" / "model.json").read_text()) == {"weight": 9}
    assert run.metrics == {"weight": 9.0}
    # The component's output, bound to the pipeline's model output, is the run's outputs/model.
    run_folder = Path(run.url.removeprefix("file://"))  # type: ignore[union-attr]
    assert json.loads((run_folder / "outputs" / "model" / "model.json").read_text()) == {"weight": 9}
    shown = render_run(run)
    assert "train_pipeline.prepare" in shown and "train_pipeline.train" in shown

    # A value given at submit reaches the inner step.
    _, again = run_fixture(tmp_path / "again", "nested_component", factor=5)
    assert again.status is RunStatus.COMPLETED, again.message
    assert again.metrics == {"weight": 15.0}


def test_a_sweep_of_six_trials_keeps_the_best_by_its_metric(tmp_path: Path) -> None:
    backend, run = run_fixture(tmp_path, "sweep")
    assert run.status is RunStatus.COMPLETED, run.message
    names = [s.name for s in run.steps]
    assert names == ["tune", *(f"tune.trial_{i}" for i in range(1, 7)), "use_best"]
    trials = [s for s in run.steps if s.name.startswith("tune.trial_")]
    assert all(t.status is StepStatus.COMPLETED for t in trials)
    # Each trial logged its score from the values it was given (shown in its message).
    scores = {}
    for t in trials:
        values = dict(re.findall(r"(\w+)=([\d.e-]+)", t.message))
        lr, layers = float(values["learning_rate"]), int(values["layers"])
        assert 0.0 <= lr <= 1.0 and layers in (1, 2, 3)
        assert t.metrics["score"] == pytest.approx(layers - (lr - 0.25) ** 2)
        scores[t.name] = t.metrics["score"]
    assert len(set(scores.values())) > 1  # sampled, not six copies of one point
    best = max(scores, key=lambda n: scores[n])
    tune = run.steps[0]
    assert tune.status is StepStatus.COMPLETED
    assert tune.metrics == {"score": scores[best]}
    assert tune.message.startswith(f"best of 6 trials: {best.split('.')[-1]} (score=")
    assert run.metrics == {"score": scores[best]}
    # The best trial's outputs are the sweep's: the next step read them.
    best_model = json.loads((outputs_of(run, best) / "model" / "model.json").read_text())
    assert json.loads((outputs_of(run, "tune") / "model" / "model.json").read_text()) == best_model
    log, _ = backend.logs(run.id, "use_best")
    assert json.loads(log.strip().splitlines()[-1]) == best_model
    assert all(name in render_run(run) for name in names)


def test_a_sweep_minimizing_and_failing_trials(tmp_path: Path) -> None:
    def minimize_and_fail_at_3_layers(project: Path) -> None:
        text = (project / "pipeline.yml").read_text().replace("goal: maximize", "goal: minimize")
        (project / "pipeline.yml").write_text(text)
        # A trial with 3 layers fails: the sweep goes on, and chooses among the others.
        script = project / "src" / "train.py"
        script.write_text(script.read_text() + "if args.layers == 3:\n    raise SystemExit(4)\n")

    _, run = run_fixture(tmp_path, "sweep", minimize_and_fail_at_3_layers)
    trials = [s for s in run.steps if ".trial_" in s.name]
    failed = [t for t in trials if t.status is StepStatus.FAILED]
    done = {t.name: t.metrics["score"] for t in trials if t.status is StepStatus.COMPLETED}
    assert failed and done and len(failed) + len(done) == 6
    assert all("layers=3" in t.message for t in failed)
    assert run.status is RunStatus.COMPLETED, run.message
    lowest = min(done, key=lambda n: done[n])
    assert run.steps[0].metrics == {"score": done[lowest]}
    assert run.steps[0].message.startswith(f"best of {len(done)} trials: {lowest.split('.')[-1]} (score=")


def test_a_parallel_step_runs_ten_files_in_batches_of_three(tmp_path: Path) -> None:
    backend, run = run_fixture(tmp_path, "parallel")
    assert run.status is RunStatus.COMPLETED, run.message
    assert [(s.name, s.status) for s in run.steps] == [("score", StepStatus.COMPLETED)]
    rows = (outputs_of(run, "score") / "scored" / "parallel_run_step.txt").read_text().splitlines()
    # One row per file, in mini-batch order, each made by run() with the program argument init() parsed.
    assert [r.split()[1] for r in rows] == [f"part_{i:02d}.txt" for i in range(1, 11)]
    assert all(r.startswith("scored ") for r in rows)
    assert [r.split()[2] for r in rows] == ["batch_of_3"] * 9 + ["batch_of_1"]
    assert rows[0].endswith("'item 01'")
    # max_concurrency_per_instance: 2 worker processes at most.
    assert 1 <= len({r.split()[3] for r in rows}) <= 2
    log, _ = backend.logs(run.id, "score")
    assert "10 files in 4 mini-batches, 2 processes" in log
    assert "4 of 4 mini-batches succeeded, 0 items failed" in log


def test_a_parallel_step_fails_past_its_error_threshold(tmp_path: Path) -> None:
    def fail_on_part_05(project: Path) -> None:
        script = project / "src" / "score.py"
        script.write_text(script.read_text() + "\n\n_run = run\n\ndef run(mini_batch):\n"
                          "    if any(f.endswith('part_05.txt') for f in mini_batch):\n        raise ValueError('bad file')\n"
                          "    return _run(mini_batch)\n")

    backend, run = run_fixture(tmp_path, "parallel", fail_on_part_05)
    assert run.status is RunStatus.FAILED
    assert "step 'score' failed with exit code 1" in run.message
    assert "ValueError: bad file" in run.message or "more failures than error_threshold" in run.message
    log, _ = backend.logs(run.id, "score")
    assert "3 of 4 mini-batches succeeded, 3 items failed" in log


def test_steps_that_ended_before_a_failed_step_thread_are_handed_back_first() -> None:
    # A step thread that fails (a bug: the worker then fails the run) must not take with it the ends of steps that
    # finished before it: those are recorded as they ended, and the failure comes on the next look.
    def run(prep: SimpleNamespace) -> tuple[int, str, str]:
        if prep.step.name == "bad":
            raise RuntimeError("a step thread's bug")
        return 0, "started", "ended"

    with StepThreads(1, run) as pool:  # one thread: "good" ends before "bad" fails
        for name in ("good", "bad"):
            pool.start(SimpleNamespace(step=SimpleNamespace(name=name)))  # type: ignore[arg-type]
        give_up = time.monotonic() + 10
        while pool.done.qsize() < 2 and time.monotonic() < give_up:
            time.sleep(0.01)
        assert pool.done.qsize() == 2  # both ends are waiting: the one ended() call below could take both
        assert pool.ended(timeout=None) == [("good", (0, "started", "ended"))]
        with pytest.raises(RuntimeError, match="a step thread's bug"):
            pool.ended(timeout=None)
        assert pool.running == set()
