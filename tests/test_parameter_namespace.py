"""A pipeline's parameter names are its own namespace: a parameter named after a key retrain keeps for itself
(``metrics``, ``status``, ``version``, ``id``, ``parameters``, ...) is recorded, run, shown and reported with the
value asked for, on every version, like any other parameter."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from retrain.cli import main
from tests.conftest import commit_all, write

ENV = dict(os.environ)
# Keys of retrain's own records and outputs: store rows, Run and SubmitRequest fields, the JSON of runs and reviews,
# the report's context, the step's environment.
RESERVED = ("metrics", "status", "version", "id", "parameters", "tags", "name", "key", "pipeline", "endpoint",
            "experiment", "steps", "created", "started", "ended", "force", "url", "message", "inputs", "outputs",
            "type", "default", "value", "review", "run", "item", "published", "conclusion", "draft", "changed")


def pipeline_yaml(default: str) -> str:
    inputs = "".join(f"  {n}:\n    type: string\n    default: {default}-{n}\n" for n in RESERVED)
    bound = "".join(f"      {n}: ${{{{parent.inputs.{n}}}}}\n" for n in RESERVED)
    return ("$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\ntype: pipeline\n"
            f"inputs:\n{inputs}jobs:\n  echo:\n    type: command\n    component: ./echo.yml\n    inputs:\n{bound}")


def component_yaml() -> str:
    inputs = "".join(f"  {n}:\n    type: string\n" for n in RESERVED)
    words = " ".join(f"{n}=${{{{inputs.{n}}}}}" for n in RESERVED)
    return ("$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json\ntype: command\n"
            f"name: echo\ninputs:\n{inputs}environment: azureml:AzureML-sklearn-1.5@latest\ncommand: echo {words}\n")


@pytest.fixture
def two_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    write(root, {"p/pipeline.yml": pipeline_yaml("v1"), "p/echo.yml": component_yaml(),
                 "retrain.yml": "backend: local\npipelines:\n  echo:\n    definition: p/pipeline.yml\n    endpoint: echo-retrain\n"
                                "    parameters:\n      metrics: from-the-file\n    metrics:\n      score: max\n"})
    commit_all(root)
    monkeypatch.chdir(root)
    assert main(["publish"], ENV) == 0
    (root / "p/pipeline.yml").write_text(pipeline_yaml("v2"))  # a second version, with other defaults
    assert main(["publish"], ENV) == 0
    return root


@pytest.mark.parametrize("version, number", [("1", 1), ("2", 2), ("default", 1), ("latest", 2)])
def test_every_reserved_name_is_honoured_on_every_version(two_versions: Path, capsys: pytest.CaptureFixture[str],
                                                          version: str, number: int) -> None:
    asked = {n: f"asked-{n}-{version}" for n in RESERVED}
    capsys.readouterr()
    code = main(["submit", "echo", "--version", version, *[a for n, v in asked.items() for a in ("--set", f"{n}={v}")],
                 "--json"], ENV)
    assert code == 0
    [item] = json.loads(capsys.readouterr().out)
    run_id = item["run"]["id"]
    assert main(["status", run_id, "--json"], ENV) == 0
    run = json.loads(capsys.readouterr().out)
    assert (run["version"], run["status"], run["id"]) == (number, "completed", run_id)  # retrain's own fields stay its own
    assert run["parameters"] == asked  # recorded as asked
    log = (two_versions / ".retrain" / "runs" / run_id / "steps" / "echo" / "std_log.txt").read_text()
    assert log.split() == [f"{n}={v}" for n, v in asked.items()]  # and run as asked
    assert main(["status", run_id], ENV) == 0
    shown = capsys.readouterr().out
    assert "  metrics     asked-metrics-" in shown and "  parameters  asked-parameters-" in shown


def test_the_files_value_for_a_parameter_named_metrics_is_used_when_none_is_asked(
        two_versions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["submit", "echo", "--version", "2", "--json"], ENV) == 0
    [item] = json.loads(capsys.readouterr().out)
    log = (two_versions / ".retrain" / "runs" / item["run"]["id"] / "steps" / "echo" / "std_log.txt").read_text()
    assert "metrics=from-the-file" in log.split() and "status=v2-status" in log.split()
