"""Submitting to a pipeline endpoint published from the v1 designer (the seed's scenario), against the fake
pipelines service and run history behind the workspace's discovery document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrain.backends.base import RunStatus, StepStatus
from retrain.errors import NotFound, UsageError
from retrain.flow.follow import follow
from retrain.pipeline.load import load_pipeline
from tests.fakes.azure import FakeAzure, fake_azure
from tests.backends.azureml.workspace import backend_for, v1_request as request


@pytest.fixture
def azure(tmp_path: Path) -> Iterator[FakeAzure]:
    with fake_azure(tmp_path) as fake:
        fake.add_v1_endpoint("income-designer", {
            "0": {"parameters": {"training_data_path": "income/us.csv"}},
            "1": {"parameters": {"training_data_path": "income/us.csv", "learning_rate": "0.2"},
                  "datapaths": {"raw": {"DataStoreName": "workspaceblobstore", "RelativePath": "income/"}}},
        }, default="0")
        yield fake


def test_versions_and_default_of_a_designer_endpoint(azure: FakeAzure) -> None:
    endpoint = backend_for(azure).endpoint("income-designer")
    assert [(v.number, v.is_default) for v in endpoint.versions] == [(0, True), (1, False)]
    assert endpoint.default_version == 0
    with pytest.raises(NotFound, match="no pipeline endpoint 'nope' in workspace ml-ws"):
        backend_for(azure).endpoint("nope")


def test_submit_a_pinned_version_with_parameters_and_follow_it(azure: FakeAzure) -> None:
    backend = backend_for(azure)
    run = backend.submit(request("rt-v1a", version=1, training_data_path="income/non-us.csv", learning_rate=0.05,
                                 raw="azureml://datastores/workspaceblobstore/paths/income/2026-11/"))
    sent = azure.v1_runs[run.id]
    assert sent["ParameterAssignments"] == {"training_data_path": "income/non-us.csv", "learning_rate": "0.05"}
    assert sent["PipelineId"] == azure.v1_endpoints[next(iter(azure.v1_endpoints))]["PipelineVersionList"][1]["PipelineId"]
    assert run.version == 1
    assert run.url == (f"https://ml.azure.com/runs/{run.id}?wsid=/subscriptions/{azure.subscription}/resourcegroups/"
                       f"{azure.resource_group}/workspaces/{azure.workspace}&tid={azure.tenant}")
    done = follow(backend, run, timeout_s=30, on_change=lambda r: None, interval_s=0)
    assert done.run.status is RunStatus.COMPLETED
    assert {s.name: s.status for s in done.run.steps} == {"import_data": StepStatus.COMPLETED, "train_model": StepStatus.COMPLETED}
    assert azure.violations == []


def test_the_same_key_does_not_post_twice(azure: FakeAzure) -> None:
    backend = backend_for(azure)
    first = backend.submit(request("rt-v1b", training_data_path="income/us.csv"))
    again = backend.submit(request("rt-v1b", training_data_path="income/us.csv"))
    assert again.id == first.id
    assert azure.count("POST", r"PipelineEndpointSubmit") == 1


def test_cancel(azure: FakeAzure) -> None:
    azure.polls_to_finish = 100
    backend = backend_for(azure)
    run = backend.submit(request("rt-v1c", training_data_path="income/us.csv"))
    assert backend.cancel(run.id).status is RunStatus.CANCELED


def test_unknown_parameters_and_publishing_are_refused_with_directions(azure: FakeAzure, tmp_path: Path) -> None:
    backend = backend_for(azure)
    with pytest.raises(UsageError) as e:
        backend.submit(request("rt-v1d", training_data="income/us.csv"))
    assert str(e.value) == ("version 0 of pipeline endpoint 'income-designer' has no parameter 'training_data'. "
                            "Did you mean 'training_data_path'? Its parameters: training_data_path.")
    (tmp_path / "p.yml").write_text("type: pipeline\njobs:\n  a:\n    command: 'true'\n")
    with pytest.raises(UsageError, match="needs the retired Azure ML SDK v1"):
        backend.publish(load_pipeline(tmp_path / "p.yml"), endpoint="income-designer", make_default=False, source_commit=None)


def test_data_paths_come_from_the_graph_interface_as_the_sdk_reads_them(azure: FakeAzure) -> None:
    backend = backend_for(azure)
    run = backend.submit(request("rt-v1-dp", version=1, raw="azureml://datastores/workspaceblobstore/paths/income/2026-11/"))
    [(_, _, _, sent)] = [r for r in azure.requests if r[0] == "POST" and "PipelineEndpointSubmit" in r[1]]
    body = __import__("json").loads(sent)
    assert body["DataPathAssignments"] == {"raw": {"DataStoreName": "workspaceblobstore", "RelativePath": "income/2026-11/"}}
    assert body["ParameterAssignments"] == {} and body["ExperimentName"] == "income-retrain"
    assert (body["RunSource"], body["RunType"]) == ("SDK", "SDK")
    assert "Graphs_GetInterface" in azure.operations_seen
    assert run.version == 1 and azure.violations == []


def test_the_v1_error_body_is_read(azure: FakeAzure) -> None:
    from retrain.errors import BackendError

    azure.fail("POST", r"PipelineEndpointSubmit", 400, body={"Error": {"Code": "BadRequest", "Message": "Compute target gpu-old is not found"}})
    with pytest.raises(BackendError) as e:
        backend_for(azure).submit(request("rt-v1-err", training_data_path="income/us.csv"))
    assert "BadRequest: Compute target gpu-old is not found" in str(e.value)


@pytest.mark.parametrize(("final", "status"), [("Finished", RunStatus.COMPLETED), ("Failed", RunStatus.FAILED), ("Canceled", RunStatus.CANCELED)])
def test_v1_end_states(azure: FakeAzure, final: str, status: RunStatus) -> None:
    backend = backend_for(azure)
    run = backend.submit(request(f"rt-v1-{final}", training_data_path="income/us.csv"))
    azure.v1_runs[run.id]["Status"]["StatusCode"] = final
    assert backend.run(run.id).status is status
