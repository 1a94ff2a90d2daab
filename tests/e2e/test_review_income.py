"""The review story of the income sample, end to end on the local backend, through the action against the fake
GitHub: a pull request that sets max_iter to 1 runs as a draft showing the drop in AUC against the default's
latest run; merged, it is published but not promoted and the check names auc; a better version is promoted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_process import retrain as cli
from tests.conftest import git
from tests.fakes.github_api import FakeGitHub
from tests.github_runner import GITHUB, HEAD, Runner
from tests.paths import ROOT

pytest.importorskip("sklearn", reason="the income sample needs the sample extra: pip install '.[sample]'")
pytest.importorskip("pandas", reason="the income sample needs the sample extra: pip install '.[sample]'")

SAMPLE = ROOT / "examples" / "income"


def set_max_iter(repo: Path, value: int) -> None:
    path = repo / "pipeline.yml"
    text = path.read_text()
    start = text.index("  max_iter: ")  # a bare value, as Azure ML's pipeline-job inputs are
    path.write_text(text[:start] + f"  max_iter: {value}" + text[text.index("\n", start):])


def default_version(repo: Path) -> int:
    return json.loads(cli(repo, "endpoints", "income-retrain", "--json").stdout)["default_version"]  # type: ignore[no-any-return]


def test_review_of_a_weaker_and_a_better_income_model(github: FakeGitHub, tmp_path: Path) -> None:  # noqa: F811
    repo = tmp_path / "income"
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns(".retrain", "__pycache__"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the income sample")
    (tmp_path / "runner").mkdir()
    runner = Runner(repo, github, tmp_path / "runner")

    # The default, version 1, and its run on the file's values: the baseline of what follows.
    assert cli(repo, "publish").returncode == 0
    first = cli(repo, "submit", "income", "--json")
    assert first.returncode == 0, first.stderr
    baseline = json.loads(first.stdout)[0]["run"]
    assert baseline["metrics"]["auc"] > 0.9

    # A pull request that weakens the model: a draft run, checked on the pull request's head commit.
    set_max_iter(repo, 1)
    payload = json.loads((GITHUB / "pull_request-opened.json").read_text())
    payload["repository"]["full_name"] = github.repository
    github.compare_files = ["pipeline.yml"]
    pr = runner.run(runner.env("pull_request", payload))
    assert pr.code == 0, pr.stdout + pr.stderr
    [check] = github.runs_named("retrain / income")
    assert (check["head_sha"], check["conclusion"]) == (HEAD, "success")
    summary = check["output"]["summary"]
    assert "**Draft run**" in summary
    assert f"baseline: run {baseline['id']} (version 1)" in summary
    auc_row = next(line for line in summary.splitlines() if line.startswith("| <code>auc</code> |"))  # the comparison comes first
    cells = [c.strip() for c in auc_row.strip("|").split("|")]
    assert float(cells[1]) < float(cells[2]) == round(baseline["metrics"]["auc"], 4)
    assert cells[3].startswith("−") and cells[4] == "▼ worse (higher is better)"
    assert "#### Promotion gate (preview: a draft is never promoted)" in summary
    assert pr.outputs["baseline-run-id"] == baseline["id"]
    assert json.loads(pr.outputs["metric-differences"])["auc"]["verdict"] == "worse"
    assert default_version(repo) == 1
    assert [v["number"] for v in json.loads(cli(repo, "endpoints", "income-retrain", "--json").stdout)["versions"]] == [1]

    # Merged: version 2 is published, its run fails the gate, the default stays, the check names auc.
    git(repo, "commit", "-qam", "max_iter: 1")
    runner.sha = git(repo, "rev-parse", "HEAD")
    runner.reset_files()
    merged = runner.run(runner.env("push", runner.push(["pipeline.yml"])))
    assert merged.code == 1, merged.stdout + merged.stderr
    [check] = [c for c in github.runs_named("retrain / income") if c["head_sha"] == runner.sha]
    assert check["conclusion"] == "failure"
    text = check["output"]["summary"]
    assert "The gate failed: auc is 0.8" in text and "needs >= 0.9" in text
    assert "| auc >= 0.9 | 0.8" in text and "❌ **failed**" in text
    assert "version 2 was published but not promoted" in text
    assert (merged.outputs["gate"], merged.outputs["published-version"]) == ("failed", "2")
    assert default_version(repo) == 1

    # A better version: promoted once its run passes.
    set_max_iter(repo, 150)
    git(repo, "commit", "-qam", "max_iter: 150")
    runner.sha = git(repo, "rev-parse", "HEAD")
    runner.reset_files()
    better = runner.run(runner.env("push", runner.push(["pipeline.yml"])))
    assert better.code == 0, better.stdout + better.stderr
    assert better.outputs["gate"] == "passed"
    assert better.outputs["baseline-run-id"] == baseline["id"]
    [check] = [c for c in github.runs_named("retrain / income") if c["head_sha"] == runner.sha]
    assert check["conclusion"] == "success"
    assert "version 3 is now the default" in check["output"]["summary"]
    assert default_version(repo) == 3
    assert github.violations == []
