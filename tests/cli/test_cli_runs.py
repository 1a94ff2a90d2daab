"""Running pipelines from the command line: Ctrl-C, cancel from another terminal, status and exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_process import ENV, retrain
from tests.conftest import alive


def make_slow(project: Path) -> None:
    (project / "pipelines" / "tiny" / "src" / "train.py").write_text(
        "import os, time\nopen('pid.txt', 'w').write(str(os.getpid()))\nprint('training', flush=True)\ntime.sleep(60)\n")


def wait_for_pid(project: Path) -> int:
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        # Where the train step runs (its folder's code/), not a walk of the whole run: the worker renames and
        # removes the folders of a step that ended while a walk could be inside them.
        found = list((project / ".retrain" / "runs").glob("*/steps/train/code/pid.txt"))
        if found and found[0].read_text():
            return int(found[0].read_text())
        time.sleep(0.05)
    raise AssertionError("the step never started")


def test_ctrl_c_cancels_the_run_and_leaves_no_process(project: Path) -> None:
    make_slow(project)
    proc = subprocess.Popen([sys.executable, "-m", "retrain", "submit", "tiny"], cwd=project, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    step_pid = wait_for_pid(project)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "SIGINT received: stopping and canceling the run" in err
    assert "tiny: cancelled: " in out
    time.sleep(0.2)
    assert not alive(step_pid)
    runs = json.loads(retrain(project, "runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["canceled"]
    assert [s["status"] for s in runs[0]["steps"]] == ["completed", "canceled"]


def test_cancel_from_another_terminal(project: Path) -> None:
    make_slow(project)
    proc = subprocess.Popen([sys.executable, "-m", "retrain", "submit", "tiny"], cwd=project, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    step_pid = wait_for_pid(project)
    run_id = json.loads(retrain(project, "runs", "--json").stdout)[0]["id"]
    cancel = retrain(project, "cancel", run_id)
    assert (cancel.returncode, cancel.stdout) == (0, f"run {run_id}: canceled\n")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1  # the follower saw the run end canceled: the work did not complete
    assert not alive(step_pid)
    status = retrain(project, "status", run_id)
    assert status.returncode == 1
    assert f"run {run_id}: canceled" in status.stdout


def test_submit_without_waiting_then_status(project: Path) -> None:
    assert retrain(project, "publish").returncode == 0
    submitted = retrain(project, "submit", "tiny", "--no-wait", "--json")
    assert submitted.returncode == 0, submitted.stderr
    [doc] = json.loads(submitted.stdout)
    assert doc["conclusion"] == "pending"
    run_id = doc["run"]["id"]
    synced = retrain(project, "sync", "--wait", "--json")
    assert synced.returncode == 0, synced.stderr
    status = json.loads(retrain(project, "status", run_id, "--json").stdout)
    assert status["status"] == "completed"
    assert status["metrics"]["score"] > 0


def test_a_bad_value_at_submit_is_bad_input(project: Path) -> None:
    result = retrain(project, "submit", "tiny", "--set", "epochs=0")
    assert result.returncode == 2
    assert result.stderr == "error: epochs=0: 'epochs' must be at least 1; 0 is below. (given with --set)\n"


def test_an_unknown_run(project: Path) -> None:
    result = retrain(project, "status", "nope")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no run 'nope' in the local store ")
    assert result.stderr.endswith("'retrain runs' lists them.\n")


@pytest.mark.parametrize("verb", ["endpoints", "runs"])
def test_empty_store_listings(project: Path, verb: str) -> None:
    result = retrain(project, verb)
    assert result.returncode == 0
    assert result.stdout in ("no endpoints yet. Publish a pipeline: retrain publish\n", "no runs yet.\n")


def test_a_damaged_store_says_what_to_do(project: Path) -> None:
    (project / ".retrain").mkdir()
    (project / ".retrain" / "retrain.db").write_bytes(b"this is not sqlite" * 100)
    result = retrain(project, "runs")
    assert result.returncode == 1
    assert result.stderr.startswith("error: the local store ")
    assert "cannot be opened (file is not a database). If it is damaged, move the folder" in result.stderr
