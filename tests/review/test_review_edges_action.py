"""A NaN score and metric names that are Markdown and HTML, through the action against the fake GitHub: the check
run and the job summary show them as text, and the step outputs stay valid JSON."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.github_api import FakeGitHub
from tests.github_runner import Runner
from tests.review.scenario import gated_change, misbehave, strict_json


def test_a_nan_score_and_markup_names_in_the_check_run_the_summary_and_the_outputs(
        runner: Runner, github: FakeGitHub, project: Path) -> None:
    misbehave(project)
    gated_change(runner, github, project, 7)  # score NaN
    result = runner.run(runner.env("push", runner.push(["pipelines/tiny/pipeline.yml"])))
    assert result.code == 1, result.stderr + result.stdout
    [check] = github.runs_named("retrain / tiny")
    assert check["conclusion"] == "failure"
    for report in (check["output"]["summary"], result.summary):
        assert "| <code>score</code> | NaN | 0.563 | - | ⚠ not a finite number |" in report
        assert "| score >= 0.55 | NaN | 0.55 | ❌ **failed** |" in report
        assert "| <code>&lt;img src=x onerror=alert(1)></code> | 1 | 1 | ±0 | = same (higher is better) |" in report
        assert "| <code>a\\|b</code> | 2 | 2 | ±0 | = same (higher is better) |" in report
        assert "<img" not in report
    assert strict_json(result.outputs["metrics"]) == {"<img src=x onerror=alert(1)>": 1.0, "a|b": 2.0, "rows": 3.0,
                                                      "score": "NaN"}
    differences = strict_json(result.outputs["metric-differences"])
    assert differences["score"] == {"value": "NaN", "baseline": 0.563, "difference": None, "goal": "max",
                                    "verdict": "not finite"}
    assert result.outputs["gate"] == "failed"
