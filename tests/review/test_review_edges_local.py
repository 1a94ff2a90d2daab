"""Gates at their edges end to end on the local backend, through the CLI and the Markdown report: the first run
ever, a baseline that failed, a NaN in the run and then in the history, metric names that are Markdown and HTML."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from retrain.config.backend import make_backend
from retrain.cli.main import main
from retrain.config.load import load_config
from retrain.report.console import ConsoleReporter
from retrain.flow.execute import Outcome, execute
from retrain.flow.plan import command_plan
from retrain.report.markdown import render
from tests.review.scenario import add_gate, default_of, misbehave, set_epochs, strict_json

ENV = dict(os.environ)


def publish_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, object]:
    capsys.readouterr()
    code = main(["publish", *argv, "--json"], ENV)
    return code, strict_json(capsys.readouterr().out)


def run_outcome(project: Path, *, publish: bool, overrides: dict[str, str] | None = None) -> Outcome:
    """As `retrain publish` or `submit` runs it, keeping the outcome to render its Markdown report (the check run's)."""
    config = load_config(project / "retrain.yml")
    plan = command_plan(config, ["tiny"], publish=publish, submit=not publish, command="publish" if publish else "submit",
                        overrides=overrides or {})
    [outcome] = execute(plan, config, make_backend(config, ENV), ConsoleReporter(io.StringIO()), commit=None)
    return outcome


def test_the_first_run_ever_under_a_gate_of_only_not_worse_than(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (project / "retrain.yml").open("a") as f:
        f.write("    promote:\n      not_worse_than: baseline\n")
    code, out = publish_json(capsys)
    assert code == 0 and out[0]["version"] == 1  # type: ignore[index]
    assert default_of(capsys) == 1  # the endpoint's first version is its default: there is nothing else to keep
    capsys.readouterr()
    assert main(["submit", "tiny"], ENV) == 0  # a run of the default decides nothing: its gate is a preview
    text = capsys.readouterr().out
    assert "baseline: none (the default version 1 has no completed run with the parameter file's values yet)" in text
    assert "gate (preview: this run is not a candidate version, so no default moves): FAILED" in text
    assert "skipped: no baseline run to compare with" in text


def test_a_baseline_that_failed_fails_the_gate_instead_of_passing_on_nothing(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    misbehave(project)
    assert main(["publish"], ENV) == 0
    assert main(["submit", "tiny", "--set", "epochs=9"], ENV) == 1
    capsys.readouterr()
    assert main(["runs", "--json"], ENV) == 0
    [failed] = [r["id"] for r in json.loads(capsys.readouterr().out) if r["status"] == "failed"]
    with (project / "retrain.yml").open("a") as f:
        f.write(f"    compare_to: {failed}\n    promote:\n      not_worse_than: baseline\n")
    set_epochs(project, 1)  # a much weaker model: 0.523
    code, out = publish_json(capsys)
    assert code == 1
    [item] = out  # type: ignore[misc]
    assert item["message"].startswith(f"The gate failed: the baseline run {failed} has no metrics (it failed, or its "
                                      "metrics could not be read), so nothing can be compared with it;")
    assert item["message"].endswith("Version 2 was published but not promoted: the default stays at version 1.")
    assert default_of(capsys) == 1


def test_a_nan_in_the_run_fails_the_gate_and_in_the_history_breaks_nothing(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    misbehave(project)
    assert main(["publish"], ENV) == 0
    assert main(["submit", "tiny"], ENV) == 0
    add_gate(project)

    set_epochs(project, 7)  # logs score NaN: kept, not dropped (so the gate does not call the name wrong)
    code, out = publish_json(capsys)
    assert code == 1
    review = out[0]["review"]  # type: ignore[index]
    assert review["differences"]["score"] == {"value": "NaN", "baseline": 0.563, "difference": None, "goal": "max",
                                              "verdict": "not finite"}
    assert [c["why"] for c in review["gate"]["checks"] if not c["passed"]] == [
        "score is NaN, needs >= 0.55 (not a finite number, so it cannot pass)",
        f"score is NaN, needs >= 0.562 (baseline run {review['baseline_run']}: 0.563, tolerance 0.001)"]
    assert default_of(capsys) == 1

    set_epochs(project, 5)  # 0.603: promoted, with the NaN run in the trend
    outcome = run_outcome(project, publish=True)
    assert outcome.promoted and outcome.candidate == 3
    report = render(outcome)
    [spark] = [line for line in report.splitlines() if line.startswith("| <code>score</code> | ")
               and line.count("|") == 5 and any(ch in line for ch in "▁█")]
    assert spark == "| <code>score</code> | ▁ █ | 0.563 | 0.603 |"  # the NaN run is a gap
    assert "| NaN |" in report  # the recent-runs table shows it as it is
    # Names from the step are text, not Markdown or HTML: no tag, no extra table cell.
    assert "| <code>&lt;img src=x onerror=alert(1)></code> | 1 | 1 | ±0 | = same (higher is better) |" in report
    assert "| <code>a\\|b</code> | 2 | 2 | ±0 | = same (higher is better) |" in report
    assert "<img" not in report
    assert default_of(capsys) == 3


def test_by_hand_runs_are_shown_but_never_the_baseline(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["publish"], ENV) == 0
    assert main(["submit", "tiny"], ENV) == 0
    capsys.readouterr()
    assert main(["runs", "--json"], ENV) == 0
    [files] = [r["id"] for r in json.loads(capsys.readouterr().out)]
    assert main(["submit", "tiny", "--set", "learning_rate=0.9"], ENV) == 0  # an experiment: score 0.773
    add_gate(project)
    set_epochs(project, 5)  # 0.603: better than the file's run (0.563), far worse than the experiment
    outcome = run_outcome(project, publish=True)
    assert outcome.review.comparison.baseline_run == files
    assert outcome.promoted
    report = render(outcome)
    assert "| <code>score</code> | ▁█▂ | 0.563 | 0.773 |" in report  # the experiment is in the trend, not the baseline
    assert " | v1 (values by hand) | " in report
    # The promoted version's judging run is now the baseline of what follows, not a later by-hand run.
    judged = outcome.run.id
    assert main(["submit", "tiny", "--set", "learning_rate=0.05"], ENV) == 0
    capsys.readouterr()
    set_epochs(project, 6)
    later = run_outcome(project, publish=True)
    assert later.review.comparison.baseline_run == judged
    assert later.review.comparison.how == "the run that passed the gate and promoted the default version"


def test_a_version_promoted_by_hand_is_judged_against_later_by_the_run_that_passed(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["publish"], ENV) == 0
    assert main(["submit", "tiny"], ENV) == 0
    set_epochs(project, 5)
    assert main(["publish"], ENV) == 0  # no gate yet: version 2 published, the default stays at 1
    assert main(["submit", "tiny", "--version", "2"], ENV) == 0  # the file's values on version 2
    capsys.readouterr()
    assert main(["runs", "--json"], ENV) == 0
    checked = json.loads(capsys.readouterr().out)[0]["id"]
    assert main(["submit", "tiny", "--version", "2", "--set", "learning_rate=0.9"], ENV) == 0  # later, by hand
    add_gate(project)
    assert main(["promote", "tiny", "2"], ENV) == 0
    assert default_of(capsys) == 2
    set_epochs(project, 6)
    later = run_outcome(project, publish=True)
    assert (later.review.comparison.baseline_run, later.review.comparison.how) == (
        checked, "the run that passed the gate and promoted the default version")


def test_compare_to_latest_passes_over_runs_with_values_given_by_hand(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (project / "retrain.yml").open("a") as f:
        f.write("    compare_to: latest\n")
    assert main(["publish"], ENV) == 0
    assert main(["submit", "tiny", "--set", "learning_rate=0.9"], ENV) == 0
    outcome = run_outcome(project, publish=False, overrides={"learning_rate": "0.3"})
    assert outcome.review.comparison.baseline_run is None
    assert outcome.review.comparison.how == ("no completed run with the parameter file's values yet; 1 run with values "
                                             "given by hand is not a baseline unless compare_to names it")
    files = run_outcome(project, publish=False)
    assert files.review.comparison.baseline_run is None  # still none: the by-hand runs are passed over
    last = run_outcome(project, publish=False)
    assert last.review.comparison.baseline_run == files.run.id
