"""Review on the local backend, end to end through the CLI: baselines, gates, promote, drafts, --compare.

The tiny pipeline's score is 0.5 + learning_rate * epochs / 10 + rows / 1000, so changing the default
of ``epochs`` in the pipeline makes a weaker or a better version.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retrain.cli.main import main
from tests.review.scenario import add_gate, default_of, run_json, set_epochs

ENV = dict(os.environ)


@pytest.fixture
def gated(project: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Version 1 published (the default) and run once: score 0.563."""
    assert main(["publish"], ENV) == 0
    assert main(["submit", "tiny"], ENV) == 0
    add_gate(project)
    capsys.readouterr()
    return project


def test_a_weaker_version_is_published_but_not_promoted(gated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_epochs(gated, 1)  # score 0.523
    code, out = run_json(capsys, "publish")
    assert code == 1
    [item] = out  # type: ignore[misc]
    assert (item["version"], item["created"], item["conclusion"]) == (2, True, "failure")
    review = item["review"]
    assert (review["candidate_version"], review["promoted"], review["gate"]["passed"]) == (2, False, False)
    failed = [c["why"] for c in review["gate"]["checks"] if not c["passed"]]
    assert failed == ["score is 0.523, needs >= 0.55",
                      f"score is 0.523, needs >= 0.562 (baseline run {review['baseline_run']}: 0.563, tolerance 0.001)"]
    assert review["differences"]["score"] == {"value": 0.523, "baseline": 0.563, "difference": pytest.approx(-0.04),
                                              "goal": "max", "verdict": "worse"}
    assert item["message"].startswith("The gate failed: score is 0.523, needs >= 0.55;")
    assert item["message"].endswith("Version 2 was published but not promoted: the default stays at version 1.")
    assert default_of(capsys) == 1


def test_a_better_version_is_promoted_and_the_terminal_shows_the_comparison(gated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_epochs(gated, 5)  # score 0.603
    assert main(["publish"], ENV) == 0
    out = capsys.readouterr().out
    assert "baseline: run tiny-" in out and "(version 1): the latest completed run of the default version with the parameter file's values\n" in out
    lines: dict[str, list[str]] = {}
    for line in out.splitlines():  # the comparison table comes first; the gate's table names score too
        if line.strip().startswith(("score ", "rows ")):
            lines.setdefault(line.split()[0], line.split())
    assert lines["score"][:6] == ["score", "0.603", "0.563", "+0.04", "▲", "better"]
    assert lines["rows"][:6] == ["rows", "3", "3", "±0", "=", "same"]
    assert "gate: passed" in out
    assert "The gate passed (3 conditions): version 2 is now the default." in out
    assert default_of(capsys) == 2


def test_a_run_that_is_not_a_candidate_shows_the_gate_as_a_preview(gated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A resubmit of the default version with other values (the seed's retrain on other data) moves no default:
    # its gate is shown, but as a preview, so a FAILED gate is not read as the run's outcome.
    assert main(["submit", "tiny", "--set", "learning_rate=0.05", "--force"], ENV) == 0
    out = capsys.readouterr().out
    assert "gate (preview: this run is not a candidate version, so no default moves): FAILED" in out
    assert "tiny: success:" in out
    assert default_of(capsys) == 1


def test_promote_checks_the_gate_and_force_says_it_skipped(gated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_epochs(gated, 1)
    assert main(["publish"], ENV) == 1
    capsys.readouterr()
    assert main(["promote", "tiny", "2"], ENV) == 1
    out = capsys.readouterr().out
    assert "version 2 was not promoted: the gate failed: score is 0.523, needs >= 0.55" in out
    assert "The default stays at version 1." in out
    assert default_of(capsys) == 1
    assert main(["promote", "tiny", "2", "--force", "--reason", "by hand"], ENV) == 0
    assert "--force: the gate and the baseline comparison were NOT checked." in capsys.readouterr().out
    assert default_of(capsys) == 2
    assert main(["promote", "tiny", "7"], ENV) == 2
    assert "has no version 7. Its versions: 1, 2." in capsys.readouterr().err


def test_a_draft_runs_the_checkout_against_the_defaults_latest_run(gated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_epochs(gated, 1)
    code, out = run_json(capsys, "submit", "tiny", "--draft")
    assert code == 0
    [item] = out  # type: ignore[misc]
    assert item["run"]["tags"]["retrain.draft"] == "true"
    assert item["review"]["draft"] is True
    assert item["review"]["baseline_version"] == 1
    assert item["review"]["differences"]["score"]["verdict"] == "worse"
    # A draft is no version: the endpoint still lists one, and the default did not move.
    _, endpoint = run_json(capsys, "endpoints", "tiny-retrain")
    assert [v["number"] for v in endpoint["versions"]] == [1]  # type: ignore[index]
    assert main(["runs"], ENV) == 0
    listing = capsys.readouterr().out
    assert "  draft  " in listing
    # A draft is never a baseline: the next draft still compares with version 1's run.
    code, out = run_json(capsys, "submit", "tiny", "--draft", "--set", "learning_rate=0.3")
    assert out[0]["review"]["baseline_version"] == 1  # type: ignore[index]


def test_runs_compare_prints_side_by_side(gated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", "tiny", "--set", "learning_rate=0.4"], ENV) == 0
    _, runs = run_json(capsys, "runs")
    newer, older = runs[0]["id"], runs[1]["id"]  # type: ignore[index]
    assert main(["runs", "--compare", older, newer], ENV) == 0
    out = capsys.readouterr().out
    assert f"run      {older}  {newer}" in out
    assert [line.split()[:4] for line in out.splitlines() if line.strip().startswith("learning_rate")] == [["learning_rate", "0.2", "0.4", "differs"]]
    assert [line.split()[:6] for line in out.splitlines() if line.strip().startswith("score")] == [["score", "0.563", "0.623", "+0.06", "▲", "better"]]
    assert main(["runs", "--compare", older, "nope"], ENV) == 2
    capsys.readouterr()
    # retrain status shows a finished run beside its baseline too.
    assert main(["status", newer], ENV) == 0
    status = capsys.readouterr().out
    assert f"baseline: run {older} (version 1): the latest completed run of the default version with the parameter file's values" in status


def test_a_compare_to_run_that_does_not_exist_is_bad_input(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (project / "retrain.yml").open("a") as f:
        f.write("    compare_to: tiny-20990101-000000-abcdef\n")
    assert main(["submit", "tiny"], ENV) == 2
    err = capsys.readouterr()
    assert "retrain.yml:15:17: at pipelines.tiny.compare_to: there is no run 'tiny-20990101-000000-abcdef'." in err.out + err.err


def test_a_draft_is_refused_with_a_version(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", "tiny", "--draft", "--version", "1"], ENV) == 2
    assert "--draft runs the pipeline as it is in this checkout, not a version: leave out --version." in capsys.readouterr().err


def test_sync_wait_judges_a_gated_version_submitted_without_waiting(gated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from retrain.config.backend import make_backend
    from retrain.config.load import load_config
    from retrain.report.console import ConsoleReporter
    from retrain.flow.execute import Conclusion, execute
    from retrain.flow.plan import command_plan

    set_epochs(gated, 1)
    train = gated / "pipelines" / "tiny" / "src" / "train.py"
    train.write_text("import time\ntime.sleep(3)\n" + train.read_text())  # still running when sync starts
    config = load_config(gated / "retrain.yml")
    plan = command_plan(config, ["tiny"], publish=True, submit=False, command="publish")
    [pending] = execute(plan, config, make_backend(config, ENV), ConsoleReporter(io.StringIO()), commit=None, wait=False)
    assert (pending.conclusion, pending.candidate) == (Conclusion.PENDING, 2)
    assert main(["sync", "--wait"], ENV) == 1
    out = capsys.readouterr().out
    assert "tiny: The gate failed: score is 0.523, needs >= 0.55;" in out
    assert "Version 2 was published but not promoted: the default stays at version 1." in out
    assert default_of(capsys) == 1


def test_gc_keeps_the_run_compare_to_names_and_status_survives_a_missing_baseline(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["publish"], ENV) == 0
    assert main(["submit", "tiny"], ENV) == 0
    _, runs = run_json(capsys, "runs")
    [named] = [r["id"] for r in runs]  # type: ignore[index, union-attr]
    with (project / "retrain.yml").open("a") as f:
        f.write(f"    compare_to: {named}\n")
        f.write("retention: {keep: 1}\n")
    assert main(["submit", "tiny", "--force"], ENV) == 0
    capsys.readouterr()
    assert main(["gc"], ENV) == 0
    assert f"removed run {named}" not in capsys.readouterr().out
    assert main(["status", named], ENV) == 0  # the baseline is still there ...
    assert main(["submit", "tiny", "--force"], ENV) == 0  # ... so submit still works

    # A baseline that is gone all the same (named after the fact): status still shows the run, and says so.
    _, runs = run_json(capsys, "runs")
    newest = runs[0]["id"]  # type: ignore[index]
    text = (project / "retrain.yml").read_text().replace(named, "tiny-20990101-000000-abcdef")
    (project / "retrain.yml").write_text(text)
    capsys.readouterr()
    assert main(["status", newest], ENV) == 0
    out = capsys.readouterr().out
    assert newest in out and "completed" in out
    assert "baseline: could not be read (compare_to names run 'tiny-20990101-000000-abcdef', which does not exist." in out
