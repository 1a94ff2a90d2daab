"""Review on Azure ML v2's shared pieces: a parameter file gating the one-step project
(tests/backends/azureml/workspace.py) on the fake workspace, a publish or submit of it as the CLI carries it out, and
the batch endpoint's default deployment."""

from __future__ import annotations

import io
from pathlib import Path

from retrain.config.load import load_config
from retrain.flow.execute import execute
from retrain.flow.plan import Plan, command_plan
from retrain.report.console import ConsoleReporter
from tests.backends.azureml.workspace import make_backend
from tests.fakes.azure import FakeAzure


def write_config(azure: FakeAzure, tmp_path: Path, gate: str) -> Path:
    path = tmp_path / "retrain.yml"
    path.write_text(
        f"backend:\n  kind: azureml\n  subscription_id: {azure.subscription}\n  resource_group: {azure.resource_group}\n"
        f"  workspace: {azure.workspace}\n  compute: cpu-cluster\n"
        "pipelines:\n  income:\n    definition: pipeline.yml\n    endpoint: income-retrain\n"
        f"    promote:\n      auc: \"{gate}\"\n")
    return path


def run(azure: FakeAzure, tmp_path: Path, gate: str, *, publish: bool, draft: bool = False,
        commit: str = "c0ffee") -> tuple[list, str]:  # type: ignore[type-arg]
    config = load_config(write_config(azure, tmp_path, gate))
    plan = command_plan(config, ["income"], publish=publish, submit=not publish, command="test")
    if draft:
        plan = Plan(plan.event, tuple(type(i)(**{**i.__dict__, "draft": True}) for i in plan.items))
    out = io.StringIO()
    outcomes = execute(plan, config, make_backend(azure), ConsoleReporter(out), commit=commit, poll_interval_s=0.01)
    return outcomes, out.getvalue()


def default_deployment(azure: FakeAzure) -> str:
    endpoint = azure.resources[f"{azure.workspace_path}/batchEndpoints/income-retrain"]
    return str(endpoint["properties"]["defaults"]["deploymentName"])
