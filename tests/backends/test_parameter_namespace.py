"""A pipeline's parameter names are its own namespace: a parameter named after a key retrain keeps for itself
(``metrics``, ``status``, ``version``, ``id``, ``parameters``, ...) is recorded, run, shown and reported with the
value asked for, on every version, like any other parameter."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from retrain.backends.base import SubmitRequest
from retrain.cli.main import main
from retrain.pipeline.load import load_pipeline
from tests.conftest import commit_all, write
from tests.fakes.azure import FakeAzure
from tests.backends.azureml.workspace import make_backend

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


# -- Azure ML v2, against the fake: the job's inputs and the run read back ----------------------------------------------

AZURE_NAMES = ("metrics", "status", "version", "id", "parameters", "tags", "name", "key", "inputs", "outputs", "type")


def azure_project(tmp_path: Path, default: str) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "echo.py").write_text(f"print('{default}')\n")
    inputs = "".join(f"  {n}: {{type: string}}\n" for n in AZURE_NAMES)
    words = " ".join(f"${{{{inputs.{n}}}}}" for n in AZURE_NAMES)
    (tmp_path / "echo.yml").write_text(f"type: command\nname: echo\ninputs:\n{inputs}code: ./src\n"
                                       f"environment: azureml:sklearn:1\ncommand: python echo.py {words}\n")
    parent = "".join(f"  {n}: {{type: string, default: {default}-{n}}}\n" for n in AZURE_NAMES)
    bound = "".join(f"      {n}: ${{{{parent.inputs.{n}}}}}\n" for n in AZURE_NAMES)
    (tmp_path / "pipeline.yml").write_text(f"type: pipeline\ninputs:\n{parent}jobs:\n  echo:\n    component: ./echo.yml\n"
                                           f"    inputs:\n{bound}")
    return tmp_path / "pipeline.yml"


def test_on_azure_every_reserved_name_reaches_the_job_on_every_version(azure: FakeAzure, tmp_path: Path) -> None:
    backend = make_backend(azure)
    backend.publish(load_pipeline(azure_project(tmp_path, "v1")), endpoint="echo-retrain", make_default=False,
                    source_commit="c1")
    backend.publish(load_pipeline(azure_project(tmp_path, "v2")), endpoint="echo-retrain", make_default=False,
                    source_commit="c2")
    for version, number in (("default", 1), (1, 1), (2, 2), ("latest", 2)):
        asked = {n: f"asked-{n}-{version}" for n in AZURE_NAMES}
        run = backend.submit(SubmitRequest(pipeline="echo", endpoint="echo-retrain", version=version, parameters=asked,
                                           experiment="echo", key=f"k-{version}", tags={}))
        job = azure.resources[f"{azure.workspace_path}/jobs/{run.id}"]["properties"]
        assert {n: i["value"] for n, i in job["inputs"].items()} == asked  # sent as asked
        assert job["componentId"].endswith(f"/components/echo_retrain/versions/{number}")
        again = backend.run(run.id)
        assert (again.parameters, again.version, again.id) == (asked, number, run.id)  # read back as asked
    assert azure.violations == []
