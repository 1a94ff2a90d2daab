"""The promote: block's per-metric conditions (MLflow's MetricThreshold keys) and the version: latest warning, as
validate reads them: typed records, problems at their lines, the JSON schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrain.cli.main import main
from retrain.config.load import load_config
from retrain.config.gate import Change, Condition, Gate
from tests.config.parameter_file import problems, retrain_schema, with_review

PER_METRIC = """\
    metrics:
      rows: max
    promote:
      score: ">= 0.5"
      loss:
        threshold: 0.4
        min_absolute_change: 0
        greater_is_better: false
      rows:
        threshold: "> 1"
        min_relative_change: -0.05
      not_worse_than: baseline
      tolerance: 0.001
"""


def test_per_metric_conditions_become_typed_records(project: Path) -> None:
    (project / "retrain.yml").write_text(with_review(project, PER_METRIC))
    tiny = load_config(project / "retrain.yml").pipelines["tiny"]
    assert tiny.goals == {"rows": "max", "loss": "min"}  # greater_is_better: false is the goal min
    assert tiny.gate == Gate(
        (Condition("score", ">=", 0.5), Condition("loss", "<=", 0.4), Condition("rows", ">", 1.0)),  # 0.4: at most, by goal
        "baseline", 0.001, changes=(Change("loss", "absolute", 0.0), Change("rows", "relative", -0.05)))
    assert [str(c.location) for c in tiny.gate.changes] == ["retrain.yml:20:30", "retrain.yml:24:30"]


def test_bad_per_metric_conditions_are_reported_at_their_lines(project: Path) -> None:
    text = with_review(project, """\
    metrics:
      loss: max
    promote:
      loss:
        threshold: "about 0.4"
        min_absolute_change: lots
        min_relative_change: 2
        greater_is_better: false
      auc:
        greater_is_better: yes please
        min_change: 0.1
""")
    assert problems(project, text) == [
        "retrain.yml:18:20: at pipelines.tiny.promote.loss.threshold: the condition 'about 0.4' is not an operator and a "
        "number. Write e.g. \">= 0.9\" (operators: >=, <=, >, <, ==, !=).",
        "retrain.yml:19:30: at pipelines.tiny.promote.loss.min_absolute_change: expected a finite number, got a string "
        "'lots'. e.g. min_absolute_change: 0.005; a negative number allows that much worse.",
        "retrain.yml:20:30: at pipelines.tiny.promote.loss.min_relative_change: expected a number from -1 to 1 (a share of "
        "the baseline's value), got a number 2. e.g. min_relative_change: 0.01 (1% better than the baseline); a negative "
        "number allows that much worse.",
        "retrain.yml:21:28: at pipelines.tiny.promote.loss.greater_is_better: greater_is_better: false contradicts "
        "metrics: loss has goal max. Say which way the metric is better in one place.",
        "retrain.yml:23:9: at pipelines.tiny.promote.auc: the gate's entry for metric 'auc' has no condition. Add "
        "threshold, min_absolute_change or min_relative_change (greater_is_better alone only sets the goal; write that "
        "under metrics:).",
        "retrain.yml:23:28: at pipelines.tiny.promote.auc.greater_is_better: expected true or false, got a string "
        "'yes please'. true: higher is better (goal max); false: lower is better (goal min).",
        "retrain.yml:24:9: at pipelines.tiny.promote.auc.min_change: unknown key 'min_change'. Did you mean "
        "'min_relative_change'?",
    ]


def test_the_old_keys_keep_working(project: Path) -> None:
    (project / "retrain.yml").write_text(with_review(project, "    promote:\n      score: 0.5\n      rows: \"> 1\"\n"
                                                              "      not_worse_than: baseline\n      tolerance: 0.01\n"))
    gate = load_config(project / "retrain.yml").pipelines["tiny"].gate
    assert gate == Gate((Condition("score", ">=", 0.5), Condition("rows", ">", 1.0)), "baseline", 0.01)


def test_version_latest_with_a_gate_warns_at_validate(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = with_review(project, "").replace("version: default", "version: latest")
    text = plain + "    promote:\n      score: \">= 0.5\"\n"
    (project / "retrain.yml").write_text(text)
    assert main(["validate"], {}) == 0
    err = capsys.readouterr().err
    assert ("warning: retrain.yml:6:14: at pipelines.tiny.version: version: latest runs every later submit on the newest "
            "version, even one whose promote: gate failed, so the gate decides nothing for those runs. Write version: "
            "default, so runs follow the version the gate promoted (or remove promote:).") in err
    assert main(["validate", "--json"], {}) == 0
    [warning] = json.loads(capsys.readouterr().out)["warnings"]
    assert (warning["line"], warning["message"].startswith("version: latest runs")) == (6, True)
    # Without a gate, latest is a plain choice: no warning.
    (project / "retrain.yml").write_text(plain)
    assert main(["validate"], {}) == 0
    assert "warning" not in capsys.readouterr().err


def test_the_json_schema_describes_the_per_metric_keys(project: Path) -> None:
    import jsonschema
    import yaml

    schema = retrain_schema()
    jsonschema.validate(yaml.safe_load(with_review(project, PER_METRIC)), schema)
    for bad in (PER_METRIC.replace("min_relative_change: -0.05", "min_relative_change: 3"),
                PER_METRIC.replace("greater_is_better: false", "greater_is_better: no thanks"),
                PER_METRIC.replace("min_absolute_change: 0", "min_change: 0"),
                PER_METRIC.replace('threshold: "> 1"\n        min_relative_change: -0.05', "greater_is_better: true")):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(yaml.safe_load(with_review(project, bad)), schema)
