"""The parameter file's review settings: metric goals, compare_to, the promote: gate, submit_on: pull_request."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrain.cli.main import main
from retrain.config.load import load_config
from retrain.config.records import Trigger
from retrain.config.gate import BadCondition, Condition, Gate, parse_condition
from retrain.review.gate import evaluate
from tests.config.parameter_file import problems, retrain_schema, with_review

REVIEW = """\
    metrics:
      score: {goal: max}
      loss: min
    compare_to: latest
    submit_on: [merge, pull_request]
    promote:
      score: ">= 0.7"
      rows: "> 1"
      not_worse_than: baseline
      tolerance: 0.01
"""


def test_review_settings_become_typed_records(project: Path) -> None:
    (project / "retrain.yml").write_text(with_review(project, REVIEW))
    tiny = load_config(project / "retrain.yml").pipelines["tiny"]
    assert tiny.goals == {"score": "max", "loss": "min"}
    assert tiny.compare_to == "latest"
    assert tiny.submit_on == {Trigger.MERGE, Trigger.PULL_REQUEST}
    assert tiny.gate == Gate((Condition("score", ">=", 0.7), Condition("rows", ">", 1.0)), "baseline", 0.01)
    assert tiny.gate.conditions[0].location is not None and tiny.gate.conditions[0].location.line == 20


def test_defaults_without_review_settings(project: Path) -> None:
    tiny = load_config(project / "retrain.yml").pipelines["tiny"]
    assert (tiny.goals, tiny.compare_to, tiny.gate) == ({}, "default", None)


def test_bad_review_settings_are_reported_at_their_lines(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = with_review(project, """\
    metrics:
      loss: lowest
    compare_to: [1]
    promote:
      score: "about 0.9"
      not_worse_than: yesterday
      tolerance: -1
""", publish_on="[pull_request]")
    assert problems(project, text) == [
        "retrain.yml:12:17: at pipelines.tiny.publish_on: a pull request never publishes: its pipeline runs as a draft. "
        "Move pull_request to submit_on.",
        "retrain.yml:15:13: at pipelines.tiny.metrics.loss: the goal of metric 'loss' is 'lowest'. "
        "Write goal: max (higher is better) or goal: min (lower is better).",
        "retrain.yml:16:17: at pipelines.tiny.compare_to: expected default, latest or a run id, got a list [1]. "
        "Write compare_to: default (the default version's latest run), latest, or a run id from `retrain runs`.",
        "retrain.yml:18:14: at pipelines.tiny.promote.score: the condition 'about 0.9' is not an operator and a number. "
        "Write e.g. \">= 0.9\" (operators: >=, <=, >, <, ==, !=).",
        "retrain.yml:19:23: at pipelines.tiny.promote.not_worse_than: not_worse_than is 'yesterday'. Write not_worse_than: baseline.",
        "retrain.yml:20:18: at pipelines.tiny.promote.tolerance: expected a number of at least 0, got a number -1. "
        "The tolerance is how much worse than the baseline a metric may be, e.g. tolerance: 0.01.",
    ]
    assert main(["validate"], {}) == 2
    assert "promote.score" in capsys.readouterr().err


def test_an_empty_gate_is_refused(project: Path) -> None:
    assert problems(project, with_review(project, "    promote: {tolerance: 0.1}\n")) == [
        "retrain.yml:14:14: at pipelines.tiny.promote: the gate has no condition. Add one, e.g. auc: \">= 0.9\", or not_worse_than: baseline.",
        "retrain.yml:14:26: at pipelines.tiny.promote.tolerance: a tolerance without not_worse_than has nothing to loosen. "
        "Add not_worse_than: baseline, or remove tolerance.",
    ]


@pytest.mark.parametrize("text, expected", [(">= 0.9", (">=", 0.9)), ("<0.5", ("<", 0.5)), (0.8, (">=", 0.8)), ("== 1e-3", ("==", 0.001))])
def test_conditions_parse(text: object, expected: tuple[str, float]) -> None:
    cond = parse_condition("auc", text)
    assert (cond.op, cond.threshold) == expected


@pytest.mark.parametrize("text", ["0.9 <=", ">= high", "=> 0.9", True, None, ">= nan"])
def test_malformed_conditions_say_what_to_write(text: object) -> None:
    with pytest.raises(BadCondition):
        parse_condition("auc", text)


def test_a_gate_judges_absolute_and_relative_conditions() -> None:
    gate = Gate((Condition("auc", ">=", 0.9),), "baseline", 0.01)
    goals = {"log_loss": "min"}
    good = evaluate(gate, {"auc": 0.92, "log_loss": 0.30}, goals=goals, baseline={"auc": 0.925, "log_loss": 0.295}, baseline_run="r1")
    assert good.passed
    bad = evaluate(gate, {"auc": 0.61, "log_loss": 0.6}, goals=goals, baseline={"auc": 0.925, "log_loss": 0.295}, baseline_run="r1")
    assert [c.why for c in bad.failed] == [
        "auc is 0.61, needs >= 0.9",
        "auc is 0.61, needs >= 0.915 (baseline run r1: 0.925, tolerance 0.01)",
        "log_loss is 0.6, needs <= 0.305 (baseline run r1: 0.295, tolerance 0.01)",
    ]


def test_a_gate_on_a_metric_the_run_does_not_report_fails_naming_it() -> None:
    result = evaluate(Gate((Condition("aucc", ">=", 0.9),)), {"auc": 0.9, "accuracy": 0.8}, goals={}, where="retrain.yml:12:5")
    assert not result.passed
    assert result.failed[0].why == ("the gate names metric 'aucc' (promote: at retrain.yml:12:5), but the run reported no such "
                                    "metric (it reported: accuracy, auc); fix the name in promote:")


def test_the_json_schema_accepts_the_review_settings_and_refuses_a_malformed_condition(project: Path) -> None:
    import jsonschema
    import yaml

    schema = retrain_schema()
    good = yaml.safe_load(with_review(project, REVIEW))
    jsonschema.validate(good, schema)
    bad = yaml.safe_load(with_review(project, REVIEW.replace('">= 0.7"', '"about 0.7"')))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_a_designer_endpoint_takes_no_gate_and_no_drafts(project: Path) -> None:
    (project / "retrain.yml").write_text(
        "backend: {kind: azureml-v1, subscription_id: s, resource_group: rg, workspace: ws}\n"
        "pipelines:\n  income:\n    endpoint: income-designer\n    submit_on: [dispatch, pull_request]\n"
        "    promote: {auc: \">= 0.9\"}\n")
    assert problems(project, (project / "retrain.yml").read_text()) == [
        "retrain.yml:5:16: at pipelines.income.submit_on: a draft runs the pull request's pipeline definition, and a designer "
        "endpoint has none. Remove pull_request from submit_on.",
        "retrain.yml:6:14: at pipelines.income.promote: pipelines on the azureml-v1 backend are published from the designer, "
        "so retrain has no version to gate. Remove promote:, or move the pipeline to the azureml backend.",
    ]


def test_the_plan_of_a_pull_request_says_draft(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "retrain.yml").write_text(with_review(project, "    submit_on: [merge, pull_request]\n"))
    assert main(["plan", "--event", "pull_request", "--changed", "pipelines/tiny/src/train.py"], {}) == 0
    out = capsys.readouterr().out
    assert "tiny: draft run, no publish\n  endpoint tiny-retrain, a draft of this checkout (no version)\n" in out
    assert "because submit_on: pull_request: a draft run of the pull request's pipeline: pipelines/tiny/src/train.py changed" in out
    assert main(["plan", "--event", "pull_request", "--changed", "README.md"], {}) == 0
    assert "tiny: nothing to do" in capsys.readouterr().out
