"""The local backend for real: versions, pinned snapshots, quoting, failures, parallel steps, reuse,
idempotent submits, cancel from another process, a killed worker, and MLflow metrics."""

from __future__ import annotations

import gc
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrain.backends.base import Run, RunStatus, StepStatus
from retrain.backends.local import DamagedRecord, LocalBackend
from retrain.report.console import print_logs
from retrain.flow.follow import Ending, follow
from retrain.errors import NotFound, UsageError
from retrain.pipeline.load import load_pipeline
from tests.backends.local.runs import submit, wait_for, write_pipeline
from tests.conftest import alive


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "store", environ=os.environ)


def test_versions_follow_content_and_a_pin_runs_its_own_snapshot(tmp_path: Path, backend: LocalBackend) -> None:
    src = tmp_path / "proj" / "src"
    src.mkdir(parents=True)
    (src / "step.py").write_text("print('version one code')\n")
    path = write_pipeline(tmp_path / "proj", """\
        a:
          code: src
          command: python step.py
        """)
    first = backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit="c1")
    again = backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit="c2")
    assert (first.version.number, first.created, first.version.is_default) == (1, True, True)
    assert (again.version.number, again.created) == (1, False)

    (src / "step.py").write_text("print('version two code')\n")
    second = backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit="c3")
    assert (second.version.number, second.created, second.version.is_default) == (2, True, False)
    endpoint = backend.endpoint("ep-test")
    assert (endpoint.default_version, [v.number for v in endpoint.versions]) == (1, [1, 2])
    assert endpoint.version(1).source_commit == "c1"  # type: ignore[union-attr]

    run1 = wait_for(backend, submit(backend, "k1", version=1))
    run2 = wait_for(backend, submit(backend, "k2", version="latest"))
    assert backend.logs(run1.id, "a")[0] == "version one code\n"
    assert backend.logs(run2.id, "a")[0] == "version two code\n"
    assert (run1.version, run2.version) == (1, 2)

    moved = backend.publish(load_pipeline(path), endpoint="ep-test", make_default=True, source_commit=None)
    assert (moved.version.number, moved.created, moved.default_moved) == (2, False, True)
    assert backend.endpoint("ep-test").default_version == 2


def test_unknown_names_list_what_exists(tmp_path: Path, backend: LocalBackend) -> None:
    path = write_pipeline(tmp_path / "proj", "a:\n  command: 'true'\n", inputs="rate: 0.1\n")
    with pytest.raises(NotFound, match="Nothing is published yet: run retrain publish."):
        backend.endpoint("ep-test")
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    with pytest.raises(NotFound) as e:
        submit(backend, "k", version=7)
    assert str(e.value) == "endpoint 'ep-test' has no version 7. Its versions: 1."
    with pytest.raises(UsageError) as e2:
        submit(backend, "k", rte=0.2)
    assert str(e2.value) == "version of 'ep-test' has no parameter 'rte'. Did you mean 'rate'? Its parameters: rate."
    with pytest.raises(UsageError, match="'rate' is a number; 'fast' is not"):
        submit(backend, "k", rate="fast")


def test_values_reach_the_command_as_one_literal_argument(tmp_path: Path, backend: LocalBackend) -> None:
    path = write_pipeline(tmp_path / "proj", """\
        a:
          inputs:
            text: ${{parent.inputs.text}}
          command: python -c "import sys, json; print(json.dumps(sys.argv[1:]))" ${{inputs.text}}
        """, inputs="text: hello\n")
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    canary = tmp_path / "PWNED"
    run = wait_for(backend, submit(backend, "k", text=f"x; touch {canary} $(touch {canary}) `touch {canary}`"))
    assert run.status is RunStatus.COMPLETED, run.message
    assert json.loads(backend.logs(run.id, "a")[0]) == [f"x; touch {canary} $(touch {canary}) `touch {canary}`"]
    assert not canary.exists()


def test_a_failed_step_stops_what_depends_on_it(tmp_path: Path, backend: LocalBackend) -> None:
    path = write_pipeline(tmp_path / "proj", """\
        bad:
          outputs: {o: }
          command: echo about to fail; echo the reason >&2; exit 3
        after_bad:
          inputs: {x: '${{parent.jobs.bad.outputs.o}}'}
          command: echo never
        independent:
          command: echo fine
        """)
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    run = wait_for(backend, submit(backend, "k"))
    assert run.status is RunStatus.FAILED
    assert {s.name: s.status for s in run.steps} == {
        "bad": StepStatus.FAILED, "after_bad": StepStatus.NOT_RUN, "independent": StepStatus.COMPLETED}
    assert run.message == "step 'bad' failed with exit code 3. The end of its log:\nabout to fail\nthe reason"


def test_independent_steps_run_in_parallel(tmp_path: Path, backend: LocalBackend) -> None:
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two cores")
    path = write_pipeline(tmp_path / "proj", """\
        left:
          command: python -c "import time; print(time.time()); time.sleep(1); print(time.time())"
        right:
          command: python -c "import time; print(time.time()); time.sleep(1); print(time.time())"
        """)
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    run = wait_for(backend, submit(backend, "k"))
    (l0, l1), (r0, r1) = ([float(x) for x in backend.logs(run.id, s)[0].split()] for s in ("left", "right"))
    assert l0 < r1 and r0 < l1  # the two sleeps overlapped


def test_identical_steps_are_reused_unless_forced_or_not_deterministic(tmp_path: Path, backend: LocalBackend) -> None:
    data = tmp_path / "proj" / "data.csv"
    path = write_pipeline(tmp_path / "proj", """\
        copy:
          inputs: {src: '${{parent.inputs.data}}'}
          outputs: {o: }
          command: cp ${{inputs.src}} ${{outputs.o}}/copy.csv && date +%s%N
        count:
          inputs: {x: '${{parent.jobs.copy.outputs.o}}'}
          command: wc -l < ${{inputs.x}}/copy.csv
        clock:
          component:
            is_deterministic: false
            command: date +%s%N
        """, inputs="data: {type: uri_file, path: ./data.csv}\n")
    data.write_text("a\n1\n")
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    first = wait_for(backend, submit(backend, "k1"))
    second = wait_for(backend, submit(backend, "k2"))
    status = {s.name: (s.status, s.reused_from) for s in second.steps}
    assert status == {"copy": (StepStatus.REUSED, first.id), "count": (StepStatus.REUSED, first.id),
                      "clock": (StepStatus.COMPLETED, None)}
    assert backend.logs(second.id, "count")[0] == "2\n"  # reused outputs keep their log

    data.write_text("a\n1\n2\n")  # same path, new content: the data counts by content
    third = wait_for(backend, submit(backend, "k3"))
    assert [s.status for s in third.steps][:2] == [StepStatus.COMPLETED, StepStatus.COMPLETED]
    assert backend.logs(third.id, "count")[0] == "3\n"

    forced = wait_for(backend, submit(backend, "k4", force=True))
    assert all(s.status is StepStatus.COMPLETED for s in forced.steps)


def test_a_reused_step_takes_the_outputs_of_the_step_that_did_its_work(tmp_path: Path, backend: LocalBackend) -> None:
    """Reuse goes by what a step does, not by its name: with the parameters swapped, `a` now does what `b` did
    (and the other way round), so each takes the other's outputs. Identical steps in a chain (the same command,
    the same input) run each in the first run and are all reused in the next."""
    path = write_pipeline(tmp_path / "proj", """\
        a:
          inputs: {v: '${{parent.inputs.pa}}'}
          outputs: {o: }
          command: echo ${{inputs.v}} > ${{outputs.o}}/x
        b:
          inputs: {v: '${{parent.inputs.pb}}'}
          outputs: {o: }
          command: echo ${{inputs.v}} > ${{outputs.o}}/x
        s0:
          outputs: {o: }
          command: touch ${{outputs.o}}/done
        s1:
          inputs: {x: '${{parent.jobs.s0.outputs.o}}'}
          outputs: {o: }
          command: touch ${{outputs.o}}/done
        s2:
          inputs: {x: '${{parent.jobs.s1.outputs.o}}'}
          outputs: {o: }
          command: touch ${{outputs.o}}/done
        """, inputs="pa: A\npb: B\n")
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    first = wait_for(backend, submit(backend, "k1"))
    assert all(s.status is StepStatus.COMPLETED for s in first.steps)
    swapped = wait_for(backend, submit(backend, "k2", pa="B", pb="A"))
    # The report says where each came from: the step of another name that made it, else the run alone.
    assert {s.name: (s.status, s.reused_from) for s in swapped.steps} == {
        "a": (StepStatus.REUSED, f"{first.id}/b"), "b": (StepStatus.REUSED, f"{first.id}/a"),
        **{name: (StepStatus.REUSED, first.id) for name in ("s0", "s1", "s2")}}
    folder = Path(swapped.url.removeprefix("file://")) / "steps"  # type: ignore[union-attr]
    assert (folder / "a" / "outputs" / "o" / "x").read_text() == "B\n"
    assert (folder / "b" / "outputs" / "o" / "x").read_text() == "A\n"
    assert all((folder / s / "outputs" / "o" / "done").is_file() for s in ("s0", "s1", "s2"))


def test_the_same_key_returns_the_same_run(tmp_path: Path, backend: LocalBackend) -> None:
    path = write_pipeline(tmp_path / "proj", "a:\n  command: 'true'\n")
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    first = submit(backend, "same-key")
    again = submit(backend, "same-key")
    assert again.id == first.id
    assert len(backend.runs()) == 1
    assert backend.find_run("same-key").id == first.id  # type: ignore[union-attr]
    assert backend.find_run("other") is None


def child_pids(run_dir: Path) -> list[int]:
    return [int(p.read_text()) for p in run_dir.rglob("pid.txt")]


SLEEPER = """\
    slow:
      command: echo $$ > pid.txt; echo started; sleep 60
    """


def started(backend: LocalBackend, run: Run, timeout: float = 30) -> Path:
    run_dir = Path(run.url.removeprefix("file://"))  # type: ignore[union-attr]
    give_up = time.monotonic() + timeout
    while not child_pids(run_dir) and time.monotonic() < give_up:
        time.sleep(0.05)
    assert child_pids(run_dir), "the step never started"
    return run_dir


TWO_SLEEPERS = """\
    slow:
      command: echo $$ > pid.txt; echo started; sleep 60
    other:
      command: echo $$ > pid.txt; echo started; sleep 60
    """


# A plain command (no shell syntax) runs as its program, without bash (see direct.py): a cancel stops it too.
PLAIN_SLEEPER = f"""\
    slow:
      command: {sys.executable} -c 'import os, time; open("pid.txt", "w").write(str(os.getpid())); time.sleep(60)'
    """


# A cancel stops a lone step and steps running side by side alike.
@pytest.mark.parametrize("jobs", [SLEEPER, TWO_SLEEPERS, PLAIN_SLEEPER], ids=["one step", "two parallel steps", "a plain command"])
def test_cancel_from_another_process_stops_every_child(tmp_path: Path, backend: LocalBackend, jobs: str) -> None:
    path = write_pipeline(tmp_path / "proj", jobs)
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    steps = jobs.count("command:")
    if steps > (os.cpu_count() or 1):
        pytest.skip("one core: the two steps would not run at once")
    run = submit(backend, "k")
    run_dir = started(backend, run)
    give_up = time.monotonic() + 30
    while len(child_pids(run_dir)) < steps and time.monotonic() < give_up:
        time.sleep(0.05)
    step_pids = child_pids(run_dir)
    assert len(step_pids) == steps
    out = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from retrain.backends.local import LocalBackend; "
                          "print(LocalBackend(Path(sys.argv[1])).cancel(sys.argv[2]).status.value)", str(backend.store_dir), run.id],
                         capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "canceled"
    run = backend.run(run.id)
    assert run.status is RunStatus.CANCELED
    assert [s.status for s in run.steps] == [StepStatus.CANCELED] * steps
    time.sleep(0.2)
    assert not any(alive(pid) for pid in step_pids)


def test_a_killed_worker_is_repaired_on_next_open(tmp_path: Path, backend: LocalBackend) -> None:
    path = write_pipeline(tmp_path / "proj", SLEEPER)
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    run = submit(backend, "k")
    run_dir = started(backend, run)
    pid = backend.store.one("SELECT pid FROM runs WHERE id = ?", run.id)["pid"]  # type: ignore[index]
    os.kill(pid, signal.SIGKILL)
    give_up = time.monotonic() + 10
    while alive(pid) and time.monotonic() < give_up:
        time.sleep(0.05)
    for step_pid in child_pids(run_dir):  # the step was orphaned by the kill; clean up after the test
        os.kill(step_pid, signal.SIGKILL)
    reopened = LocalBackend(backend.store_dir)
    repaired = reopened.run(run.id)
    assert repaired.status is RunStatus.FAILED
    assert repaired.message == f"the process running it (pid {pid}) stopped unexpectedly (killed by SIGKILL); submit it again."
    assert [s.status for s in repaired.steps] == [StepStatus.FAILED]


def test_metrics_from_mlflows_file_store_and_metrics_json(tmp_path: Path, backend: LocalBackend) -> None:
    # Written by hand in MLflow's file-store layout, so the test does not need MLflow installed.
    path = write_pipeline(tmp_path / "proj", """\
        evaluate:
          outputs: {report: }
          command: >-
            mkdir -p "$(python -c 'import os,urllib.parse as u; print(u.urlparse(os.environ["MLFLOW_TRACKING_URI"]).path)')/1/abc/metrics" &&
            cd "$(python -c 'import os,urllib.parse as u; print(u.urlparse(os.environ["MLFLOW_TRACKING_URI"]).path)')/1/abc/metrics" &&
            printf '1700000000000 0.5 0\\n1700000000100 0.91 1\\n' > auc && printf '1700000000000 0.8 0\\n' > accuracy &&
            echo '{"rows": 120}' > ${{outputs.report}}/metrics.json
        """)
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    run = wait_for(backend, submit(backend, "k"))
    assert run.status is RunStatus.COMPLETED, run.message
    assert dict(run.metrics) == {"auc": 0.91, "accuracy": 0.8, "rows": 120.0}
    assert dict(run.steps[0].metrics) == {"auc": 0.91, "accuracy": 0.8, "rows": 120.0}


def test_steps_see_azure_style_variables_and_no_credentials(tmp_path: Path) -> None:
    from retrain.config.backend import step_environment

    backend = LocalBackend(tmp_path / "store", environ=step_environment(
        {**os.environ, "INPUT_AZURE-CLIENT-SECRET": "hidden", "GITHUB_TOKEN": "ghs_hidden"}))
    path = write_pipeline(tmp_path / "proj", """\
        a:
          inputs: {n: '${{parent.inputs.n}}'}
          outputs: {o: }
          command: env | sort | grep -E '^(AZURE_ML|MLFLOW_EXPERIMENT|INPUT_|GITHUB_TOKEN)' || true
        """, inputs="n: 3\n")
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    run = wait_for(backend, submit(backend, "k"))
    lines = backend.logs(run.id, "a")[0].splitlines()
    assert lines[0] == "AZURE_ML_INPUT_n=3"
    assert lines[1].startswith("AZURE_ML_OUTPUT_o=") and lines[1].endswith("/steps/a/outputs/o")
    assert lines[2:] == ["MLFLOW_EXPERIMENT_NAME=exp"]


# -- faults: a dead worker, a step that ignores SIGTERM, a damaged row, a full disk ------------------


def test_the_follower_notices_a_dead_worker_and_ends_the_run_with_the_reason(tmp_path: Path, backend: LocalBackend) -> None:
    path = write_pipeline(tmp_path / "proj", SLEEPER)
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    run = submit(backend, "k")
    run_dir = started(backend, run)
    [step_pid] = child_pids(run_dir)
    pid = backend.store.one("SELECT pid FROM runs WHERE id = ?", run.id)["pid"]  # type: ignore[index]
    os.kill(pid, signal.SIGKILL)
    looks: list[Run] = []
    followed = follow(backend, run, timeout_s=3600, on_change=looks.append)
    assert followed.ending is Ending.FINISHED
    assert followed.run.status is RunStatus.FAILED
    assert followed.run.message == f"the process running it (pid {pid}) stopped unexpectedly (killed by SIGKILL); submit it again."
    assert [s.status for s in followed.run.steps] == [StepStatus.FAILED]
    give_up = time.monotonic() + 5
    while alive(step_pid) and time.monotonic() < give_up:
        time.sleep(0.05)
    assert not alive(step_pid)  # the step the dead worker left behind was stopped with it


STUBBORN = """\
    stubborn:
      command: trap '' TERM; sleep 60 & echo $! > child.txt; echo $$ > pid.txt; while true; do sleep 0.1; done
    """


def test_a_timeout_kills_a_step_that_ignores_sigterm_and_its_children(tmp_path: Path, backend: LocalBackend) -> None:
    path = write_pipeline(tmp_path / "proj", STUBBORN)
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    run = submit(backend, "k")
    run_dir = started(backend, run)
    give_up = time.monotonic() + 10
    while not list(run_dir.rglob("child.txt")) and time.monotonic() < give_up:
        time.sleep(0.05)
    [step_pid] = child_pids(run_dir)
    [child] = [int(p.read_text()) for p in run_dir.rglob("child.txt")]
    followed = follow(backend, run, timeout_s=0.5, on_change=lambda r: None)
    assert followed.ending is Ending.TIMED_OUT
    assert followed.run.status is RunStatus.CANCELED
    assert [s.status for s in followed.run.steps] == [StepStatus.CANCELED]
    assert not alive(step_pid) and not alive(child)


def test_a_damaged_row_is_named_and_the_rest_of_the_store_still_lists(tmp_path: Path, backend: LocalBackend) -> None:
    path = write_pipeline(tmp_path / "proj", "a:\n  command: echo fine\n")
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    good, bad_json, bad_status, bad_metrics = (wait_for(backend, submit(backend, f"k{i}")) for i in range(4))
    with backend.store.write() as db:
        db.execute("UPDATE runs SET parameters = '{not json' WHERE id = ?", (bad_json.id,))
        db.execute("UPDATE runs SET status = 'exploded' WHERE id = ?", (bad_status.id,))
        db.execute("UPDATE steps SET metrics = '[1' WHERE run_id = ?", (bad_metrics.id,))
    listed = backend.runs()
    assert [r.id for r in listed] == [good.id]
    assert len(backend.damaged) == 3
    assert all(f"run '{r.id}'" in text for r, text in zip((bad_metrics, bad_status, bad_json), backend.damaged))
    with pytest.raises(DamagedRecord) as e:
        backend.run(bad_status.id)
    assert str(e.value).startswith(f"the record of run '{bad_status.id}' in the local store {backend.store_dir} is damaged "
                                   f"(unknown status 'exploded'); the other runs are not affected.")
    assert e.value.exit_code == 1
    assert backend.run(good.id).status is RunStatus.COMPLETED


def test_the_cli_lists_past_a_damaged_row_and_names_it(project: Path) -> None:
    from retrain.cli.main import main

    assert main(["submit", "tiny"]) == 0
    store = LocalBackend(project / ".retrain")
    [run] = store.runs()
    with store.store.write() as db:
        db.execute("UPDATE runs SET tags = 'oops' WHERE id = ?", (run.id,))
    out = subprocess.run([sys.executable, "-m", "retrain", "runs"], capture_output=True, text=True, cwd=project)
    assert (out.returncode, out.stdout.strip()) == (0, "no runs yet.")
    assert out.stderr.startswith(f"warning: the record of run '{run.id}' in the local store {project / '.retrain'} is damaged")
    out = subprocess.run([sys.executable, "-m", "retrain", "status", run.id], capture_output=True, text=True, cwd=project)
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: the record of run '{run.id}'")
    assert "Traceback" not in out.stderr


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs: a disk that really fills up (needs root, as in CI's container; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_during_a_run_is_exit_1_naming_the_store(tmp_path: Path, small_disk: Path) -> None:
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    (project / "src" / "step.py").write_text("print('never runs')\n" + "#" * 20000 + "\n")
    write_pipeline(project, """\
        fill:
          outputs: {o: }
          command: head -c 8000000 /dev/zero > ${{outputs.o}}/big || true
        after:
          inputs: {x: '${{parent.jobs.fill.outputs.o}}'}
          code: src
          command: python step.py ${{inputs.x}}
        """)
    store = small_disk / "store"
    (project / "retrain.yml").write_text(
        f"backend: {{kind: local, store: {store}}}\npipelines:\n  p:\n    definition: pipeline.yml\n    endpoint: ep-test\n")
    run_cli = [sys.executable, "-m", "retrain"]
    assert subprocess.run([*run_cli, "publish"], cwd=project, capture_output=True).returncode == 0
    out = subprocess.run([*run_cli, "submit", "p"], cwd=project, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"the disk holding the local store {store} is full" in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    for big in store.rglob("big"):
        big.unlink()  # space again: the run is (or now gets) recorded failed, with the reason
    [run] = LocalBackend(store).runs()
    assert run.status is RunStatus.FAILED
    # When even the store's database had no room, nothing could keep the reason for a later process:
    # the run is then recorded failed by the next command that opens the store, as a stopped worker.
    assert run.message.startswith((f"the disk holding the local store {store} is full", "the process running it (pid "))


# -- logs: chunks, long lines, output without a newline ---------------------------------------------


def test_long_lines_are_cut_and_output_without_a_newline_is_shown(tmp_path: Path, backend: LocalBackend) -> None:
    path = write_pipeline(tmp_path / "proj", """\
        a:
          command: echo first; python -c "import sys; sys.stdout.write('x' * 300000 + '\\n')"; printf 'no newline at the end'
        """)
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    logged: list[str] = []
    followed = follow(backend, submit(backend, "k"), timeout_s=60, on_change=lambda r: None,
                      on_log=lambda step, text: logged.append(text))
    assert followed.run.status is RunStatus.COMPLETED
    lines = "".join(logged).splitlines()
    assert lines == ["first", "x" * 4096 + " [line cut at 4096 bytes]", "no newline at the end"]
    shown = io.StringIO()
    print_logs(backend, followed.run, shown)  # what retrain status --logs prints
    printed = shown.getvalue().splitlines()  # not a terminal: inside a stop-commands block
    stop = printed[2].removeprefix("::stop-commands::")
    assert printed == ["", "--- a ---", f"::stop-commands::{stop}", *lines, f"::{stop}::"]


def test_what_a_step_leaves_running_in_the_background_ends_with_it(tmp_path: Path, backend: LocalBackend) -> None:
    path = write_pipeline(tmp_path / "proj", "a:\n  command: sleep 60 & echo $! > child.txt; echo left it running\n")
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    run = wait_for(backend, submit(backend, "k"))
    assert run.status is RunStatus.COMPLETED
    [child] = [int(p.read_text()) for p in Path(run.url.removeprefix("file://")).rglob("child.txt")]  # type: ignore[union-attr]
    assert not alive(child)


def in_fresh_interpreter(scenario: str, path: str, *args: str) -> dict[str, object]:
    """Run ``scenario`` (a function of this module) in a new interpreter and return what it reports (JSON).

    Whether the worker is forked or spawned depends on the threads of the submitting process: forked when its
    main thread runs alone. A test process cannot promise that (an earlier test may have left a fake server's
    thread running), a new interpreter can: "fork" runs the scenario with only its main thread, "spawn" starts
    a second thread first, as a caller running a server beside retrain would have."""
    code = ("import json, sys, threading; import tests.backends.local.test_local_backend as t\n"
            "hold = threading.Event()\n"
            "if sys.argv[2] == 'spawn': threading.Thread(target=hold.wait, daemon=True).start()\n"
            "try: print(json.dumps(getattr(t, sys.argv[1])(sys.argv[2], *sys.argv[3:])))\n"
            "finally: hold.set()\n")
    root = Path(__file__).resolve().parents[3]  # the repository: where the package `tests` is found
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out = subprocess.run([sys.executable, "-c", code, scenario, path, *args], capture_output=True, text=True, env=env,
                         cwd=root, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def worker_commands(path: str, folder: str) -> dict[str, object]:
    """Submit a sleeping run alone, then beside a second open connection to the store; report each worker's
    command line (as ps shows it), the threads running at submit, and what a cancel ended each run as."""
    tmp = Path(folder)
    backend = LocalBackend(tmp / "store", environ=os.environ)
    backend.publish(load_pipeline(write_pipeline(tmp / "proj", SLEEPER)), endpoint="ep-test", make_default=False,
                    source_commit=None)
    seen: dict[str, object] = {"threads": threading.active_count()}
    for key in ("alone", "beside"):
        other = LocalBackend(backend.store_dir) if key == "beside" else None  # a second open connection
        run = submit(backend, key)
        started(backend, run)
        pid = backend.store.one("SELECT pid FROM runs WHERE id = ?", run.id)["pid"]  # type: ignore[index]
        seen[key] = [part.decode() for part in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
        seen[f"{key} canceled"] = backend.cancel(run.id).status.value
        del other
    return seen


def open_pipes() -> set[str]:
    """The pipes this process holds open, as /proc names them (``pipe:[inode]``)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # the listing's own descriptor, closed by now
            continue
        if target.startswith("pipe:"):
            found.add(target)
    return found


def unrecorded_worker(path: str, folder: str) -> dict[str, object]:
    """Start a run's worker whose record fails (a full disk as the run is written): what is left behind."""
    tmp = Path(folder)
    backend = LocalBackend(tmp / "store", environ=os.environ)
    pipeline = load_pipeline(write_pipeline(tmp / "proj", SLEEPER))
    backend.publish(pipeline, endpoint="ep-test", make_default=False, source_commit=None)
    before = open_pipes()
    pids: list[int | None] = []

    def record(pid: int | None) -> None:
        pids.append(pid)
        raise OSError(28, "No space left on device")

    log = tmp / "store" / "worker.log"
    try:
        backend._start_worker("run-unrecorded", log, pipeline, record)
        error = ""
    except OSError as e:
        error = str(e)
    ended = None
    if pids and pids[0] is not None:  # a forked worker: it must end by itself, having done nothing
        deadline = time.monotonic() + 10
        while ended is None and time.monotonic() < deadline:
            pid, status = os.waitpid(pids[0], os.WNOHANG)
            ended = os.waitstatus_to_exitcode(status) if pid else None
            time.sleep(0.01)
    return {"error": error, "forked": bool(pids and pids[0]), "worker exit": ended, "log": log.exists(),
            "runs": len(backend.runs()),
            "pipes left open": sorted(open_pipes() - before)}


@pytest.mark.parametrize("path", ["fork", "spawn"])
def test_a_run_that_cannot_be_recorded_leaves_no_worker_no_log_and_no_open_file(tmp_path: Path, path: str) -> None:
    seen = in_fresh_interpreter("unrecorded_worker", path, str(tmp_path))
    assert seen["error"] == "[Errno 28] No space left on device"
    assert seen["forked"] is (path == "fork")
    assert seen["worker exit"] == (0 if path == "fork" else None)  # the forked worker ended unused, at once
    assert (seen["log"], seen["runs"], seen["pipes left open"]) == (False, 0, [])


@pytest.mark.parametrize("path", ["fork", "spawn"])
def test_the_worker_is_forked_alone_and_spawned_beside_another_connection(tmp_path: Path, path: str) -> None:
    seen = in_fresh_interpreter("worker_commands", path, str(tmp_path))
    spawned = ["-m", "retrain.backends.local.worker"]
    if path == "fork":  # only the main thread: the worker is a fork, with the submitting process's command line
        assert seen["threads"] == 1
        assert seen["alone"][1:3] != spawned and "retrain.backends.local.worker" not in seen["alone"]  # type: ignore[index, operator]
        assert seen["alone"][1] == "-c"  # type: ignore[index]
    else:  # another thread: forking is not safe, the worker is started with python -m
        assert seen["threads"] == 2
        assert seen["alone"][1:3] == spawned  # type: ignore[index]
    assert seen["beside"][1:3] == spawned  # type: ignore[index]  # another connection open: never forked
    assert (seen["alone canceled"], seen["beside canceled"]) == ("canceled", "canceled")


def test_a_connection_nobody_closed_does_not_break_the_worker(tmp_path: Path, backend: LocalBackend) -> None:
    # A backend dropped without closing (as `retrain publish` run in-process leaves one) keeps its SQLite
    # connection open until the garbage collector runs: the connection and its statement cache are a
    # reference cycle. A worker forked meanwhile inherited SQLite's records of the store's open files and
    # died opening the store ("disk I/O error"), failing the run at random. The collector is held off here
    # so that moment is certain.
    path = write_pipeline(tmp_path / "proj", "a:\n  command: echo done\n")
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    gc.collect()
    gc.disable()
    try:
        dropped = LocalBackend(backend.store_dir)
        assert dropped.runs() == []
        del dropped
        run = wait_for(backend, submit(backend, "k"))
    finally:
        gc.enable()
    log = (Path(run.url.removeprefix("file://")) / "worker.log").read_text()  # type: ignore[union-attr]
    assert run.status is RunStatus.COMPLETED, f"{run.message}\nworker.log:\n{log}"
    assert [s.status for s in run.steps] == [StepStatus.COMPLETED]


class Lingering:
    """Garbage only the collector frees (a reference cycle, as an unclosed SQLite connection is with its
    statement cache) that notes which process finalized it."""

    def __init__(self, marker: Path) -> None:
        self.marker, self.me = marker, self

    def __del__(self) -> None:
        with self.marker.open("a") as f:
            f.write(f"{os.getpid()}\n")


def test_a_forked_worker_never_finalizes_what_the_submitter_left(tmp_path: Path, backend: LocalBackend) -> None:
    # A dropped connection to another store, finalized by the collector inside a forked worker, closes
    # descriptor numbers that by then name the worker's own store or logs: its run failed with "disk I/O
    # error" or "locking protocol". A low threshold makes the collector run in the worker, as it may.
    path = write_pipeline(tmp_path / "proj", "a:\n  command: echo done\n")
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    marker = tmp_path / "finalized"
    threshold = gc.get_threshold()
    gc.collect()
    gc.set_threshold(250)
    try:
        for key in ("a", "b", "c"):
            Lingering(marker)
            run = wait_for(backend, submit(backend, key))
            assert run.status is RunStatus.COMPLETED, run.message
    finally:
        gc.set_threshold(*threshold)
    gc.collect()
    assert marker.read_text().split() == [str(os.getpid())] * 3  # each finalized once, by this process


def follower_wakes(path: str, folder: str) -> dict[str, object]:
    """Submit a run of ``sleep 0.3``; report whether the backend can sleep until its worker exits, how long a
    30 s sleep took, and how following it ended."""
    tmp = Path(folder)
    backend = LocalBackend(tmp / "store", environ=os.environ)
    backend.publish(load_pipeline(write_pipeline(tmp / "proj", "a:\n  command: sleep 0.3\n")), endpoint="ep-test",
                    make_default=False, source_commit=None)
    run = submit(backend, "k")
    t0 = time.monotonic()
    can_wake = backend.sleep_until_end(run.id, 30.0)
    slept = time.monotonic() - t0
    followed = follow(backend, run, timeout_s=60, on_change=lambda r: None)
    return {"threads": threading.active_count(), "can wake": can_wake, "slept": slept,
            "status": followed.run.status.value, "ending": followed.ending.value,
            "steps": [s.status.value for s in followed.run.steps]}


@pytest.mark.parametrize("path", ["fork", "spawn"])
def test_a_follower_in_the_submitting_process_wakes_when_the_worker_exits(tmp_path: Path, path: str) -> None:
    seen = in_fresh_interpreter("follower_wakes", path, str(tmp_path))
    if path == "fork":  # the worker holds the exit pipe: the 30 s sleep ends when it exits
        assert (seen["threads"], seen["can wake"]) == (1, True)
        assert 0.25 < seen["slept"] < 25.0  # type: ignore[operator]  # woke when the step's 0.3 s ended
    else:  # a spawned worker: the backend cannot tell, says so at once, and the follower polls the store
        assert (seen["threads"], seen["can wake"]) == (2, False)
        assert seen["slept"] < 1.0  # type: ignore[operator]
    assert (seen["status"], seen["ending"], seen["steps"]) == ("completed", "finished", ["completed"])


def test_a_full_disk_at_submit_is_exit_1_and_starts_nothing(tmp_path: Path, small_disk: Path) -> None:
    project = tmp_path / "proj"
    write_pipeline(project, "a:\n  command: echo never\n")
    store = small_disk / "store"
    (project / "retrain.yml").write_text(
        f"backend: {{kind: local, store: {store}}}\npipelines:\n  p:\n    definition: pipeline.yml\n    endpoint: ep-test\n")
    run_cli = [sys.executable, "-m", "retrain"]
    assert subprocess.run([*run_cli, "publish"], cwd=project, capture_output=True).returncode == 0
    filler = small_disk / "filler"
    subprocess.run(["sh", "-c", f"head -c 8000000 /dev/zero > {filler}"], capture_output=True)
    out = subprocess.run([*run_cli, "submit", "p"], cwd=project, capture_output=True, text=True, timeout=60)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert f"the disk holding the local store {store} is full" in text
    assert "Traceback" not in text and "internal error" not in text
    filler.unlink()
    assert LocalBackend(store).runs() == []


def test_a_forked_worker_holds_none_of_the_submitters_files(tmp_path: Path, backend: LocalBackend) -> None:
    path = write_pipeline(tmp_path / "proj", SLEEPER)
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    read_end, write_end = os.pipe()  # as a caller capturing the submitter's output holds one
    run = submit(backend, "k")
    started(backend, run)
    os.close(write_end)
    os.set_blocking(read_end, False)
    try:
        try:
            got: bytes | None = os.read(read_end, 1)
        except BlockingIOError:
            got = None  # no EOF: someone still holds the write end
        assert got == b""  # EOF at once: no worker or step holds the write end
    finally:
        os.close(read_end)
        backend.cancel(run.id)
