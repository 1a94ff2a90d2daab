"""Work that fails on Azure ML, as the service reports it, and what the user sees: a failed job (run history's
RunDetails.error), a failed step (its child job's MLflow run), a long-running operation that ends Failed or
Canceled (ARM's asynchronous operation contract: the error in the operation status resource, or the Location
URL's error answer). Then the fakes' own rule: a request a fake recorded as a violation is answered with the
service's error and fails its test at teardown, unless the test expected it."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest
import requests

from retrain.backends.azureml.auth import credentials_from_env
from retrain.backends.azureml.upload import _Auth, BlobCredential
from retrain.backends.base import RunStatus, StepStatus
from retrain.config.load import load_config
from retrain.report.console import ConsoleReporter
from retrain.errors import BackendError, CredentialError
from retrain.flow.execute import Conclusion, execute
from retrain.pipeline.load import load_pipeline
from retrain.flow.plan import command_plan
from retrain.report.markdown import render
from tests.fakes.azure import FakeAzure, fake_azure
from tests.backends.azureml.workspace import backend_for, income_on_azure, make_backend, project, request, v1_request

pytest_plugins = ["pytester"]


def cli(args: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from retrain.cli.main import main

    capsys.readouterr()
    code = main(args, environ)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# -- a failed job, a failed step ----------------------------------------------------------------------------------

def test_a_failed_job_shows_the_service_error_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with fake_azure(tmp_path) as azure:
        _, environ = income_on_azure(tmp_path, azure, monkeypatch)
        assert cli(["publish"], environ, capsys)[0] == 0
        azure.fail_jobs("UserError", "Execution failed. User process 'python' exited with status code 2. "
                                     "Please check log file 'user_logs/std_log.txt' for error details.")
        code, out = cli(["submit", "income"], environ, capsys)
        assert code == 1, out
        assert "UserError: Execution failed. User process 'python' exited with status code 2." in out
        assert "Traceback" not in out
        [job] = [k.rsplit("/", 1)[1] for k in azure.resources if "/jobs/" in k]
        code, out = cli(["status", job], environ, capsys)
        assert code == 1 and "failed" in out and "UserError: Execution failed" in out
        assert azure.count("GET", rf"/history/v1.0/.*/runs/{job}/details$") >= 1  # where azure-ai-ml reads it too


def test_a_failed_step_is_named_in_the_check_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_azure(tmp_path) as azure:
        project_dir, _ = income_on_azure(tmp_path, azure, monkeypatch)
        config = load_config(project_dir / "retrain.yml")
        backend = make_backend(azure)
        execute(command_plan(config, ["income"], publish=True, submit=False, command="test"), config, backend,
                ConsoleReporter(io.StringIO()), commit="c0ffee", poll_interval_s=0.01)
        azure.fail_step("train_model")
        plan = command_plan(config, ["income"], publish=False, submit=True, command="test")
        [outcome] = execute(plan, config, backend, ConsoleReporter(io.StringIO()), commit="c0ffee", poll_interval_s=0.01)
        assert outcome.conclusion is Conclusion.FAILURE
        assert outcome.run is not None and outcome.run.status is RunStatus.FAILED
        steps = {s.name: s.status for s in outcome.run.steps}
        assert steps["split_data"] is StepStatus.COMPLETED
        assert steps["train_model"] is StepStatus.FAILED
        assert steps["evaluate_model"] is StepStatus.CANCELED  # after the failed step, the service cancels the rest
        assert outcome.message == ("UserError: Pipeline has failed child jobs. Failed nodes: /train_model. For more details "
                                   "and logs, please go to the job detail page and check the child jobs.")
        summary = render(outcome)
        assert "Failed nodes: /train_model" in summary
        assert "| <code>train_model</code> | failed |" in summary and "| <code>split_data</code> | completed |" in summary


# -- long-running operations ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "code", "message", "said"), [
    ("Failed", "DeploymentFailed", "Deployment v2 failed: the compute cluster cpu-cluster is not found.", "ended failed"),
    ("Canceled", "OperationCanceled", "The operation was canceled by another request.", "ended canceled"),
])
def test_a_failed_or_canceled_operation_fails_the_publish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str],
                                                          status: str, code: str, message: str, said: str) -> None:
    with fake_azure(tmp_path) as azure:
        project_dir, environ = income_on_azure(tmp_path, azure, monkeypatch)
        assert cli(["publish"], environ, capsys)[0] == 0
        (project_dir / "src").mkdir(exist_ok=True)
        for f in (project_dir / "src").rglob("*.py"):
            f.write_text(f.read_text() + "\n# changed\n")
        azure.fail_operations(status, code, message)
        exit_code, out = cli(["publish"], environ, capsys)
        assert exit_code == 1, out
        assert said in out and f"{code} {message}" in out
        assert "Traceback" not in out
        # Nothing points at a version whose deployment did not come up: the default stays where it was.
        endpoint = azure.resources[f"{azure.workspace_path}/batchEndpoints/income-retrain"]
        assert endpoint["properties"]["defaults"]["deploymentName"] == "v1"
        exit_code, out = cli(["endpoints"], environ, capsys)
        assert exit_code == 0 and "v2" not in out.replace("version 2", "")  # the failed deployment is no version

        if status == "Canceled":
            return
        # The cause fixed, the same publish deploys the change again (not "unchanged"; the sample's gate runs it first).
        azure.lro_outcome = None
        exit_code, out = cli(["publish"], environ, capsys)
        assert exit_code == 0, out
        assert "unchanged" not in out
        deployments = [k.rsplit("/", 1)[1] for k in azure.resources if "/deployments/" in k
                       and azure.resources[k]["properties"].get("provisioningState") == "Succeeded"]
        assert len(deployments) == 2 and "v1" in deployments


def test_a_cancel_whose_operation_fails_says_so(azure: FakeAzure, tmp_path: Path) -> None:
    backend = make_backend(azure)
    backend.publish(load_pipeline(project(tmp_path)), endpoint="income-retrain", make_default=False, source_commit=None)
    azure.polls_to_finish = 100
    run = backend.submit(request("rt-cancel-fails", rate=0.3, training_data="azureml://datastores/workspaceblobstore/paths/a.csv"))
    azure.fail_operations("Failed", "UserError", "Job rt-cancel-fails cannot be canceled while it is finalizing.")
    with pytest.raises(BackendError) as e:
        backend.cancel(run.id)
    assert "UserError: Job rt-cancel-fails cannot be canceled while it is finalizing." in str(e.value)


# -- violations: the service's error, and the test fails --------------------------------------------------------------

def test_a_wrong_oidc_audience_is_refused_as_entra_refuses_it(azure: FakeAzure) -> None:
    azure.federated_audience = "api://AzureADTokenExchangeChina"  # the app's federated credential names another audience
    azure.expect_violation("OIDC audience")
    env = {"AZURE_TENANT_ID": azure.tenant, "AZURE_CLIENT_ID": azure.client_id,
           "ACTIONS_ID_TOKEN_REQUEST_URL": f"{azure.url}/oidc?api-version=2.0",
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": azure.oidc_request_token}
    with pytest.raises(CredentialError) as e:
        make_backend(azure, credentials_from_env(env)).endpoints()
    assert "AADSTS700212: No matching federated identity record found for presented assertion audience " \
           "'api://AzureADTokenExchange'" in str(e.value)


def _shared_key_put(azure: FakeAzure, blob: str, headers: dict[str, str], *, sas: bool = False) -> requests.Response:
    session = requests.Session()
    session.verify, session.trust_env = str(azure.ca_file), False
    url = f"{azure.url}/blob/{azure.storage_account}/{azure.storage_container}/{blob}"
    if sas:
        url += "?" + azure.sas_tokens[(azure.storage_account, azure.storage_container)]
    return session.put(url, data=b"a,b\n", auth=_Auth(BlobCredential("AccountKey", azure.storage_account, key=azure.account_key)),
                       headers={"x-ms-version": "2023-11-03", "x-ms-blob-type": "BlockBlob", **headers})


def test_a_sas_request_that_also_carries_an_authorization_header_is_refused(azure: FakeAzure) -> None:
    azure.expect_violation("a SAS request also carried an Authorization header")
    answer = _shared_key_put(azure, "LocalUpload/x/a.csv", {"If-None-Match": "*"}, sas=True)
    assert (answer.status_code, answer.headers["x-ms-error-code"]) == (403, "AuthenticationFailed")
    assert azure.blobs == {}


def test_an_unconditional_blob_write_fails_the_test(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="an unconditional write of .*LocalUpload/x/a.csv"), fake_azure(tmp_path) as azure:
        assert _shared_key_put(azure, "LocalUpload/x/a.csv", {}).status_code == 201  # the service would overwrite


def test_a_violation_fails_its_test_at_teardown_unless_expected(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("from tests.conftest import fakes_saw_no_violations  # noqa: F401\n")
    pytester.makepyfile(test_violations=textwrap.dedent("""
        from tests.fakes.azure import FakeAzure
        from tests.fakes.github_api import FakeGitHub

        def test_unexpected(tmp_path):
            fake = FakeAzure().start(tmp_path)
            fake.violations.append("an unconditional write of a/b/c")
            fake.stop()

        def test_expected(tmp_path):
            fake = FakeAzure().start(tmp_path)
            fake.expect_violation("unconditional write")
            fake.violations.append("an unconditional write of a/b/c")
            fake.stop()

        def test_expected_but_absent(tmp_path):
            fake = FakeAzure().start(tmp_path)
            fake.expect_violation("unconditional write")
            fake.stop()

        def test_github_unexpected():
            fake = FakeGitHub().start()
            fake.violations.append("output.summary is longer than 65535 characters")
            fake.stop()
    """))
    result = pytester.runpytest("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=4, errors=3)
    out = result.stdout.str()
    assert "fake Azure recorded requests the service would refuse: ['an unconditional write of a/b/c']" in out
    assert "the test expected a violation containing 'unconditional write', and none was recorded" in out
    assert "fake GitHub recorded requests the service would refuse" in out
    assert "ERROR at teardown of test_unexpected" in out and "ERROR at teardown of test_expected " not in out


# -- v1 run history: the query as the contract spells it -----------------------------------------------------------

def test_the_v1_run_query_is_sent_as_the_v1_sdk_sends_it(tmp_path: Path) -> None:

    with fake_azure(tmp_path) as azure:
        azure.add_v1_endpoint("income-designer", {"0": {"parameters": {"training_data_path": "income/us.csv"}}})
        backend = backend_for(azure)
        backend.submit(v1_request("rt-v1-query", training_data_path="income/us.csv"))
        [(_, path, _, body)] = [r for r in azure.requests if r[1].split("?")[0].endswith("/runs:query")]
        assert "?" not in path  # no api-version: the version is the path's v1.0
        assert json.loads(body) == {"filter": '(Tags/retrain.key eq "rt-v1-query")', "top": 1, "orderby": "CreatedUtc desc"}

        # What the contract does not name is refused, as the service refuses a request outside its contract.
        azure.expect_violation("query parameters ['api-version'] are not in the description")
        azure.expect_violation("body.orderBy is not a property of QueryParamsDto")
        url = f"{backend.arm.service_api()}/history/v1.0{backend.arm.workspace_id}/experiments/income-retrain/runs:query"
        for query, key in (("?api-version=v1.0", "orderby"), ("", "orderBy")):
            answer = backend.arm.session.post(url + query, json={"filter": "(Status eq \"Running\")", key: "CreatedUtc desc"},
                                              auth=backend.arm.auth)
            assert answer.status_code == 400, answer.text
