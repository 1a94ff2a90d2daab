"""The Azure ML v2 backend against fake Azure AD, Resource Manager and blob storage over TLS on loopback.
msal runs for real; requests are checked against the 2025-12-01 REST shapes by the fake."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from retrain.backends.azureml.auth import AzureCredentials, credentials_from_env
from retrain.backends.azureml import AzureMLBackend
from retrain.backends.base import RunStatus, SubmitRequest
from retrain.errors import BackendError, CredentialError, NotFound
from retrain.flow.follow import Ending, follow
from retrain.pipeline.load import load_pipeline
from tests.fakes.azure import FakeAzure, fake_azure
from tests.backends.azureml.workspace import ARM_SCOPE, make_backend, project, request

ADULT = "azureml://datastores/workspaceblobstore/paths/income/adult.csv"


def test_publish_versions_by_content(azure: FakeAzure, tmp_path: Path) -> None:
    backend = make_backend(azure)
    path = project(tmp_path)
    first = backend.publish(load_pipeline(path), endpoint="income-retrain", make_default=False, source_commit="c1")
    again = backend.publish(load_pipeline(path), endpoint="income-retrain", make_default=False, source_commit="c2")
    assert (first.version.number, first.created, first.version.is_default) == (1, True, True)
    assert (again.version.number, again.created) == (1, False)
    assert azure.count("PUT", r"/codes/train_code/versions/") == 1  # code uploaded once, content-addressed
    assert any(p.endswith("/train.py") for p in azure.blobs)

    project(tmp_path, code="print('v2')\n")
    second = backend.publish(load_pipeline(path), endpoint="income-retrain", make_default=False, source_commit="c3")
    assert (second.version.number, second.created, second.version.is_default) == (2, True, False)
    endpoint = backend.endpoint("income-retrain")
    assert ([v.number for v in endpoint.versions], endpoint.default_version) == ([1, 2], 1)
    deployment = azure.resources[f"{azure.workspace_path}/batchEndpoints/income-retrain/deployments/v2"]
    assert deployment["properties"]["deploymentConfiguration"]["componentId"]["assetId"].endswith("/components/income_retrain/versions/2")
    assert azure.violations == []


def two_versions(azure: FakeAzure, tmp_path: Path) -> AzureMLBackend:
    """The income sample published twice, its code changed between: versions 1 (the default) and 2."""
    backend = published(azure, tmp_path)
    path = project(tmp_path, code="print('v2')\n")
    backend.publish(load_pipeline(path), endpoint="income-retrain", make_default=False, source_commit=None)
    return backend


def test_submit_runs_the_pinned_version_once(azure: FakeAzure, tmp_path: Path) -> None:
    backend = two_versions(azure, tmp_path)
    run = backend.submit(request("rt-0123456789abcdef", training_data=str(tmp_path / "data.csv"), rate=0.2))
    again = backend.submit(request("rt-0123456789abcdef", training_data=str(tmp_path / "data.csv"), rate=0.2))
    assert again.id == run.id == "rt-0123456789abcdef"
    assert azure.count("PUT", r"/jobs/") == 1  # one job, however often the same submit comes
    assert run.version == 1  # the default; version 2 exists but is not the pin
    job = azure.resources[f"{azure.workspace_path}/jobs/{run.id}"]["properties"]
    assert job["componentId"].endswith("/components/income_retrain/versions/1")
    assert job["inputs"]["rate"] == {"jobInputType": "literal", "value": "0.2"}
    assert re.fullmatch(rf"{azure.workspace_path}/data/retrain-data/versions/[0-9a-f]{{16}}", job["inputs"]["training_data"]["uri"])
    assert job["tags"]["retrain.key"] == run.id and job["tags"]["retrain.commit"] == "abc"
    assert run.url and run.url.startswith("https://ml.azure.com/runs/")

    seen = []
    done = follow(backend, run, timeout_s=60, on_change=lambda r: seen.append([(s.name, s.status.value) for s in r.steps]), interval_s=0)
    assert (done.ending, done.run.status) == (Ending.FINISHED, RunStatus.COMPLETED)
    assert seen[-1] == [("train", "completed")]  # steps from the workspace's MLflow tracking
    assert dict(done.run.metrics) == {"auc": 0.91, "duration_s": 12.5}
    assert azure.violations == []


def test_a_pinned_number_is_read_from_its_deployment_alone(azure: FakeAzure, tmp_path: Path) -> None:
    # What the flow sends (every pin resolved to a number first): the endpoint and its deployments are not read
    # again, only version 2's deployment. A number the endpoint does not have names the versions it has, a
    # version whose deployment failed is none.
    backend = two_versions(azure, tmp_path)
    before = len(azure.requests)
    run = backend.submit(request("rt-pinned-two", version=2, training_data=ADULT, rate=0.2))
    job = azure.resources[f"{azure.workspace_path}/jobs/{run.id}"]["properties"]
    assert job["componentId"].endswith("/components/income_retrain/versions/2") and run.version == 2
    reads = [p.split("/workspaces/")[-1].split("?")[0] for m, p, _, _ in azure.requests[before:] if m == "GET"]
    assert [r for r in reads if "batchEndpoints" in r] == ["ml-ws/batchEndpoints/income-retrain/deployments/v2"]
    with pytest.raises(NotFound, match=r"^endpoint 'income-retrain' has no version 7\. Its versions: 1, 2\.$"):
        backend.submit(request("rt-pinned-seven", version=7, training_data=ADULT, rate=0.2))
    deployment = azure.resources[f"{azure.workspace_path}/batchEndpoints/income-retrain/deployments/v2"]
    deployment["properties"]["provisioningState"] = "Failed"
    with pytest.raises(NotFound, match=r"has no version 2\. Its versions: 1\.$"):
        backend.submit(request("rt-pinned-failed", version=2, training_data=ADULT, rate=0.2))
    assert azure.count("PUT", r"/jobs/") == 1
    assert azure.violations == []


def published(azure: FakeAzure, tmp_path: Path) -> AzureMLBackend:
    backend = make_backend(azure)
    backend.publish(load_pipeline(project(tmp_path)), endpoint="income-retrain", make_default=False, source_commit=None)
    return backend


def test_throttling_and_server_errors_are_retried(azure: FakeAzure, tmp_path: Path) -> None:
    backend = published(azure, tmp_path)
    run = backend.submit(request("rt-throttle", rate=0.3, training_data=ADULT))
    azure.fail("GET", r"/jobs/rt-throttle$", 429, times=1, **{"Retry-After": "1"})
    azure.fail("GET", r"/jobs/rt-throttle$", 503, times=2)
    started = time.monotonic()
    assert backend.run(run.id).id == run.id
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert azure.count("GET", r"/jobs/rt-throttle$") >= 4


def test_a_dropped_connection_is_retried(azure: FakeAzure, tmp_path: Path) -> None:
    backend = published(azure, tmp_path)
    run = backend.submit(request("rt-dropped", rate=0.3, training_data=ADULT))
    azure.fail("GET", r"/jobs/rt-dropped$", 0, times=1)
    assert backend.run(run.id).status in (RunStatus.RUNNING, RunStatus.COMPLETED)


def test_a_submit_is_never_blindly_repeated(azure: FakeAzure, tmp_path: Path) -> None:
    backend = published(azure, tmp_path)
    azure.fail("PUT", r"/jobs/rt-once$", 500, times=1)
    run = backend.submit(request("rt-once", rate=0.3, training_data=ADULT))  # PUT jobs/{name} is idempotent: retrying it is safe
    assert run.id == "rt-once"
    assert len([k for k in azure.resources if k.endswith("/jobs/rt-once")]) == 1


def test_tokens_are_renewed_during_a_long_follow(tmp_path: Path) -> None:
    # Azure AD says each token lives 301 s; msal treats tokens within 5 minutes of expiry as expired,
    # and this ARM accepts a token for 1.5 s only: a follow of several seconds needs fresh tokens.
    with fake_azure(tmp_path, token_lifetime_s=301, arm_accepts_for_s=1.5, polls_to_finish=30) as azure:
        backend = published(azure, tmp_path)
        run = backend.submit(request("rt-long", rate=0.3, training_data=ADULT))
        done = follow(backend, run, timeout_s=120, on_change=lambda r: None, interval_s=0.15, max_interval_s=0.15)
        assert done.run.status is RunStatus.COMPLETED
        assert len(azure.tokens) >= 3
        assert 401 not in azure.statuses  # renewed before Azure would have refused one


def test_a_rejected_token_is_replaced_once(tmp_path: Path) -> None:
    with fake_azure(tmp_path) as azure:
        backend = published(azure, tmp_path)
        run = backend.submit(request("rt-revoked", rate=0.3, training_data=ADULT))
        azure.tokens.clear()  # every token issued so far is now unknown to ARM (revoked)
        before = len(azure.statuses)
        assert backend.run(run.id).id == run.id
        assert azure.statuses[before:before + 3] == [401, 200, 200]  # refused once, a fresh token, then the read went through


def test_cancel(azure: FakeAzure, tmp_path: Path) -> None:
    azure.polls_to_finish = 1000
    backend = published(azure, tmp_path)
    run = backend.submit(request("rt-cancel", rate=0.3, training_data=ADULT))
    canceled = backend.cancel(run.id)
    assert canceled.status is RunStatus.CANCELED
    assert azure.count("POST", r"/jobs/rt-cancel/cancel$") == 1


def test_errors_say_what_to_do(azure: FakeAzure, tmp_path: Path) -> None:
    backend = published(azure, tmp_path)
    with pytest.raises(NotFound) as e:
        backend.endpoint("nope-endpoint")
    assert str(e.value) == "no batch endpoint 'nope-endpoint' in workspace ml-ws. Publish it first: retrain publish."
    azure.fail("GET", r"/batchEndpoints/income-retrain$", 403, times=1)
    with pytest.raises(CredentialError) as e2:
        backend.endpoint("income-retrain")
    assert "Give the identity the 'AzureML Data Scientist' role on the workspace" in str(e2.value)


def test_a_wrong_secret_is_named_but_never_shown(azure: FakeAzure, tmp_path: Path) -> None:
    creds = AzureCredentials(azure.tenant, azure.client_id, client_secret="wrong-secret-SHOULD-NOT-LEAK")
    backend = make_backend(azure, creds)
    with pytest.raises(CredentialError) as e:
        backend.endpoints()
    assert "invalid_client: AADSTS7000215: Invalid client secret provided." in str(e.value)
    assert "SHOULD-NOT-LEAK" not in str(e.value) and "SHOULD-NOT-LEAK" not in repr(creds)


def test_github_oidc_federation(azure: FakeAzure, tmp_path: Path) -> None:
    env = {"AZURE_TENANT_ID": azure.tenant, "AZURE_CLIENT_ID": azure.client_id,
           "ACTIONS_ID_TOKEN_REQUEST_URL": f"{azure.url}/oidc?api-version=2.0",
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": azure.oidc_request_token}
    creds = credentials_from_env(env)
    assert creds.kind == "GitHub OIDC federation"
    backend = make_backend(azure, creds)
    assert backend.endpoints() == []
    assert len(azure.assertions) == 1 and azure.assertions[0].startswith("github.oidc.")
    assert azure.violations == []


def test_missing_credentials_say_what_to_set() -> None:
    with pytest.raises(CredentialError) as e:
        credentials_from_env({"AZURE_TENANT_ID": "t"})
    assert str(e.value) == ("missing Azure credentials: azure-client-id / AZURE_CLIENT_ID. "
                            "Set them as action inputs or environment variables (docs/azure.md).")
    with pytest.raises(CredentialError, match="id-token: write"):
        credentials_from_env({"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"})
    inputs = credentials_from_env({"INPUT_AZURE-TENANT-ID": "t2", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c",
                                   "INPUT_AZURE-CLIENT-SECRET": "s"})
    assert (inputs.tenant_id, inputs.kind) == ("t2", "client secret")


def test_the_command_line_publishes_and_submits_to_azure(azure: FakeAzure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from retrain.cli.main import main

    project(tmp_path)
    (tmp_path / "retrain.yml").write_text(
        f"backend:\n  kind: azureml\n  subscription_id: {azure.subscription}\n  resource_group: {azure.resource_group}\n"
        f"  workspace: {azure.workspace}\n  compute: cpu-cluster\n"
        "pipelines:\n  income:\n    definition: pipeline.yml\n    endpoint: income-retrain\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azure.ca_file))  # trust the fake's test CA, as a proxy's CA would be
    environ = {"AZURE_TENANT_ID": azure.tenant, "AZURE_CLIENT_ID": azure.client_id, "AZURE_CLIENT_SECRET": azure.client_secret,
               "AZURE_AUTHORITY_HOST": azure.url, "RETRAIN_ARM_ENDPOINT": azure.url, "RETRAIN_STORAGE_ENDPOINT": f"{azure.url}/blob"}
    assert main(["publish"], environ) == 0
    assert "income: published version 1 of endpoint income-retrain (the default)" in capsys.readouterr().out
    assert main(["submit", "income", "--no-wait", "--json"], environ) == 0
    [doc] = __import__("json").loads(capsys.readouterr().out)
    assert doc["conclusion"] == "pending" and doc["run"]["version"] == 1
    job = azure.resources[f"{azure.workspace_path}/jobs/{doc['run']['id']}"]["properties"]
    assert job["settings"]["default_compute"].endswith("/computes/cpu-cluster")
    assert azure.client_secret not in capsys.readouterr().err
    assert azure.violations == []


def test_a_certificate_signs_the_client_assertion(azure: FakeAzure, tmp_path: Path) -> None:
    import base64
    import datetime as dt
    import json

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "retrain-test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem_file = tmp_path / "client.pem"
    pem_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
                         + cert.public_bytes(serialization.Encoding.PEM))
    creds = credentials_from_env({"AZURE_TENANT_ID": azure.tenant, "AZURE_CLIENT_ID": azure.client_id,
                                  "AZURE_CLIENT_CERTIFICATE": str(pem_file)})
    assert creds.kind == "certificate"
    assert make_backend(azure, creds).endpoints() == []
    [assertion] = azure.assertions
    header = json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=="))
    assert header["alg"] == "RS256" and ("x5t" in header or "x5t#S256" in header)
    assert azure.violations == []


def writes(azure: FakeAzure) -> list[str]:
    return [f"{m} {p}" for m, p, _, _ in azure.requests if m in ("PUT", "POST", "DELETE", "PATCH")]


def test_an_unchanged_publish_on_an_endpoint_with_five_versions_writes_nothing(azure: FakeAzure, tmp_path: Path) -> None:
    backend = make_backend(azure)
    path = project(tmp_path)
    for n in range(1, 6):
        project(tmp_path, code=f"print('v{n}')\n")
        assert backend.publish(load_pipeline(path), endpoint="income-retrain", make_default=True, source_commit=None).version.number == n
    pages_before, writes_before = azure.pages_served, len(writes(azure))
    again = backend.publish(load_pipeline(path), endpoint="income-retrain", make_default=True, source_commit=None)
    assert (again.version.number, again.created, again.default_moved) == (5, False, False)
    assert writes(azure)[writes_before:] == []
    assert azure.pages_served - pages_before >= 3  # five deployments, two a page: the list was followed to its end
    assert [v.number for v in backend.endpoint("income-retrain").versions] == [1, 2, 3, 4, 5]
    assert azure.violations == []


def test_lists_follow_next_link_and_a_failed_page_says_so(azure: FakeAzure, tmp_path: Path) -> None:
    backend = make_backend(azure)
    path = project(tmp_path)
    for name in ("a-one", "a-two", "a-three"):
        backend.publish(load_pipeline(path), endpoint=name, make_default=False, source_commit=None)
    assert sorted(e.name for e in backend.endpoints()) == ["a-one", "a-three", "a-two"]
    for key in ("rt-l1", "rt-l2", "rt-l3"):
        make_backend(azure).submit(SubmitRequest(pipeline="p", endpoint="a-one", version="default", parameters={"rate": 0.1, "training_data": ADULT},
                                                 experiment="e", key=key))
    assert sorted(r.id for r in backend.runs(limit=10)) == ["rt-l1", "rt-l2", "rt-l3"]
    azure.fail("GET", r"/batchEndpoints$", 500, times=20)  # the second page keeps failing (the first is asked for below)
    azure.faults[-1].only_with_skip = True
    with pytest.raises(BackendError) as e:
        backend.endpoints()
    assert str(e.value).startswith("could not read page 2 of list batch endpoints: Azure answered 500")


def test_a_job_briefly_missing_after_its_put_is_read_again(azure: FakeAzure, tmp_path: Path) -> None:
    backend = published(azure, tmp_path)
    azure.fail("GET", r"/jobs/rt-lag$", 404, times=2)  # reads lag writes: the job is not visible yet
    run = backend.submit(request("rt-lag", rate=0.3, training_data=ADULT))
    assert backend.run(run.id).id == "rt-lag"
    assert azure.count("PUT", r"/jobs/") == 1
    # A job nobody wrote is reported missing at once.
    with pytest.raises(NotFound):
        backend.run("rt-never-submitted")


def test_a_503_on_a_put_and_on_a_status_poll_and_a_dropped_lro_poll(azure: FakeAzure, tmp_path: Path) -> None:
    azure.fail("PUT", r"/batchEndpoints/income-retrain$", 503, times=1)
    azure.fail("PUT", r"/deployments/v1$", 503, times=1)
    azure.fail("GET", r"^/operations/op-", 503, times=1)
    azure.fail("GET", r"^/operations/op-", 0, times=1)
    backend = published(azure, tmp_path)
    endpoint = backend.endpoint("income-retrain")
    assert ([v.number for v in endpoint.versions], endpoint.default_version) == ([1], 1)
    assert azure.count("PUT", r"/deployments/") == 2  # the 503 and the retry: one deployment
    assert len([k for k in azure.resources if "/deployments/" in k]) == 1
    assert azure.violations == []


def test_operation_status_urls_need_the_token(azure: FakeAzure, tmp_path: Path) -> None:
    import requests as plain

    published(azure, tmp_path)
    status_url = next(p for m, p, _, _ in azure.requests if p.startswith("/operations/"))
    answer = plain.get(f"{azure.url}{status_url}", verify=str(azure.ca_file), timeout=10)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_pipeline_jobs_carry_an_azure_ml_token_and_sdk_valid_component_names(azure: FakeAzure, tmp_path: Path) -> None:
    backend = published(azure, tmp_path)
    backend.submit(request("rt-token", rate=0.3, training_data=ADULT))
    [(_, _, headers, _)] = [r for r in azure.requests if r[0] == "PUT" and "/jobs/" in r[1]]
    assert azure.token_scopes[headers["x-azureml-token"]] == "https://ml.azure.com/.default"
    assert azure.token_scopes[headers["Authorization"].removeprefix("Bearer ")] == ARM_SCOPE
    names = {k.split("/components/")[1].split("/")[0] for k in azure.resources if "/components/" in k}
    assert names == {"income_retrain", "train"}
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)


def test_a_version_that_never_shows_up_is_an_error_that_says_what_to_do(azure: FakeAzure, tmp_path: Path) -> None:
    backend = make_backend(azure)
    azure.unlisted.add(f"{azure.workspace_path}/batchEndpoints/income-retrain/deployments/v1")
    with pytest.raises(BackendError) as e:
        backend.publish(load_pipeline(project(tmp_path)), endpoint="income-retrain", make_default=False, source_commit=None)
    assert str(e.value).startswith("deployment v1 of batch endpoint income-retrain was created, but the endpoint's deployments do not list it")
    assert "Run `retrain endpoints income-retrain` in a minute" in str(e.value)


def test_endpoints_show_the_component_name_azure_ml_knows(azure: FakeAzure, tmp_path: Path) -> None:
    from retrain.report.console import render_endpoint

    backend = published(azure, tmp_path)
    text = render_endpoint(backend.endpoint("income-retrain"))
    assert text.splitlines()[0].startswith("endpoint income-retrain  (batch endpoint income-retrain, pipeline component income_retrain)")
