"""The Azure ML tests' shared pieces: retrain's v2 and v1 backends signed in to the fake workspace (msal for real,
TLS trusted through the fake's CA), a one-step project and a submit request for it, and the income sample pointed
at the fake. The ``azure`` fixture (the fake itself) lives in tests/conftest.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrain.backends.azureml import AzureMLBackend
from retrain.backends.azureml.auth import AzureAuth, AzureCredentials, TokenProvider
from retrain.backends.azureml.client import ArmClient
from retrain.backends.azureml_v1 import AzureMLV1Backend
from retrain.backends.base import SubmitRequest
from retrain.http import make_session
from tests.fakes.azure import FakeAzure
from tests.paths import ROOT

ARM_SCOPE = "https://management.azure.com/.default"
INCOME = ROOT / "examples" / "income"


def arm_client(fake: FakeAzure, credentials: AzureCredentials | None = None) -> ArmClient:
    """Resource Manager of the fake workspace, signed in with ``credentials`` (the fake's client secret by default)."""
    session = make_session(backoff_factor=0.01)
    session.verify = str(fake.ca_file)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment would override verify
    creds = credentials or AzureCredentials(fake.tenant, fake.client_id, client_secret=fake.client_secret)
    provider = TokenProvider(creds, session, authority_host=fake.url)
    return ArmClient(fake.url, fake.subscription, fake.resource_group, fake.workspace, session,
                     AzureAuth(provider, ARM_SCOPE), sleep=lambda s: None)


def make_backend(fake: FakeAzure, credentials: AzureCredentials | None = None,
                 compute: str | None = "cpu-cluster") -> AzureMLBackend:
    """The Azure ML v2 backend on the fake workspace."""
    return AzureMLBackend(arm_client(fake, credentials), compute=compute, poll_interval=0.01,
                          storage_endpoint=f"{fake.url}/blob")


def backend_for(fake: FakeAzure) -> AzureMLV1Backend:
    """The v1 backend (pipeline endpoints of the designer) on the fake workspace."""
    return AzureMLV1Backend(arm_client(fake), tenant_id=fake.tenant, poll_interval=0.01)


def project(tmp_path: Path, code: str = "print('v1')\n") -> Path:
    """A one-step pipeline (train.py printing ``code``) with its data in ``tmp_path``; its pipeline.yml."""
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "train.py").write_text(code)
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "train.yml").write_text(
        "type: command\nname: train\ninputs:\n  data: {type: uri_file}\n  rate: {type: number}\n"
        "outputs:\n  model: {type: uri_folder}\ncode: ./src\nenvironment: azureml:sklearn:1\n"
        "command: python train.py ${{inputs.data}} ${{inputs.rate}} ${{outputs.model}}\n")
    (tmp_path / "pipeline.yml").write_text(
        "type: pipeline\ninputs:\n  training_data: {type: uri_file, path: ./data.csv}\n  rate: 0.1\n"
        "jobs:\n  train:\n    component: ./train.yml\n    inputs:\n      data: ${{parent.inputs.training_data}}\n"
        "      rate: ${{parent.inputs.rate}}\n")
    return tmp_path / "pipeline.yml"


def request(key: str, version: int | str = "default", **parameters: object) -> SubmitRequest:
    """A submit to the v2 endpoint ``income-retrain``."""
    return SubmitRequest(pipeline="income", endpoint="income-retrain", version=version, parameters=parameters,  # type: ignore[arg-type]
                         experiment="income", key=key, tags={"retrain.commit": "abc"})


def v1_request(key: str, version: int | str = "default", **parameters: object) -> SubmitRequest:
    """A submit to the v1 designer endpoint ``income-designer``."""
    return SubmitRequest(pipeline="income", endpoint="income-designer", version=version, parameters=parameters,  # type: ignore[arg-type]
                         experiment="income-retrain", key=key)


def income(tmp_path: Path) -> Path:
    """A copy of the income sample (examples/income) in ``tmp_path``."""
    copy = tmp_path / "income"
    shutil.copytree(INCOME, copy, ignore=shutil.ignore_patterns("__pycache__", "runs", ".retrain"))
    return copy


def income_on_azure(tmp_path: Path, azure: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    """The income sample with its parameter file pointed at the fake workspace, and the environment that signs in
    to it (run from the project's folder, as a user would)."""
    project = income(tmp_path)
    text = (project / "retrain.yml").read_text().replace(
        "backend: local\n", f"backend:\n  kind: azureml\n  subscription_id: {azure.subscription}\n"
                            f"  resource_group: {azure.resource_group}\n  workspace: {azure.workspace}\n  compute: cpu-cluster\n")
    (project / "retrain.yml").write_text(text)
    monkeypatch.chdir(project)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azure.ca_file))
    return project, {"AZURE_TENANT_ID": azure.tenant, "AZURE_CLIENT_ID": azure.client_id,
                     "AZURE_CLIENT_SECRET": azure.client_secret, "AZURE_AUTHORITY_HOST": azure.url,
                     "RETRAIN_ARM_ENDPOINT": azure.url, "RETRAIN_STORAGE_ENDPOINT": f"{azure.url}/blob"}
