"""The action as a runner starts it: ``entrypoint.py`` in a process, with INPUT_* and GITHUB_* set,
an event payload on disk, the local backend, and a fake GitHub API on loopback."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import git, slow_step
from tests.fakes.github_api import Fault, FakeGitHub
from tests.github_runner import BEFORE, ENTRYPOINT, GITHUB, SECRET, Result, Runner, commands_outside_blocks, runner_command


def assert_no_secret(result: Result, github: FakeGitHub) -> None:
    # The ::add-mask:: lines are how the runner learns what to hide; everything else must not hold a secret.
    stdout = "\n".join(line for line in result.stdout.splitlines() if not line.startswith("::add-mask::"))
    for text in (stdout, result.stderr, result.summary, json.dumps(result.outputs)):
        assert SECRET not in text
        assert github.token not in text
    for request in github.requests:
        assert SECRET not in json.dumps(request.body)


def test_a_data_push_submits_and_completes_the_check(runner: Runner, github: FakeGitHub) -> None:
    result = runner.run(runner.env("push", runner.push(["data/other.csv"])))
    assert result.code == 0, result.stderr + result.stdout
    [check] = github.runs_named("retrain / tiny")
    assert check["history"] == ["in_progress", "completed"]
    assert check["conclusion"] == "success"
    assert check["head_sha"] == runner.sha
    # the work's key, then the run's key (execute.run_key): how a re-run and the sync find it again
    assert re.fullmatch(r"rc-[0-9a-f]{24} rt-[0-9a-f]{24}", check["external_id"])
    # the local backend's run is a file on the runner: the check links the workflow run instead
    assert check["details_url"] == f"https://github.com/{github.repository}/actions/runs/7781"
    assert "file://" not in check["output"]["summary"]
    assert "| <code>learning_rate</code> | <code>0.2</code> | **changed** (default <code>0.1</code>) |" in check["output"]["summary"]
    # paths as the repository names them, not where the runner checked it out
    assert "| <code>training_data</code> | <code>data/train.csv</code> | **changed** (default <code>pipelines/tiny/data/train.csv</code>) |" in check["output"]["summary"]
    assert "#### Steps" in check["output"]["summary"] and "<code>prep</code>" in check["output"]["summary"]
    assert result.outputs["status"] == "success"
    assert result.outputs["version"] == "1"
    assert json.loads(result.outputs["metrics"])["score"] > 0
    assert result.outputs["run-id"] and result.outputs["run-url"] == check["details_url"]
    assert json.loads(result.outputs["plan"])["items"][0]["submit"] is True
    assert "tiny</code>: succeeded" in result.summary
    assert "::add-mask::" + SECRET in result.stdout  # masked before anything else
    assert result.stdout.index("::add-mask::") < result.stdout.index("tiny:")
    assert "::group::tiny / prep\n::stop-commands::" in result.stdout
    assert github.violations == []
    assert_no_secret(result, github)


def test_a_rerun_attaches_to_the_earlier_run(runner: Runner, github: FakeGitHub, project: Path) -> None:
    env = runner.env("push", runner.push(["data/other.csv"]))
    first = runner.run(env)
    runner.reset_files()
    second = runner.run(env)
    assert (first.code, second.code) == (0, 0)
    assert "attached to the earlier run" in second.stdout
    assert second.outputs["run-id"] == first.outputs["run-id"]
    assert len(github.runs_named("retrain / tiny")) == 1  # updated, not duplicated
    runs = subprocess.run([sys.executable, "-m", "retrain", "runs", "--json"], cwd=project, capture_output=True, text=True, check=True)
    assert len(json.loads(runs.stdout)) == 1
    assert github.violations == []


def test_a_failed_step_fails_the_check(runner: Runner, github: FakeGitHub, project: Path) -> None:
    train = project / "pipelines" / "tiny" / "src" / "train.py"
    train.write_text("import sys\nprint('diverged', file=sys.stderr)\nsys.exit(3)\n")
    result = runner.run(runner.env("push", runner.push(["pipelines/tiny/src/train.py"])))
    assert result.code == 1
    [check] = github.runs_named("retrain / tiny")
    assert check["conclusion"] == "failure"
    assert result.outputs["status"] == "failure"
    assert result.outputs["published-version"] == "1"
    assert "::error title=retrain / tiny::tiny: " in result.stdout
    assert github.violations == []


def test_a_timeout_cancels_the_run(runner: Runner, github: FakeGitHub, project: Path) -> None:
    slow_step(project)
    started = time.monotonic()
    result = runner.run(runner.env("push", runner.push(["data/other.csv"]), timeout="3s"))
    assert time.monotonic() - started < 30
    assert result.code == 1
    [check] = github.runs_named("retrain / tiny")
    assert check["conclusion"] == "timed_out"
    assert result.outputs["status"] == "timed_out"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cancelling_the_workflow_cancels_the_run(runner: Runner, github: FakeGitHub, project: Path, sig: signal.Signals) -> None:
    slow_step(project)
    env = runner.env("push", runner.push(["data/other.csv"]))
    proc = subprocess.Popen([sys.executable, str(ENTRYPOINT), "action"], env=env, cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        checks = github.runs_named("retrain / tiny")
        if checks and checks[0].get("details_url"):
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the run was never submitted")
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 10
    assert proc.returncode == 130, stderr
    [check] = github.runs_named("retrain / tiny")
    assert check["conclusion"] == "cancelled"
    runs = subprocess.run([sys.executable, "-m", "retrain", "runs", "--json"], cwd=project, capture_output=True, text=True, check=True)
    assert [r["status"] for r in json.loads(runs.stdout)] == ["canceled"]


def test_a_forbidden_token_falls_back_to_the_summary(runner: Runner, github: FakeGitHub) -> None:
    github.forbid_checks = True
    result = runner.run(runner.env("push", runner.push(["data/other.csv"])))
    assert result.code == 0, result.stderr
    assert result.stdout.count("::warning title=retrain%3A no check runs::") == 1
    assert "tiny</code>: succeeded" in result.summary
    assert github.check_runs == {}


def test_a_bad_parameter_file_on_a_pull_request(runner: Runner, github: FakeGitHub, project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("learning_rate: 0.2", "learning_rat: 0.2").replace("timeout: 10m", "timeout: soon")
    (project / "retrain.yml").write_text(text)
    payload = json.loads((GITHUB / "pull_request-opened.json").read_text())
    payload["repository"]["full_name"] = github.repository
    result = runner.run(runner.env("pull_request", payload))
    assert result.code == 2
    [check] = github.runs_named("retrain / parameter file")
    assert check["head_sha"] == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"  # the pull request's head
    assert check["conclusion"] == "action_required"
    assert [(a["path"], a["start_line"], a["start_column"]) for a in check["annotations"]] == [
        ("retrain.yml", 10, 7), ("retrain.yml", 14, 14)]
    assert "::error file=retrain.yml,line=10,col=7,title=retrain::" in result.stdout
    assert result.outputs["status"] == "action_required"
    assert github.violations == []


def test_a_pull_request_plans_without_side_effects(runner: Runner, github: FakeGitHub, project: Path) -> None:
    payload = json.loads((GITHUB / "pull_request-opened.json").read_text())
    payload["repository"]["full_name"] = github.repository
    env = runner.env("pull_request", payload)
    env["INPUT_GITHUB_TOKEN"] = env.pop("INPUT_GITHUB-TOKEN")  # as `retrain action` in a plain step may be given it
    result = runner.run(env)
    assert result.code == 0, result.stderr
    [check] = github.runs_named("retrain / tiny")
    assert check["conclusion"] == "neutral"
    assert not (project / ".retrain").exists()  # nothing published, nothing run


def test_bad_inputs_are_reported_with_exit_2(runner: Runner, github: FakeGitHub) -> None:
    result = runner.run(runner.env("push", runner.push([]), wait="maybe"))
    assert result.code == 2
    assert "::error title=retrain::the wait input is 'maybe'; use true or false." in result.stdout


def test_a_push_plans_from_the_compare_api(runner: Runner, github: FakeGitHub) -> None:
    # The test: no file lists in the payload; the compare API names a data file -> submit.
    result = runner.run(runner.env("push", runner.push(["data/other.csv"])))
    assert result.code == 0, result.stderr
    [compare] = [r for r in github.requests if "/compare/" in r.path]
    assert compare.path.startswith(f"/repos/{github.repository}/compare/{BEFORE}...{runner.sha}?")
    plan = json.loads(result.outputs["plan"])
    assert plan["items"][0]["reasons"] == [{"rule": "submit_on: data", "detail": "data/other.csv matched data/**/*.csv"}]
    assert github.runs_named("retrain / tiny")[0]["conclusion"] == "success"


def test_a_push_of_an_unrelated_file_plans_nothing(runner: Runner, github: FakeGitHub, project: Path) -> None:
    result = runner.run(runner.env("push", runner.push(["README.md"])))
    assert result.code == 0, result.stderr
    item = json.loads(result.outputs["plan"])["items"][0]
    assert (item["publish"], item["submit"]) == (False, False)
    assert github.runs_named("retrain / tiny")[0]["conclusion"] == "neutral"
    assert not (project / ".retrain").exists()


def test_a_new_branch_compares_with_the_default_branch(runner: Runner, github: FakeGitHub) -> None:
    payload = runner.push(["README.md"])
    payload.update(before="0" * 40, created=True, ref="refs/heads/feature")
    result = runner.run(runner.env("push", payload))
    assert result.code == 0, result.stderr
    [compare] = [r.path for r in github.requests if "/compare/" in r.path]
    assert compare.startswith(f"/repos/{github.repository}/compare/main...{runner.sha}?")
    assert json.loads(result.outputs["plan"])["items"][0]["reasons"][0]["detail"] == "push to feature, not the default branch main"

    # The first push of the default branch itself has nothing to compare with: every file counts.
    payload["ref"] = "refs/heads/main"
    runner.reset_files()
    result = runner.run(runner.env("push", payload, wait="false"))
    assert "a new default branch has nothing to compare with" in result.outputs["plan"]


def test_the_compare_cap_is_said_and_counts_every_file(runner: Runner, github: FakeGitHub) -> None:
    payload = runner.push([f"docs/page{i}.md" for i in range(350)])
    github.compare_commits = 250  # pages of commits; the files come on the first page only
    result = runner.run(runner.env("push", payload, wait="false"))
    assert result.code == 0, result.stderr
    pages = [r.path for r in github.requests if "/compare/" in r.path]
    assert len(pages) == 3 and pages[-1].endswith("page=3")
    reasons = json.loads(result.outputs["plan"])["items"][0]["reasons"]
    assert reasons[0]["detail"].startswith("the list of changed files may be incomplete "
                                           "(the compare API lists at most 300 files and listed 300 for ")


def test_a_deleted_tag_does_nothing_and_posts_no_check(runner: Runner, github: FakeGitHub) -> None:
    payload = json.loads((GITHUB / "push-tag-deleted.json").read_text())
    payload["repository"]["full_name"] = github.repository
    result = runner.run(runner.env("push", payload))
    assert result.code == 0, result.stderr
    assert "nothing to do: the push deleted refs/tags/simple-tag." in result.stdout
    assert github.check_runs == {} and not [r for r in github.requests if "/compare/" in r.path]


def test_without_waiting_the_check_stays_open_until_a_scheduled_sync(runner: Runner, github: FakeGitHub, project: Path) -> None:
    first = runner.run(runner.env("push", runner.push(["data/other.csv"]), wait="false"))
    assert first.code == 0, first.stderr
    assert first.outputs["status"] == "pending"
    [check] = github.runs_named("retrain / tiny")
    assert check["status"] == "in_progress" and check["conclusion"] is None
    run_id = first.outputs["run-id"]
    runner.wait_until_ended(run_id)
    synced = runner.schedule_sync()
    assert synced.code == 0, synced.stderr
    [check] = github.runs_named("retrain / tiny")
    assert (check["status"], check["conclusion"]) == ("completed", "success")
    assert f"retrain / tiny: completed check {check['id']} as success" in synced.stdout
    assert github.violations == []


def test_the_runner_model_acts_as_the_runner_does() -> None:
    assert commands_outside_blocks("a ##[warning]x\n  ::add-mask::y\n::bare\nplain ::x::") == ["a ##[warning]x", "::add-mask::y", "::bare"]
    # a block ends only at its own token, in either syntax; commands inside it are shown, not acted on
    assert commands_outside_blocks("::stop-commands::T1\n::warning::in\n##[error]in\n::other::\nx ##[t1]\n::error::out") == ["::error::out"]
    assert commands_outside_blocks("##[stop-commands]T2\n::warning::in\n::T2::\n##[add-mask]out") == ["##[add-mask]out"]


def test_step_output_cannot_drive_the_runner(runner: Runner, github: FakeGitHub, project: Path) -> None:
    train = project / "pipelines" / "tiny" / "src" / "train.py"
    train.write_text("import sys\nprint('::add-mask::pwned')\nprint('   ::warning::pwned')\n"
                     "print('::stop-commands::x')\nprint('::error::pwned\\x1b[31m')\n"
                     "print('failed: ##[add-mask]pwned ##[warning]pwned')\nsys.exit(3)\n")
    result = runner.run(runner.env("push", runner.push(["pipelines/tiny/src/train.py"])))
    assert result.code == 1
    acted = commands_outside_blocks(result.stdout)
    assert not [c for c in acted if "pwned" in c and not c.startswith("::error title=retrain / tiny::")], acted
    assert "::add-mask::pwned" in result.stdout  # shown, inside a block
    assert "failed: ##[add-mask]pwned ##[warning]pwned" in result.stdout  # the same
    assert "\x1b" not in result.stdout and "\\x1b[31m" in result.stdout, repr(result.stdout)
    # the ::error:: annotation quoting the tail is one escaped line
    [error] = [c for c in acted if c.startswith("::error title=retrain / tiny::")]
    assert "%0A" in error


def test_a_parameter_value_with_a_newline_stays_on_its_line(runner: Runner, github: FakeGitHub, project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("learning_rate: 0.2", 'learning_rate: 0.2\n      flavour: "plain\\n  ::add-mask::x ##[warning]y"')
    (project / "retrain.yml").write_text(text)
    result = runner.run(runner.env("push", runner.push(["data/other.csv"]), command="plan"))
    assert result.code == 2  # not one of the enum's values; the message quotes it on the error's one line
    # quoted in the ::error annotation only: a line the runner parses as ::error:: (its ##[ is data there)
    assert "'plain\\n  ::add-mask::x ##[warning]y' is not." in result.stdout
    quoting = [c for c in commands_outside_blocks(result.stdout) if "::add-mask::x" in c or "##[warning]y" in c]
    assert [runner_command(c) for c in quoting] == ["error"], quoting
    assert not any(line.lstrip().startswith("::add-mask::x") for line in result.stdout.splitlines())


def test_the_final_update_answered_502_still_completes(runner: Runner, github: FakeGitHub) -> None:
    github.faults.append(Fault("PATCH", r"/check-runs/\d+", 502, message="Bad Gateway", body_has="conclusion"))
    result = runner.run(runner.env("push", runner.push(["data/other.csv"])))
    assert result.code == 0, result.stderr
    [check] = github.runs_named("retrain / tiny")
    assert (check["status"], check["conclusion"]) == ("completed", "success")
    finals = [r for r in github.requests if r.method == "PATCH" and isinstance(r.body, dict) and "conclusion" in r.body]
    assert len(finals) == 2 and finals[0].body == finals[1].body
    assert "::warning" not in result.stdout


def test_a_failed_progress_update_does_not_stop_the_final_one(runner: Runner, github: FakeGitHub) -> None:
    # Every retry of the first progress update fails (422 is not retried): one warning, then the end is still reported.
    github.faults.append(Fault("PATCH", r"/check-runs/\d+", 422, message="Validation Failed"))
    result = runner.run(runner.env("push", runner.push(["data/other.csv"])))
    assert result.code == 0, result.stderr
    [check] = github.runs_named("retrain / tiny")
    assert (check["status"], check["conclusion"]) == ("completed", "success")
    assert result.stdout.count("::warning title=retrain::could not update the check run retrain / tiny") == 1


def test_a_schedule_with_auto_syncs(runner: Runner, github: FakeGitHub) -> None:
    schedule = {"schedule": "17 3 * * *", "repository": {"full_name": github.repository, "default_branch": "main"}}
    result = runner.run(runner.env("schedule", schedule))
    assert result.code == 0, result.stderr
    assert "recent run(s)" in result.stdout
    assert github.check_runs == {}  # no neutral check for a schedule


def test_a_store_restored_under_another_path_still_works(runner: Runner, github: FakeGitHub, project: Path, tmp_path: Path) -> None:
    """The docs' actions/cache recipe: the store saved after one workflow run, restored in a checkout at another path."""
    first = runner.run(runner.env("push", runner.push(["data/other.csv"])))
    assert first.code == 0, first.stderr
    assert "registry: refs/retrain/registry (none yet: the first write makes it)" in first.stdout
    assert first.outputs["published-version"] == "1"

    # A new runner: a fresh checkout elsewhere (another commit), the cached store restored into it.
    other = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(project, other, ignore=shutil.ignore_patterns(".retrain"))
    (other / "data" / "train.csv").write_text("x,y\n1,2\n3,4\n5,6\n7,8\n")
    git(other, "commit", "-qam", "more data")
    shutil.copytree(project / ".retrain", other / ".retrain")
    shutil.rmtree(project)  # nothing of the first checkout's path is left to lean on
    runner.project, runner.sha = other, git(other, "rev-parse", "HEAD")
    runner.reset_files()
    env = runner.env("push", runner.push(["data/train.csv"]))
    second = subprocess.run([sys.executable, str(ENTRYPOINT), "action"], env=env, cwd=other,
                            capture_output=True, text=True, timeout=120, check=False)
    result = runner.result(second.returncode, second.stdout, second.stderr)
    assert result.code == 0, result.stderr + result.stdout
    assert (result.outputs["version"], result.outputs["published-version"]) == ("1", "")  # version 1 still known
    shown = subprocess.run([sys.executable, "-m", "retrain", "endpoints", "tiny-retrain", "--json"], cwd=other,
                           capture_output=True, text=True, check=True)
    [version] = json.loads(shown.stdout)["versions"]
    # the default data path, recorded relative to the store's folder, is found in the new checkout
    assert version["parameters"]["training_data"] == str(other.resolve() / "pipelines" / "tiny" / "data" / "train.csv")
    runs = subprocess.run([sys.executable, "-m", "retrain", "runs", "--json"], cwd=other, capture_output=True, text=True, check=True)
    assert len(json.loads(runs.stdout)) == 2  # the first workflow run's run is remembered
    assert result.outputs["status"] == "success"
