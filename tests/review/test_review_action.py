"""Review through the action, as a runner starts it, against the fake GitHub: drafts on pull requests,
the comparison in the check run, the gate's verdict in the check's conclusion and the step outputs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.github_api import FakeGitHub
from tests.github_runner import HEAD, Runner, pull_request
from tests.paths import ROOT
from tests.review.scenario import baseline_run, gated_change, set_epochs


def test_a_pull_request_runs_a_draft_and_shows_it_against_the_defaults_latest_run(
        runner: Runner, github: FakeGitHub, project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("submit_on: [merge, data, dispatch]", "submit_on: [merge, data, pull_request]")
    (project / "retrain.yml").write_text(text)
    base = baseline_run(runner, github)
    set_epochs(project, 1)
    github.compare_files = ["pipelines/tiny/pipeline.yml"]
    result = runner.run(runner.env("pull_request", pull_request(github)))
    assert result.code == 0, result.stderr + result.stdout
    assert "tiny: submitted run tiny-" in result.stdout and " as a draft " in result.stdout
    [check] = github.runs_named("retrain / tiny")
    assert check["head_sha"] == HEAD
    assert check["conclusion"] == "success"
    assert check["output"]["title"].startswith("tiny: draft succeeded (a draft)")
    summary = check["output"]["summary"]
    assert "**Draft run**" in summary and "| version run | **draft**" in summary
    assert f"baseline: run {base} (version 1)" in summary
    assert "| <code>score</code> | 0.523 | 0.563 | −0.04 | ▼ worse (higher is better) |" in summary
    assert "#### Trend: the one completed run so far" in summary  # a draft is not in the pipeline's history
    assert result.outputs["baseline-run-id"] == base
    assert json.loads(result.outputs["metric-differences"])["score"]["verdict"] == "worse"
    assert result.outputs["gate"] == ""
    # No version was published for the draft.
    endpoints = json.loads(runner_cli(project, "endpoints", "tiny-retrain", "--json"))
    assert [v["number"] for v in endpoints["versions"]] == [1]
    assert github.violations == []


def test_a_pull_request_from_a_fork_gets_the_plan_only(runner: Runner, github: FakeGitHub, project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("submit_on: [merge, data, dispatch]", "submit_on: [merge, pull_request]")
    (project / "retrain.yml").write_text(text)
    payload = pull_request(github)
    payload["pull_request"]["head"]["repo"]["full_name"] = "someone-else/census"  # the same example, from a fork
    result = runner.run(runner.env("pull_request", payload))
    assert result.code == 0, result.stderr
    assert "the pull request comes from a fork, whose workflow gets no secrets and a read-only token: plan only" in result.summary
    assert not (project / ".retrain").exists()


def test_a_gated_merge_of_a_weaker_version_concludes_failure_naming_the_metric(
        runner: Runner, github: FakeGitHub, project: Path) -> None:
    gated_change(runner, github, project, 1)
    result = runner.run(runner.env("push", runner.push(["pipelines/tiny/pipeline.yml"])))
    assert result.code == 1
    [check] = github.runs_named("retrain / tiny")
    assert check["conclusion"] == "failure"
    summary = check["output"]["summary"]
    assert "The gate failed: score is 0.523, needs >= 0.55" in summary
    assert "❌ failed: version 2 was published but not promoted" in summary
    assert "| score >= 0.55 | 0.523 | 0.55 | ❌ **failed** |" in summary
    assert "#### Trend: the last 2 completed runs" in summary
    assert result.outputs["gate"] == "failed"
    assert result.outputs["published-version"] == "2"
    endpoints = json.loads(runner_cli(project, "endpoints", "tiny-retrain", "--json"))
    assert endpoints["default_version"] == 1


def runner_cli(project: Path, *args: str) -> str:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "retrain", *args], cwd=project, capture_output=True, text=True,
                          check=True, timeout=60).stdout


def test_a_gated_version_submitted_without_waiting_is_judged_by_the_scheduled_sync(
        runner: Runner, github: FakeGitHub, project: Path) -> None:
    gated_change(runner, github, project, 1)
    first = runner.run(runner.env("push", runner.push(["pipelines/tiny/pipeline.yml"]), wait="false"))
    assert first.code == 0, first.stderr
    assert (first.outputs["status"], first.outputs["published-version"]) == ("pending", "2")
    run_id = first.outputs["run-id"]
    runner.wait_until_ended(run_id)
    synced = runner.schedule_sync()
    assert synced.code == 0, synced.stderr
    [check] = github.runs_named("retrain / tiny")
    assert (check["status"], check["conclusion"]) == ("completed", "failure")
    assert "The gate failed: score is 0.523, needs >= 0.55" in check["output"]["summary"]
    endpoints = json.loads(runner_cli(project, "endpoints", "tiny-retrain", "--json"))
    assert endpoints["default_version"] == 1


def test_the_scheduled_sync_reports_a_run_it_cannot_judge_and_exits_0(
        runner: Runner, github: FakeGitHub, project: Path) -> None:
    first = runner.run(runner.env("push", runner.push(["data/other.csv"]), wait="false"))
    assert first.code == 0, first.stderr
    run_id = first.outputs["run-id"]
    runner.wait_until_ended(run_id)
    with (project / "retrain.yml").open("a") as f:
        f.write("    compare_to: tiny-20990101-000000-abcdef\n")  # a baseline that is gone
    synced = runner.schedule_sync()
    assert synced.code == 0, synced.stderr + synced.stdout
    assert f"retrain / tiny: run {run_id}: compare_to names run 'tiny-20990101-000000-abcdef', which does not exist." in synced.stdout
    [check] = github.runs_named("retrain / tiny")
    assert check["status"] == "in_progress"  # left open: the next sync completes it once compare_to is fixed


def sync_wait(project: Path) -> tuple[int, str]:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "retrain", "sync", "--wait"], cwd=project, capture_output=True, text=True,
                          check=False, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_sync_wait_settles_a_gated_version_whose_run_ended_before_it(
        runner: Runner, github: FakeGitHub, project: Path) -> None:
    gated_change(runner, github, project, 5)  # score 0.603: passes
    better = runner.run(runner.env("push", runner.push(["pipelines/tiny/pipeline.yml"]), wait="false"))
    assert better.code == 0, better.stderr
    assert (better.outputs["status"], better.outputs["published-version"]) == ("pending", "2")
    runner.wait_until_ended(better.outputs["run-id"])
    code, out = sync_wait(project)
    assert code == 0, out
    assert "tiny: run " in out and "The gate passed (3 conditions): version 2 is now the default." in out
    assert json.loads(runner_cli(project, "endpoints", "tiny-retrain", "--json"))["default_version"] == 2
    assert sync_wait(project) == (0, "every run has finished.\n")  # settled once

    set_epochs(project, 1)  # score 0.523: fails
    runner.reset_files()
    weaker = runner.run(runner.env("push", runner.push(["pipelines/tiny/pipeline.yml"]), wait="false"))
    assert weaker.code == 0, weaker.stderr
    assert weaker.outputs["published-version"] == "3"
    runner.wait_until_ended(weaker.outputs["run-id"])
    code, out = sync_wait(project)
    assert code == 1, out
    assert "tiny: The gate failed: score is 0.523, needs >= 0.55;" in out
    assert "Version 3 was published but not promoted: the default stays at version 2." in out
    assert json.loads(runner_cli(project, "endpoints", "tiny-retrain", "--json"))["default_version"] == 2
    assert sync_wait(project) == (0, "every run has finished.\n")  # judged once, not on every sync


def test_the_scheduled_sync_promotes_a_passed_version_without_a_github_token(
        runner: Runner, github: FakeGitHub, project: Path) -> None:
    gated_change(runner, github, project, 5)
    first = runner.run(runner.env("push", runner.push(["pipelines/tiny/pipeline.yml"]), wait="false"))
    assert first.code == 0, first.stderr
    runner.wait_until_ended(first.outputs["run-id"])
    runner.reset_files()
    schedule = {"schedule": "17 3 * * *", "repository": {"full_name": github.repository, "default_branch": "main"}}
    env = runner.env("schedule", schedule)
    env["INPUT_GITHUB-TOKEN"] = ""
    synced = runner.run(env)
    assert synced.code == 0, synced.stderr + synced.stdout
    assert "retrain / tiny: " in synced.stdout and "version 2 is now the default." in synced.stdout
    assert json.loads(runner_cli(project, "endpoints", "tiny-retrain", "--json"))["default_version"] == 2


def test_a_gated_pipelines_draft_sets_draft_and_leaves_version_and_gate_empty(
        runner: Runner, github: FakeGitHub, project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("submit_on: [merge, data, dispatch]", "submit_on: [merge, data, pull_request]")
    (project / "retrain.yml").write_text(text)
    gated_change(runner, github, project, 1)  # the gate would fail: the preview says so, the outputs do not claim it
    github.compare_files = ["pipelines/tiny/pipeline.yml"]
    result = runner.run(runner.env("pull_request", pull_request(github)))
    assert result.code == 0, result.stderr + result.stdout
    [check] = github.runs_named("retrain / tiny")
    assert check["conclusion"] == "success"  # a draft is never promoted: the preview never fails the check
    assert "score" in check["output"]["summary"]
    assert (result.outputs["draft"], result.outputs["version"], result.outputs["gate"]) == ("true", "", "")
    assert result.outputs["run-id"].startswith("tiny-")

    runner.reset_files()
    github.check_runs.clear()
    pushed = runner.run(runner.env("push", runner.push(["data/other.csv"])))
    assert pushed.code == 0, pushed.stderr + pushed.stdout
    assert (pushed.outputs["draft"], pushed.outputs["version"]) == ("", "1")


def test_the_gc_command_collects_the_local_store_as_the_recipe_runs_it(
        runner: Runner, github: FakeGitHub, project: Path) -> None:
    from tests.workflow_checks import assert_valid_workflow

    recipe = ROOT / "docs" / "workflows" / "retrain-local-store.yml"
    assert "command: gc" in recipe.read_text()
    assert_valid_workflow(recipe)
    first = baseline_run(runner, github)
    forced = [json.loads(runner_cli(project, "submit", "tiny", "--force", "--json"))[0]["run"]["id"] for _ in range(2)]
    with (project / "retrain.yml").open("a") as f:
        f.write("retention: {keep: 1}\n")
    collected = runner.run(runner.env("push", runner.push(["data/other.csv"]), command="gc"))
    assert collected.code == 0, collected.stderr + collected.stdout
    assert "retrain gc freed " in collected.stdout and "removed 2 runs" in collected.stdout
    kept = [r["id"] for r in json.loads(runner_cli(project, "runs", "--json"))]
    assert kept == [forced[-1]] and first not in kept
    assert github.check_runs == {}  # gc reports nothing to GitHub
