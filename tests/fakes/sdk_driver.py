"""azure-ai-ml 1.35.2 driven against the fake Azure, and retrain driven against another fake of the same kind, so
the bodies both send for one pipeline YAML can be compared field by field (tests/backends/azureml/test_azure_oracle.py) and their
requests counted (bench/azure_requests.py).

The SDK runs unmodified with two redirections a real machine would do with DNS: its Resource Manager host is the
fake's (``AZUREML_DEV_URL_MFE``, the SDK's own override) and its blob account URL ``https://{account}.blob.{suffix}``
is the fake's path-style blob URL (as for the storage emulator), since a loopback server cannot own that host name.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.fakes.azure import FakeAzure

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests" / "fixtures" / "azureml-examples"
DATA_SUFFIXES = (".csv", ".txt", ".json", ".parquet", ".tsv", ".jsonl", ".png", ".jpg", ".pkl")


def corpus() -> list[Path]:
    """Every pipeline job of the azureml-examples corpus (relative to EXAMPLES), in path order."""
    found = []
    for path in sorted(EXAMPLES.rglob("*.y*ml")):
        if re.search(r"^type:\s*pipeline\s*$", path.read_text(encoding="utf-8"), re.M):
            found.append(path.relative_to(EXAMPLES))
    return found


def stage(tmp: Path, relative: Path) -> Path:
    """A copy of the corpus under ``tmp`` with stand-ins for the code folders and data the YAMLs name (the corpus
    holds YAML only); returns the staged pipeline file. Stand-ins are deterministic, so both sides see the same bytes."""
    target = tmp / "examples"
    if not target.exists():
        shutil.copytree(EXAMPLES, target)
        for path in sorted(target.rglob("*.y*ml")):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError:
                continue
            _stand_ins(path.parent, data, target)
    return target / relative


def _local(value: object) -> str | None:
    if not isinstance(value, str) or not value or "${{" in value or ":" in value.split("/")[0] or value.startswith(("/", "azureml")):
        return None
    return value.removeprefix("file:")


def _stand_ins(base: Path, data: object, top: Path) -> None:
    if isinstance(data, list):
        for item in data:
            _stand_ins(base, item, top)
        return
    if not isinstance(data, dict):
        return
    code, entry = _local(data.get("code")), data.get("entry")
    if code is not None and isinstance(entry, dict) and _local(entry.get("file")):  # a spark entry is relative to its code
        target = (base / code / str(entry["file"])).resolve()
        if top in target.parents and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("print('stand-in')\n")
    for key, value in data.items():
        rel = _local(value)
        if rel is not None and key in ("code", "path", "conda_file", "entry_script", "entry", "file", "model_dir", "build"):
            target = (base / rel).resolve()
            if top in target.parents and not target.exists():
                if key == "code" or (key == "path" and not target.suffix) or key == "build":
                    target.mkdir(parents=True, exist_ok=True)
                    (target / ("Dockerfile" if key == "build" else "main.py")).write_text(
                        "FROM python:3.11\n" if key == "build" else "print('stand-in for the example code')\n")
                    if key == "path":
                        (target / "data.csv").write_text("a,b\n1,2\n")
                        (target / "MLTable").write_text("paths:\n  - file: ./data.csv\ntransformations:\n  - read_delimited: {delimiter: ','}\n")
                elif target.suffix in (".py", ".R"):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text("print('stand-in')\n")
                elif key != "conda_file":
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text("a,b\n1,2\n")
        else:
            _stand_ins(base, value, top)


@dataclass
class Sent:
    """What one client sent for a pipeline: every ARM write by path, in order, and how many requests in all."""

    writes: dict[str, Any] = field(default_factory=dict)  # "PUT <path without query>" -> body
    requests: int = 0
    seconds: float = 0.0
    error: str = ""

    def job(self) -> dict[str, Any] | None:
        jobs = [b for k, b in self.writes.items() if re.match(r"PUT .*/jobs/[^/]+$", k)]
        return jobs[-1] if jobs else None


def sent(fake: FakeAzure, start: int = 0) -> Sent:
    """The ARM writes made since request ``start`` with the bodies the fake stored (its request log keeps 2 kB)."""
    out = Sent()
    for method, path, _headers, _body in fake.requests[start:]:
        if f"/{fake.tenant}/" in path:
            continue  # Azure AD
        out.requests += 1
        key = path.split("?", 1)[0]
        if method == "PUT" and key.startswith(fake.workspace_path) and key in fake.resources:
            body = {k: v for k, v in fake.resources[key].items() if k not in ("id", "name", "systemData")}
            if "/jobs/" in key:  # what the fake adds to a job it starts
                body["properties"] = {k: v for k, v in body["properties"].items() if k not in ("status", "services")}
            out.writes[f"PUT {key[len(fake.workspace_path):]}"] = body
    return out


def seed_computes(fake: FakeAzure, root: Path) -> None:
    """The compute targets the corpus names, as a workspace would have them (the SDK reads each one)."""
    names = {"cpu-cluster", "gpu-cluster"}
    for path in root.rglob("*.y*ml"):
        names |= set(re.findall(r"compute:\s*(?:azureml:)?([A-Za-z0-9][A-Za-z0-9_-]*)\s*$", path.read_text(encoding="utf-8"), re.M))
    for path in root.rglob("*.y*ml"):  # registered data the corpus names: a workspace that runs it has them
        for name, version in re.findall(r"path:\s*azureml:([A-Za-z0-9_.-]+)[:@]([A-Za-z0-9_.-]+)\s*$", path.read_text(encoding="utf-8"), re.M):
            version = "1" if version == "latest" else version
            fake.resources[f"{fake.workspace_path}/data/{name}/versions/{version}"] = {
                "id": f"{fake.workspace_path}/data/{name}/versions/{version}", "name": version,
                "properties": {"dataType": "uri_folder", "dataUri": "azureml://datastores/workspaceblobstore/paths/example/", "isAnonymous": False}}
    for path in root.rglob("*.y*ml"):  # registered components the corpus names, version 1 of each
        for name in re.findall(r"(?:component|trial):\s*azureml:([a-z_][a-z0-9_]*)[:@]", path.read_text(encoding="utf-8")):
            fake.resources[f"{fake.workspace_path}/components/{name}/versions/1"] = {
                "id": f"{fake.workspace_path}/components/{name}/versions/1", "name": "1",
                "properties": {"componentSpec": {"name": name, "version": "1", "type": "command", "command": "echo registered",
                                                 "environment": "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"},
                               "isAnonymous": False}}
    for name in names:
        fake.resources[f"{fake.workspace_path}/computes/{name}"] = {
            "id": f"{fake.workspace_path}/computes/{name}", "name": name, "location": fake.location,
            "properties": {"computeType": "AmlCompute", "provisioningState": "Succeeded", "properties": {}}}


@contextlib.contextmanager
def sdk_environment(fake: FakeAzure) -> Iterator[None]:
    """The SDK's host overrides for the duration, restored after (the SDK reads them from the process environment)."""
    from azure.ai.ml.constants import _common

    saved = {k: os.environ.get(k) for k in ("AZUREML_DEV_URL_MFE", "REQUESTS_CA_BUNDLE", "AZUREML_LOG_LEVEL")}
    blob = _common.STORAGE_ACCOUNT_URLS["AzureBlob"]
    os.environ["AZUREML_DEV_URL_MFE"] = fake.url
    os.environ["REQUESTS_CA_BUNDLE"] = str(fake.ca_file)
    _common.STORAGE_ACCOUNT_URLS["AzureBlob"] = fake.url + "/blob/{}"  # format(account, suffix): the suffix is dropped
    quiet = [logging.getLogger(n) for n in ("azure", "azure.ai.ml", "azure.core", "azure.identity")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                yield
    finally:
        _common.STORAGE_ACCOUNT_URLS["AzureBlob"] = blob
        for q, level in zip(quiet, levels):
            q.setLevel(level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Credential:
    """A TokenCredential asking the fake Azure AD for a client-credentials token per scope."""

    def __init__(self, fake: FakeAzure) -> None:
        self.fake = fake

    def get_token(self, *scopes: str, **kwargs: object) -> Any:
        from azure.core.credentials import AccessToken

        fake = self.fake
        body = requests.post(f"{fake.url}/{fake.tenant}/oauth2/v2.0/token", verify=str(fake.ca_file), timeout=30, data={
            "grant_type": "client_credentials", "client_id": fake.client_id, "client_secret": fake.client_secret,
            "scope": scopes[0]}).json()
        return AccessToken(body["access_token"], int(time.time()) + int(body["expires_in"]))


# The SDK-side fake is a harness, not a test of azure-ai-ml: what the SDK itself sends that the 2025-12-01
# description refuses is a fact about the SDK (it writes older api-versions), recorded by the fake against that
# description and dropped here, each with the reason. Anything else the SDK side records (a harness mistake, a body
# the fake cannot serve) still fails the test at teardown, and retrain's own fake stays strict.
SDK_DEVIATIONS: tuple[tuple[str, str], ...] = (
    # azure-ai-ml 1.35.2 writes a code version's properties as {"hash_sha256": ..., "hash_version": 202208}: the
    # number where the description's properties are a map of strings (api-version 2023-04-01, which the service takes).
    (r"code_versions_create_or_update \(sent with api-version \['[^']+'\]\): "
     r"body\.properties\.properties\.hash_version must be a string", "azure-ai-ml sends hash_version as a number"),
)


def forgive_sdk_deviations(fake: FakeAzure, start: int = 0) -> None:
    """Drop, from the violations ``fake`` recorded since index ``start``, the SDK's own known deviations."""
    kept = [v for v in fake.violations[start:] if not any(re.fullmatch(p, v) for p, _ in SDK_DEVIATIONS)]
    del fake.violations[start:]
    fake.violations.extend(kept)


def sdk_loads(path: Path) -> str:
    """'' when azure-ai-ml's load_job accepts the YAML, else its complaint."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        from azure.ai.ml import load_job
        try:
            load_job(path)
        except Exception as e:  # noqa: BLE001 - the oracle's verdict, whatever it raises
            return f"{type(e).__name__}: {e}"
    return ""


def through_sdk(fake: FakeAzure, work: Callable[[Any], None], **client_options: Any) -> Sent:
    """Run ``work(client)`` with an azure-ai-ml MLClient pointed at ``fake``; what it sent, how long it took, and the
    SDK's error (its verdict, whatever it raises). The SDK's own known deviations are forgiven on its fake only."""
    start, noted = len(fake.requests), len(fake.violations)
    began = time.perf_counter()
    error = ""
    with sdk_environment(fake):
        from azure.ai.ml import MLClient

        client = MLClient(_Credential(fake), fake.subscription, fake.resource_group, fake.workspace, **client_options)
        try:
            work(client)
        except Exception as e:  # noqa: BLE001
            error = f"{type(e).__name__}: {str(e)[:2000]}"
    forgive_sdk_deviations(fake, noted)
    out = sent(fake, start)
    out.seconds, out.error = time.perf_counter() - began, error
    return out


def sdk_submit(fake: FakeAzure, path: Path, *, experiment: str = "oracle", compute: str | None = "cpu-cluster") -> Sent:
    """``az ml job create -f PATH`` as azure-ai-ml does it (load_job, dependency upload and registration, the job
    PUT), through the fake; what it sent."""

    def work(client: Any) -> None:
        from azure.ai.ml import load_job

        job = load_job(path)
        if compute and not job.settings.default_compute and not job.compute:
            job.settings.default_compute = compute  # retrain's backend default, given to both
        client.jobs.create_or_update(job, experiment_name=experiment)

    return through_sdk(fake, work)


def resolve_refs(fake: FakeAzure, value: Any) -> Any:
    """A body with every workspace asset id (components, environments, code, data) replaced by what it names, so
    two clients' bodies compare by content, not by the ids each chose."""
    ws = fake.workspace_path
    if isinstance(value, dict):
        return {k: resolve_refs(fake, v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(fake, v) for v in value]
    if isinstance(value, str):
        if value.startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/"):
            return {"<data>": _files_under(fake, value)}
        text = value.removeprefix("azureml:")
        if text.startswith(ws) and text in fake.resources:
            kind = text[len(ws):].split("/")[1]
            props = fake.resources[text].get("properties") or {}
            if kind == "components":
                return {"<component>": resolve_refs(fake, props.get("componentSpec"))}
            if kind == "environments":
                content = {k: props.get(k) for k in ("image", "condaFile", "build", "osType") if props.get(k)}
                if isinstance(content.get("build"), dict) and "LocalUpload/" in str(content["build"].get("contextUri")):
                    # the build context by its files (the SDK's URL here carries the redirected host), name and version as sent
                    local = "LocalUpload/" + str(content["build"]["contextUri"]).split("LocalUpload/", 1)[1]
                    content["build"] = {**content["build"], "contextUri": _files_under(fake, f"azureml://datastores/workspaceblobstore/paths/{local}")}
                return {"<environment>": {"id": text[len(ws):], **content}}
            if kind == "codes":
                return {"<code>": _files_under(fake, str(props.get("codeUri", "")))}
            if kind == "data":
                return {"<data>": _files_under(fake, str(props.get("dataUri", "")))}
    return value


def _files_under(fake: FakeAzure, uri: str) -> dict[str, int]:
    """The blobs under a code or data URI, by path relative to it, with their sizes."""
    m = re.search(r"/blob/([^/]+)/([^/?]+)/?([^?]*)", uri) or re.search(r"/datastores/workspaceblobstore/paths/([^?]+)", uri)
    if m is None:
        return {"<uri>": 0}
    if m.re.pattern.startswith("/blob"):
        prefix = f"{m.group(1)}/{m.group(2)}/{m.group(3)}".rstrip("/")
    else:
        prefix = f"{fake.storage_account}/{fake.storage_container}/{m.group(1)}".rstrip("/")
    files = {k[len(prefix):].lstrip("/") or Path(k).name: len(v) for k, v in fake.blobs.items() if k == prefix or k.startswith(prefix + "/")}
    return dict(sorted(files.items()))


@dataclass(frozen=True)
class Difference:
    path: str
    ours: Any
    sdk: Any

    def __str__(self) -> str:
        return f"{self.path}: retrain {_short(self.ours)} / azure-ai-ml {_short(self.sdk)}"


MISSING = "<absent>"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 160 else text[:157] + "..."


def differences(ours: Any, sdk: Any, path: str = "") -> list[Difference]:
    if isinstance(ours, dict) and isinstance(sdk, dict):
        out: list[Difference] = []
        for key in list(ours) + [k for k in sdk if k not in ours]:
            out += differences(ours.get(key, MISSING), sdk.get(key, MISSING), f"{path}.{key}" if path else str(key))
        return out
    return [] if ours == sdk else [Difference(path, ours, sdk)]


@dataclass(frozen=True)
class Listed:
    """A difference docs/azure.md lists, with its reason: ``pattern`` matches the dotted path."""

    name: str
    pattern: str
    when: Any = None  # optional predicate(Difference) -> bool

    def covers(self, d: Difference) -> bool:
        return re.fullmatch(self.pattern, d.path) is not None and (self.when is None or self.when(d))


def unexplained(found: list[Difference], listed: tuple[Listed, ...]) -> tuple[list[Difference], dict[str, int]]:
    """The differences no listed one covers, and how often each listed one was seen."""
    seen: dict[str, int] = {}
    left = []
    for d in found:
        rule = next((r for r in listed if r.covers(d)), None)
        if rule is None:
            left.append(d)
        else:
            seen[rule.name] = seen.get(rule.name, 0) + 1
    return left, seen


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def income_for_sdk(tmp: Path) -> Path:
    """The income sample as azure-ai-ml's load_job reads it, in ``tmp/income``: its pipeline-level ``description``,
    ``min``, ``max`` and ``{type, default}`` value inputs (which load_job refuses, issue 18 item 7) written as the
    SDK's literals; every other file the sample's own (linked)."""
    source = ROOT / "examples" / "income"
    target = tmp / "income"
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.name != "pipeline.yml":
            (target / item.name).symlink_to(item)
    data = yaml.safe_load((source / "pipeline.yml").read_text(encoding="utf-8"))
    for name, spec in data["inputs"].items():
        if isinstance(spec, dict):
            for key in ("description", "min", "max"):
                spec.pop(key, None)
            if "default" in spec:
                data["inputs"][name] = spec["default"]
    (target / "pipeline.yml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target / "pipeline.yml"


def sdk_publish_submit(fake: FakeAzure, path: Path, *, endpoint: str, data: Path) -> Sent:
    """What retrain's publish + submit does, done with azure-ai-ml: the pipeline registered as a pipeline component
    (its steps, code and data with it), a batch endpoint, the component deployed on it and made the default, a
    pipeline job on that component version with ``training_data`` = ``data``."""

    def work(client: Any) -> None:
        from azure.ai.ml import Input, load_job
        from azure.ai.ml.entities import BatchEndpoint, PipelineComponentBatchDeployment, PipelineJob

        component = client.components.create_or_update(load_job(path).component)
        client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=endpoint)).result()
        client.batch_deployments.begin_create_or_update(PipelineComponentBatchDeployment(
            name="v1", endpoint_name=endpoint, component=component.id,
            settings={"default_compute": "cpu-cluster", "continue_on_step_failure": "false"})).result()  # strings, as the REST map takes them and retrain sends
        current = client.batch_endpoints.get(endpoint)
        current.defaults = {"deployment_name": "v1"}
        client.batch_endpoints.begin_create_or_update(current).result()
        job = PipelineJob(component=component.id, experiment_name="income",
                          inputs={"training_data": Input(type="uri_file", path=str(data))})
        job.settings.default_compute = "cpu-cluster"
        client.jobs.create_or_update(job)

    # polling_interval=0: no waiting between operation polls (the fake answers at once), as retrain's tests run
    return through_sdk(fake, work, polling_interval=0)
