"""Repository data on Azure ML v2, uploaded as azure-ai-ml uploads it: to the workspace's default datastore under
LocalUpload/<content hash>/, with the datastore's account key, its SAS token, or the caller's own token for an
identity-based datastore; then registered as a data version whose ARM id is the job's input. Against the fake,
which validates every request against the description extracted from azure-ai-ml and pages every list by two."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retrain.backends.base import RunStatus
from retrain.errors import CredentialError
from retrain.flow.follow import Ending, follow
from retrain.pipeline.load import load_pipeline
from tests.fakes.azure import FakeAzure, fake_azure
from tests.backends.azureml.workspace import income, income_on_azure, make_backend, request


def uploads(azure: FakeAzure) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _, _ in azure.requests if "/blob/" in p]


@pytest.mark.parametrize("credentials", ["AccountKey", "Sas", "None"])
def test_repository_data_goes_through_the_default_datastore(tmp_path: Path, credentials: str) -> None:
    with fake_azure(tmp_path, datastore_credentials=credentials) as azure:
        project = income(tmp_path)
        backend = make_backend(azure)
        backend.publish(load_pipeline(project / "pipeline.yml"), endpoint="income-retrain", make_default=False, source_commit="c1")
        data = project / "data" / "adult-nonus.csv"

        run = backend.submit(request("rt-data-1", training_data=str(data)))
        job = azure.resources[f"{azure.workspace_path}/jobs/{run.id}"]["properties"]
        data_id = job["inputs"]["training_data"]["uri"]
        assert re.fullmatch(rf"{azure.workspace_path}/data/retrain-adult-nonus/versions/[0-9a-f]{{16}}", data_id)
        version = azure.resources[data_id]["properties"]
        assert version["dataType"] == "uri_file"
        m = re.fullmatch(rf"azureml://subscriptions/{azure.subscription}/resourcegroups/{azure.resource_group}/workspaces/"
                         rf"{azure.workspace}/datastores/workspaceblobstore/paths/LocalUpload/([0-9a-f]{{32}})/adult-nonus.csv",
                         version["dataUri"])
        assert m, version["dataUri"]
        assert azure.blob(f"LocalUpload/{m.group(1)}/adult-nonus.csv") == data.read_bytes()
        secrets_asked = azure.count("POST", r"/datastores/workspaceblobstore/listSecrets$")
        assert secrets_asked == (0 if credentials == "None" else 1)
        done = follow(backend, run, timeout_s=60, on_change=lambda r: None, interval_s=0)
        assert (done.ending, done.run.status) == (Ending.FINISHED, RunStatus.COMPLETED)

        # The same file again: found by its content, nothing uploaded, nothing registered.
        before = len(uploads(azure)), azure.count("PUT", r"/data/")
        second = backend.submit(request("rt-data-2", training_data=str(data)))
        assert (len(uploads(azure)), azure.count("PUT", r"/data/")) == before
        assert azure.resources[f"{azure.workspace_path}/jobs/{second.id}"]["properties"]["inputs"]["training_data"]["uri"] == data_id
        assert azure.violations == [] and azure.unknown_operations == []
        assert azure.pages_served > 0


def test_a_large_file_streams_in_blocks(tmp_path: Path) -> None:
    with fake_azure(tmp_path) as azure:
        project = income(tmp_path)
        backend = make_backend(azure)
        backend.block_size = 64 * 1024
        backend.publish(load_pipeline(project / "pipeline.yml"), endpoint="income-retrain", make_default=False, source_commit=None)
        data = project / "data" / "adult-nonus.csv"  # 356 KB: six blocks of 64 KiB
        backend.submit(request("rt-blocks", training_data=str(data)))
        assert azure.blob("/adult-nonus.csv") == data.read_bytes()
        assert len(azure.block_sizes) == -(-data.stat().st_size // (64 * 1024))
        assert max(azure.block_sizes) == 64 * 1024
        assert azure.count("PUT", r"/adult-nonus.csv$") == len(azure.block_sizes) + 1  # the blocks, then the block list
        assert azure.violations == []


def test_an_upload_dropped_midway_is_retried_and_registered_once(tmp_path: Path) -> None:
    with fake_azure(tmp_path) as azure:
        project = income(tmp_path)
        backend = make_backend(azure)
        backend.block_size = 64 * 1024
        backend.publish(load_pipeline(project / "pipeline.yml"), endpoint="income-retrain", make_default=False, source_commit=None)
        azure.fail("PUT", r"/blob/.*/adult-nonus.csv$", 0, times=2)  # two blocks lose their connection
        azure.fail("PUT", r"/blob/.*/adult-nonus.csv$", 503, times=1)
        azure.fail("POST", r"/listSecrets$", 503, times=1)
        run = backend.submit(request("rt-dropped-upload", training_data=str(project / "data" / "adult-nonus.csv")))
        assert azure.blob("/adult-nonus.csv") == (project / "data" / "adult-nonus.csv").read_bytes()
        assert len([k for k in azure.resources if "/data/retrain-adult-nonus/versions/" in k]) == 1
        assert azure.count("PUT", r"/jobs/") == 1 and run.id == "rt-dropped-upload"
        assert azure.violations == []


def test_identity_without_the_blob_role_is_told_which_role(tmp_path: Path) -> None:
    with fake_azure(tmp_path, datastore_credentials="None", identity_can_write_blobs=False) as azure:
        project = income(tmp_path)
        backend = make_backend(azure)
        backend.publish(load_pipeline(project / "pipeline.yml"), endpoint="income-retrain", make_default=False, source_commit=None)
        with pytest.raises(CredentialError) as e:
            backend.submit(request("rt-norole", training_data=str(project / "data" / "adult-nonus.csv")))
        assert "datastore workspaceblobstore" in str(e.value)
        assert f"give the identity the 'Storage Blob Data Contributor' role on storage account {azure.storage_account}" in str(e.value)
        assert azure.count("PUT", r"/data/") == 0 and azure.count("PUT", r"/jobs/") == 0  # nothing half-registered


@pytest.mark.parametrize("credentials", ["AccountKey", "Sas"])
def test_a_refused_secret_is_named_but_never_shown(tmp_path: Path, credentials: str) -> None:
    with fake_azure(tmp_path, datastore_credentials=credentials) as azure:
        project = income(tmp_path)
        backend = make_backend(azure)
        backend.publish(load_pipeline(project / "pipeline.yml"), endpoint="income-retrain", make_default=False, source_commit=None)
        azure.stale_secrets = True  # the storage account's key was rotated; the datastore still gives the old one
        with pytest.raises(CredentialError) as e:
            backend.submit(request("rt-rotated", training_data=str(project / "data" / "adult-nonus.csv")))
        text = str(e.value)
        assert "datastore workspaceblobstore" in text and "update the datastore's credentials" in text
        sas = azure.sas_tokens[(azure.storage_account, azure.storage_container)]
        for secret in (azure.account_key, azure.account_key[8:40], sas.split("sig=")[1], "sig="):
            assert secret not in text
        assert azure.count("PUT", r"/jobs/") == 0



def test_the_command_line_submits_the_income_sample_with_repository_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from retrain.cli.main import main

    with fake_azure(tmp_path, datastore_credentials="Sas") as azure:
        project, environ = income_on_azure(tmp_path, azure, monkeypatch)
        assert main(["publish"], environ) == 0
        capsys.readouterr()
        assert main(["submit", "income", "--set", "training_data=data/adult-nonus.csv", "--no-wait", "--json"], environ) == 0
        out, err = capsys.readouterr()
        assert azure.blob("/adult-nonus.csv") == (project / "data" / "adult-nonus.csv").read_bytes()
        sas = azure.sas_tokens[(azure.storage_account, azure.storage_container)]
        assert sas.split("sig=")[1] not in out + err
        assert azure.violations == []


def test_a_submit_through_faults_runs_once_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from retrain.cli.main import main

    with fake_azure(tmp_path, datastore_credentials="None") as azure:
        project, environ = income_on_azure(tmp_path, azure, monkeypatch)
        assert main(["publish"], environ) == 0
        azure.fail("PUT", r"/blob/.*adult-nonus.csv$", 503, times=1, **{"Retry-After": "0"})
        azure.fail("PUT", r"/jobs/[^/]+$", 503, times=1, **{"Retry-After": "0"})
        azure.fail("GET", r"/jobs/[^/]+$", 404, times=3)  # the lookup before the PUT, then twice after it: reads lag writes
        azure.fail("GET", r"/jobs/[^/]+$", 429, times=1, **{"Retry-After": "0"})
        capsys.readouterr()
        code = main(["submit", "income", "--set", "training_data=data/adult-nonus.csv", "--json"], environ)
        out = capsys.readouterr().out
        assert code == 0, out
        [doc] = __import__("json").loads(out)
        assert doc["run"]["status"] == "completed"
        assert len([k for k in azure.resources if "/jobs/" in k]) == 1
        assert len([k for k in azure.resources if "/data/" in k]) == 1
        assert azure.violations == []
