"""Check runs through the action, as a runner starts it, against the fake GitHub: retrain touches only the
check runs it created (its names, its keys, its GitHub App), completes them on the runner's cancel within the
runner's budget, a pull request's draft is completed by the scheduled sync on the pull request's head, and
what the container writes into the workspace is readable by the runner's user."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.github_api import ACTIONS_APP, APP_TOKEN, OTHER_APP, FakeGitHub
from tests.github_runner import ENTRYPOINT, GITHUB, HEAD, Runner, pull_request
from tests.paths import ROOT

# actions/runner ProcessInvoker.cs: SIGINT, 7.5 s, SIGTERM, 2.5 s, kill.
SIGINT_TIMEOUT_S = 7.5
SIGTERM_TIMEOUT_S = 2.5


def dispatch(github: FakeGitHub) -> dict:
    payload = json.loads((GITHUB / "workflow_dispatch.json").read_text())
    payload["repository"].update(full_name=github.repository, default_branch="main")
    payload["ref"] = "refs/heads/main"
    return payload


def jobs_check(github: FakeGitHub, sha: str) -> dict:
    """The check run the runner makes for a job named `retrain` (what every template and `retrain init` write)."""
    return github.add_check_run("retrain", sha, app=ACTIONS_APP, external_id="ca395085-040a-526b-2ce8-bdc85f692774")


def test_a_bad_parameter_file_leaves_the_jobs_check_run_alone(runner: Runner, github: FakeGitHub, project: Path) -> None:
    job = jobs_check(github, HEAD)
    before = copy.deepcopy(job)
    (project / "retrain.yml").write_text((project / "retrain.yml").read_text().replace("timeout: 10m", "timeout: soon"))
    env = runner.env("pull_request", pull_request(github))
    first = runner.run(env)
    runner.reset_files()
    again = runner.run(env)  # a re-run of the job updates the check run it made, and only that one
    assert (first.code, again.code) == (2, 2)
    assert github.check_runs[job["id"]] == before
    assert not [r for r in github.requests if r.method == "PATCH" and r.path.endswith(f"/check-runs/{job['id']}")]
    [check] = github.runs_named("retrain / parameter file")
    assert check["conclusion"] == "action_required" and check["head_sha"] == HEAD
    assert check["external_id"].startswith("rc-")
    assert github.violations == []


def test_a_dispatch_with_other_values_gets_its_own_check_run(runner: Runner, github: FakeGitHub) -> None:
    pushed = runner.run(runner.env("push", runner.push(["data/other.csv"])))
    assert pushed.code == 0, pushed.stderr + pushed.stdout
    [push_check] = github.runs_named("retrain / tiny")
    before = copy.deepcopy(push_check)
    runner.reset_files()
    dispatched = runner.run(runner.env("workflow_dispatch", dispatch(github), parameters="learning_rate=0.3"))
    assert dispatched.code == 0, dispatched.stderr + dispatched.stdout
    assert dispatched.outputs["run-id"] != pushed.outputs["run-id"]
    checks = github.runs_named("retrain / tiny")
    assert len(checks) == 2 and github.check_runs[push_check["id"]] == before  # the push's check run untouched
    [own] = [c for c in checks if c["id"] != push_check["id"]]
    assert own["conclusion"] == "success" and own["head_sha"] == runner.sha
    assert "| <code>learning_rate</code> | <code>0.3</code> |" in own["output"]["summary"]
    assert own["external_id"].split()[0] != push_check["external_id"].split()[0]
    assert github.violations == []


def test_an_app_token_leaves_the_check_runs_of_github_token_alone(runner: Runner, github: FakeGitHub) -> None:
    job = jobs_check(github, runner.sha)
    first = runner.run(runner.env("push", runner.push(["data/other.csv"])))  # with GITHUB_TOKEN
    assert first.code == 0, first.stderr
    [actions_check] = github.runs_named("retrain / tiny")
    before = copy.deepcopy(actions_check), copy.deepcopy(job)
    for _ in range(2):  # the same work with an App's token; then a re-run of it, which finds its own
        runner.reset_files()
        result = runner.run(runner.env("push", runner.push(["data/other.csv"]), github_token=APP_TOKEN))
        assert result.code == 0, result.stderr + result.stdout
        assert "no check runs" not in result.stdout and "::warning" not in result.stdout  # check runs stay on
    assert (github.check_runs[actions_check["id"]], github.check_runs[job["id"]]) == before
    [app_check] = [c for c in github.runs_named("retrain / tiny") if c["id"] != actions_check["id"]]
    assert app_check["app"]["id"] == OTHER_APP["id"] and app_check["conclusion"] == "success"
    assert app_check["history"] == ["in_progress", "completed", "in_progress", "completed"]  # its re-run updated it
    # GitHub refused the one update tried on GITHUB_TOKEN's check run (found by its key before the App was known).
    assert github.refused == [(actions_check["id"], OTHER_APP["id"])]
    # GITHUB_TOKEN again: the App's check run (the newest) is passed over, GITHUB_TOKEN's own is found again.
    app_before = copy.deepcopy(github.check_runs[app_check["id"]])
    runner.reset_files()
    again = runner.run(runner.env("push", runner.push(["data/other.csv"])))
    assert again.code == 0 and "::warning" not in again.stdout, again.stderr + again.stdout
    assert github.check_runs[app_check["id"]] == app_before and len(github.runs_named("retrain / tiny")) == 2
    assert github.check_runs[actions_check["id"]]["history"] == ["in_progress", "completed", "in_progress", "completed"]
    assert github.refused[1:] == [(app_check["id"], ACTIONS_APP["id"])]
    assert github.violations == []


def ignoring_sigterm_step(project: Path) -> None:
    """A step that ignores SIGTERM: the local backend's cancel needs its kill grace (3 s) to stop it."""
    train = project / "pipelines" / "tiny" / "src" / "train.py"
    train.write_text("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                     "print('training', flush=True)\ntime.sleep(60)\n")


def test_the_runners_cancel_completes_the_check_at_once_and_within_its_budget(
        runner: Runner, github: FakeGitHub, project: Path) -> None:
    ignoring_sigterm_step(project)
    proc = subprocess.Popen([sys.executable, str(ENTRYPOINT), "action"], env=runner.env("push", runner.push(["data/other.csv"])),
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(c.get("details_url") for c in github.runs_named("retrain / tiny")):
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run was never submitted")
        time.sleep(0.05)
    time.sleep(0.5)
    # The runner's cancel, with its timings: SIGINT; SIGTERM 7.5 s later; kill 2.5 s after that.
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    completed_after = None
    signals = ["SIGINT"]
    while proc.poll() is None:
        now = time.monotonic() - sent
        [check] = github.runs_named("retrain / tiny")
        if completed_after is None and check["status"] == "completed":
            completed_after = now
        if now >= SIGINT_TIMEOUT_S and "SIGTERM" not in signals:
            proc.send_signal(signal.SIGTERM)
            signals.append("SIGTERM")
        if now >= SIGINT_TIMEOUT_S + SIGTERM_TIMEOUT_S:
            proc.kill()
            signals.append("kill")
            break
        time.sleep(0.02)
    stdout, stderr = proc.communicate(timeout=30)
    assert signals == ["SIGINT"], f"retrain did not end before the runner's SIGTERM: {stderr}"
    assert proc.returncode == 130, stderr
    assert all(c["status"] == "completed" for c in github.check_runs.values())  # nothing left in progress
    [check] = github.runs_named("retrain / tiny")
    assert check["conclusion"] == "cancelled"
    # Completed before the backend confirmed the cancel (which takes the step's 3 s kill grace).
    assert completed_after is not None and completed_after < 2.5, completed_after
    runs = subprocess.run([sys.executable, "-m", "retrain", "runs", "--json"], cwd=project, capture_output=True, text=True, check=True)
    assert [r["status"] for r in json.loads(runs.stdout)] == ["canceled"]
    assert github.violations == []


def test_a_pull_requests_draft_without_waiting_is_completed_by_the_sync_on_its_head(
        runner: Runner, github: FakeGitHub, project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("submit_on: [merge, data, dispatch]", "submit_on: [merge, data, pull_request]")
    (project / "retrain.yml").write_text(text)
    github.compare_files = ["pipelines/tiny/pipeline.yml"]
    opened = runner.run(runner.env("pull_request", pull_request(github), wait="false"))
    assert opened.code == 0, opened.stderr + opened.stdout
    assert opened.outputs["draft"] == "true" and opened.outputs["status"] == "pending"
    [check] = github.runs_named("retrain / tiny")
    assert check["head_sha"] == HEAD != runner.sha  # on the pull request's head, not GITHUB_SHA (its merge commit)
    assert check["status"] == "in_progress"
    runner.wait_until_ended(opened.outputs["run-id"])
    # A sync with another App's token may not complete GITHUB_TOKEN's check run: it says so and leaves it.
    runner.reset_files()
    schedule = {"schedule": "17 3 * * *", "repository": {"full_name": github.repository, "default_branch": "main"}}
    other = runner.run(runner.env("schedule", schedule, command="sync", github_token=APP_TOKEN))
    assert other.code == 0, other.stderr + other.stdout
    assert "belongs to another GitHub App; run the sync with the token that made it." in other.stdout
    assert github.runs_named("retrain / tiny")[0]["status"] == "in_progress"
    synced = runner.schedule_sync()
    assert synced.code == 0, synced.stderr + synced.stdout
    [check] = github.runs_named("retrain / tiny")
    assert (check["status"], check["conclusion"]) == ("completed", "success")
    assert f"retrain / tiny: completed check {check['id']} as success" in synced.stdout
    assert github.violations == []


SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"  # util-linux: runs tar as the runner's user


@pytest.mark.skipif(os.geteuid() != 0, reason="not root: the test writes as the action's container does (root) and reads as uid 1001, which takes root to switch to")
@pytest.mark.parametrize("umask", ["022", "077"])
def test_the_runners_user_can_read_everything_the_container_wrote(runner: Runner, github: FakeGitHub, project: Path,
                                                                   umask: str) -> None:
    # The workspace belongs to the runner's user (uid 1001); the container writes into it as root, with
    # Docker's umask (022) or the most private one a container could have (077): modes at creation must still
    # let the runner's user read.
    project.chmod(0o755)
    env = runner.env("push", runner.push(["data/other.csv"]))
    env["RETRAIN_TEST_UMASK"] = umask
    code = ("import os, sys; os.umask(int(os.environ['RETRAIN_TEST_UMASK'], 8)); sys.argv[1:] = ['action'];"
            f"exec(open({str(ENTRYPOINT)!r}).read())")
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=project, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    store = project / ".retrain"
    assert any(p.name.startswith(("snapshots", "objects")) for p in store.iterdir())
    # What actions/cache's save (tar, as the runner's user) does with the store:
    tar = subprocess.run([SETPRIV, "--reuid=1001", "--regid=1001", "--clear-groups", "tar", "-cf", "/dev/null", ".retrain"],
                         cwd=project, capture_output=True, text=True, check=False)
    assert tar.returncode == 0, tar.stderr
    assert tar.stderr == ""


def test_a_stop_completes_the_open_check_runs_wherever_the_main_thread_is(github: FakeGitHub) -> None:
    """The first signal may come while the main thread publishes, submits or waits on GitHub: the watcher
    completes the check runs then, and the main thread's later updates do not reopen them."""
    import io

    from retrain.action.main import _StopWatcher
    from retrain.action.check_reporter import CheckReporter
    from retrain.github.api import GitHubAPI
    from retrain.github.checks import Checks
    from retrain.github.workflow import Workflow
    from retrain.flow.plan import PipelinePlan
    from retrain.flow.signals import STOP

    sha = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
    out = io.StringIO()
    reporter = CheckReporter(Checks(GitHubAPI(github.url, github.repository, github.token), sha), Workflow(out), None,
                             commit=sha)
    item = PipelinePlan(pipeline="tiny", endpoint="tiny-retrain", experiment="tiny", publish=True, submit=True,
                        version="default", parameters={}, changed_parameters=frozenset(), reasons=(),
                        make_default=True, timeout_s=600.0)
    reporter.started(item)
    watcher = _StopWatcher(reporter)
    try:
        STOP.set()  # what the signal handler does; the main thread goes on with what it was doing
        give_up = time.monotonic() + 5
        while github.runs_named("retrain / tiny")[0]["status"] != "completed" and time.monotonic() < give_up:
            time.sleep(0.02)
        [check] = github.runs_named("retrain / tiny")
        assert (check["status"], check["conclusion"]) == ("completed", "cancelled")
        assert check["output"]["title"] == "tiny: cancelled"
        reporter.started(item)  # the main thread, unaware yet: nothing reopens the check run
        assert github.runs_named("retrain / tiny")[0]["history"] == ["in_progress", "completed"]
    finally:
        STOP.clear()
        watcher.close()
    assert github.violations == []


def test_the_status_output_names_every_conclusion_the_action_writes() -> None:
    import yaml

    from retrain.flow.execute import Conclusion

    root = ROOT
    # `skipped` is a check-run conclusion the reports can draw, but no outcome of the action concludes so.
    written = {c.value for c in Conclusion} - {"skipped"}
    described = yaml.safe_load((root / "action.yml").read_text())["outputs"]["status"]["description"]
    [row] = [line for line in (root / "docs" / "github-action.md").read_text().splitlines() if line.startswith("| `status` |")]
    assert sorted(c for c in written if c not in described) == []
    assert sorted(c for c in written if f"`{c}`" not in row) == []
