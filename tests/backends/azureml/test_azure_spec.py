"""The committed REST descriptions (extracted from azure-ai-ml and azureml-pipeline-core) against the service's
published examples, and the fake's answers to requests outside them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tests.fakes.azure import FakeAzure, fake_azure
from tests.fakes.azure_spec import FIXTURES, arm_spec, v1_spec

EXAMPLES = json.loads((FIXTURES / "spec-examples.json").read_text())["examples"]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["file"] for e in EXAMPLES])
def test_the_description_accepts_the_published_examples(example: dict[str, object]) -> None:
    spec = arm_spec()
    [op] = [o for o in spec.operations if o.id == example["operation"]]
    assert op.body is not None
    assert spec.validate(op.body, example["body"]) == []


def test_the_description_rejects_what_the_service_would() -> None:
    spec = arm_spec()
    job = {"properties": {"jobType": "Pipeline", "inputs": {"x": {"jobInputType": "literal", "value": 1}}}}
    assert spec.validate("JobBase", job) == ["body.properties.inputs.x.value must be a string"]
    assert spec.validate("BatchEndpoint", {"location": "w", "properties": {}}) == [
        "body.properties.authMode is required (BatchEndpointProperties)"]
    assert spec.validate("DataVersionBase", {"properties": {"dataType": "uri_file", "dataUri": "u", "dataUrl": "u"}}) == [
        "body.properties.dataUrl is not a property of UriFileDataVersion"]
    assert spec.validate("BatchEndpoint", {"location": "w", "properties": {"authMode": "AADToken", "scoringUri": "x"}}) == [
        "body.properties.scoringUri is read-only (BatchEndpointProperties)"]


def test_workspace_data_versions_have_no_pending_upload_and_v1_has_the_graph_interface() -> None:
    spec = arm_spec()
    ws = "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w"
    assert spec.operation("POST", f"{ws}/data/d/versions/1/startPendingUpload") is None
    assert spec.operation("POST", f"{ws}/codes/c/versions/1/startPendingUpload") is not None
    assert spec.operation("POST", f"{ws}/datastores/workspaceblobstore/listSecrets") is not None
    assert v1_spec().operation("GET", f"/pipelines/v1.0{ws}/Graphs/g/Interface") is not None
    assert "DataPathAssignments" not in v1_spec().models["PipelineEntity"]["properties"]


def test_an_operation_outside_the_description_is_a_404_with_the_service_error_body(tmp_path: Path) -> None:
    import msal

    fake = FakeAzure().start(tmp_path)
    try:
        app = msal.ConfidentialClientApplication(fake.client_id, authority=f"{fake.url}/{fake.tenant}", client_credential=fake.client_secret,
                                                 http_client=_session(fake), instance_discovery=False)
        token = app.acquire_token_for_client(["https://management.azure.com/.default"])["access_token"]
        answer = _session(fake).post(f"{fake.url}{fake.workspace_path}/data/d/versions/1/startPendingUpload?api-version=2025-12-01",
                                     json={"pendingUploadType": "TemporaryBlobReference"}, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 404
        assert set(answer.json()["error"]) == {"code", "message"}
        assert fake.unknown_operations == [f"POST {fake.workspace_path}/data/d/versions/1/startPendingUpload"]
    finally:
        fake.stop()


def _session(fake: FakeAzure) -> requests.Session:
    session = requests.Session()
    session.verify, session.trust_env = str(fake.ca_file), False
    return session


def test_the_fake_refuses_to_end_quietly_after_an_unknown_operation(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="requests outside"), fake_azure(tmp_path) as fake:
        fake.unknown_operations.append("GET /nowhere")


def test_the_fake_rules_follow_from_what_the_sdk_sends() -> None:
    """tests/fixtures/azureml/sdk-record.json: azure-ai-ml 1.35.2 run against this fake (record_sdk.py)."""
    record = json.loads((FIXTURES / "sdk-record.json").read_text())
    assert record["steps"] == {"datastore": "ok", "component": "ok", "job": "ok"} and record["unknown_operations"] == []
    ws = "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w"
    arm = [r for r in record["requests"] if r["path"].startswith("<WS>")]
    assert all(arm_spec().operation(r["method"], r["path"].replace("<WS>", ws)) for r in arm)
    content_writes = [r for r in record["requests"] if r["method"] == "PUT" and "/blob/" in r["path"] and "comp" not in r["query"]]
    assert content_writes and all("if-none-match" in r["headers"] for r in content_writes)  # conditional blob writes
    [job] = [r for r in arm if r["method"] == "PUT" and "/jobs/" in r["path"]]
    assert "x-azureml-token" in job["headers"]  # the second token on a pipeline job
    [lookup] = [r for r in arm if r["method"] == "GET" and r["path"].endswith("/versions") and "/codes/" in r["path"]]
    assert {"hash", "hashVersion"} <= set(lookup["query"])  # code is looked up by its hash before any upload
    [secrets] = [r for r in arm if r["path"].endswith("/listSecrets")]
    assert json.loads(secrets["body"]) == {"expirableSecret": True, "expireAfterHours": 1}
