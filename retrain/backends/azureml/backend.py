"""Azure ML v2 as a retrain backend, over the Resource Manager REST API.

The mapping, following Azure ML's own advice that a pipeline component deployed on a batch endpoint is
"the equivalent feature with published pipeline / pipeline endpoint in SDK v1":

- endpoint        = a batch endpoint of that name;
- version N       = the pipeline component ``<endpoint>`` version ``N``, deployed on the endpoint as
                    deployment ``v<N>`` (tags carry the content hash and the source commit);
- default version = the endpoint's default deployment.

A run is submitted as a pipeline job whose ``componentId`` is the pinned component version, with a job
name derived from the idempotency key: ``PUT jobs/{name}`` cannot start a second job, so a retried or
re-run submit finds the first one. Invoking the deployment instead would go through the endpoint's data
plane (another host and token audience) with no documented idempotency for a repeated job name; the
pipeline job runs the same component version the deployment points at and accepts literal values and
data inputs alike. The job is read back and a job that runs another version fails loudly.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ...errors import BackendError, CredentialError, NotFound, UsageError
from ...pipeline.model import InputType, Pipeline
from ...pipeline.types import format_literal, is_uri, unknown_parameter_hint
from ..base import DefaultMove, Endpoint, PublishResult, Run, RunStatus, StepResult, StepStatus, SubmitRequest, Version, pin_to_number
from .client import LAG_DELAYS_S, ML_SCOPE, ArmClient
from .datastore import default_datastore
from .moves import moves_of, with_move
from .components import port_spec
from .environments import object_hash
from .translate import pipeline_outputs, pipeline_settings, translate_jobs
from .wire import MODES, Assets, pipeline_yaml
from .upload import BLOCK_SIZE, BlobWriter, files_of, upload_folder

STATUS = {
    "NotStarted": RunStatus.QUEUED, "Starting": RunStatus.QUEUED, "Provisioning": RunStatus.QUEUED,
    "Preparing": RunStatus.QUEUED, "Queued": RunStatus.QUEUED,
    "Running": RunStatus.RUNNING, "Finalizing": RunStatus.RUNNING, "CancelRequested": RunStatus.RUNNING,
    "Paused": RunStatus.RUNNING, "Unknown": RunStatus.RUNNING,
    "Completed": RunStatus.COMPLETED, "Failed": RunStatus.FAILED, "NotResponding": RunStatus.FAILED,
    "Canceled": RunStatus.CANCELED,
}
STEP_STATUS = {RunStatus.QUEUED: StepStatus.QUEUED, RunStatus.RUNNING: StepStatus.RUNNING, RunStatus.COMPLETED: StepStatus.COMPLETED,
               RunStatus.FAILED: StepStatus.FAILED, RunStatus.CANCELED: StepStatus.CANCELED}
TAG_HASH, TAG_VERSION, TAG_COMMIT = "retrain.content_hash", "retrain.version", "retrain.commit"
DEPLOYMENT = re.compile(r"v(\d+)")
# azure-ai-ml refuses other component names: "Component name should only contain lower letter, number,
# underscore and start with a lower letter" (azure/ai/ml/_schema/component/component.py).
COMPONENT_NAME = re.compile(r"[a-z][a-z0-9_]*")
HASH_VERSION = "202208"  # the hashVersion azure-ai-ml sends with a code hash; retrain's hash is its own sha256
# The pipeline settings a deployment keeps for its version (azure-ai-ml's PipelineJobSettings that a run uses).
DEPLOYMENT_SETTINGS = ("default_compute", "default_datastore", "continue_on_step_failure", "force_rerun")


def component_name(name: str) -> str:
    """A name valid by azure-ai-ml's component rule: ``income-retrain`` -> ``income_retrain``."""
    mapped = re.sub(r"[^a-z0-9_]", "_", name.lower())
    return mapped if COMPONENT_NAME.fullmatch(mapped) else f"c_{mapped}"


MLFLOW_STATUS = {"SCHEDULED": StepStatus.QUEUED, "RUNNING": StepStatus.RUNNING, "FINISHED": StepStatus.COMPLETED,
                 "FAILED": StepStatus.FAILED, "KILLED": StepStatus.CANCELED}


def _latest(entries: list[dict[str, Any]]) -> dict[str, float]:
    """MLflow metric entries (key, value, timestamp, step) -> the last value of each key."""
    last: dict[str, tuple[int, float]] = {}
    for e in entries:
        stamp = int(e.get("timestamp") or 0)
        if e.get("key") and (e["key"] not in last or stamp >= last[e["key"]][0]):
            last[e["key"]] = (stamp, float(e["value"]))
    return {k: v for k, (_, v) in sorted(last.items())}


def _ms(value: object) -> datetime | None:
    return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc) if value else None  # type: ignore[call-overload]


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


class AzureMLBackend:
    kind = "azureml"

    def __init__(self, client: ArmClient, *, compute: str | None, poll_interval: float = 10.0,
                 storage_endpoint: str | None = None, block_size: int = BLOCK_SIZE) -> None:
        self.arm = client
        self.compute = compute
        self.poll_interval = poll_interval
        self.storage_endpoint = storage_endpoint  # blob service URL override (tests, sovereign or private clouds)
        self.block_size = block_size
        self._location: str | None = None
        self._experiments: dict[str, str] = {}  # run -> its MLflow experiment id, asked once
        self._code_ids: dict[str, str] = {}  # code content hash -> its code version's id, registered by this backend

    # -- helpers ----------------------------------------------------------------------------------

    def location(self) -> str:
        if self._location is None:
            ws = self.arm.read("", what=f"read workspace {self.arm.workspace}")
            self._location = str(ws["location"])
        return self._location

    def asset_id(self, kind: str, name: str, version: str) -> str:
        return f"{self.arm.workspace_id}/{kind}/{name}/versions/{version}"

    def _compute_id(self) -> str | None:
        if not self.compute:
            return None
        return self.compute if self.compute.startswith("/") else f"{self.arm.workspace_id}/computes/{self.compute}"

    # -- publish ----------------------------------------------------------------------------------

    def publish(self, pipeline: Pipeline, *, endpoint: str, make_default: bool, source_commit: str | None) -> PublishResult:
        existing = self._endpoint_or_none(endpoint)
        same = next((v for v in (existing.versions if existing else ()) if v.content_hash == pipeline.content_hash), None)
        if same is not None:
            moved = False
            if make_default and existing is not None and existing.default_version != same.number:
                self._set_default(endpoint, same.number)
                moved = True
            return PublishResult(self.endpoint(endpoint).version(same.number) or same, created=False, default_moved=moved)

        jobs = self._jobs(pipeline)
        component = component_name(endpoint)
        number = self._next_version(endpoint)
        spec = self._pipeline_spec(pipeline, component, number, jobs)
        tags = {TAG_HASH: pipeline.content_hash, TAG_VERSION: str(number), **({TAG_COMMIT: source_commit} if source_commit else {})}
        self.arm.put(f"/components/{component}/versions/{number}",
                     {"properties": {"componentSpec": spec, "description": pipeline.description, "tags": tags,
                                     "properties": {}, "isAnonymous": False}},
                     what=f"register pipeline component {component} version {number}")
        if existing is None:
            self.arm.put(f"/batchEndpoints/{endpoint}",
                         {"location": self.location(), "tags": {},
                          "properties": {"authMode": "AADToken", "description": f"retrain endpoint {endpoint}"}},
                         what=f"create batch endpoint {endpoint}")
        # The deployment keeps the pipeline's own settings with the version (strings: the description's
        # map<string,string>); a pinned run takes them from there.
        yaml_settings = pipeline.settings if isinstance(pipeline.settings, Mapping) else {}
        settings = {"continue_on_step_failure": "false"}
        settings.update({str(k): str(v).lower() if isinstance(v, bool) else str(v).removeprefix("azureml:")
                         for k, v in yaml_settings.items() if k in DEPLOYMENT_SETTINGS and v is not None})
        if self.compute:
            settings["default_compute"] = self.compute
        self.arm.put(f"/batchEndpoints/{endpoint}/deployments/v{number}",
                     {"location": self.location(), "tags": tags,
                      "properties": {"description": f"{endpoint} version {number}",
                                     "deploymentConfiguration": {
                                         "deploymentConfigurationType": "PipelineComponent",
                                         "componentId": {"referenceType": "Id", "assetId": self.asset_id("components", component, str(number))},
                                         "settings": settings}}},
                     what=f"deploy version {number} on batch endpoint {endpoint}")
        first = existing is None or existing.default_version is None
        if first or make_default:
            self._set_default(endpoint, number)
        version = self.endpoint(endpoint).version(number)
        for delay in LAG_DELAYS_S:  # a list may lag the write that added to it, like a read
            if version is not None:
                break
            self.arm.sleep(delay)
            version = self.endpoint(endpoint).version(number)
        if version is None:
            raise BackendError(f"deployment v{number} of batch endpoint {endpoint} was created, but the endpoint's deployments do not "
                               f"list it (expected v{number} with content {pipeline.content_hash[:19]}). Run `retrain endpoints {endpoint}` "
                               "in a minute; publish again if it is still missing (an unchanged pipeline is not published twice).")
        return PublishResult(version, created=True, default_moved=make_default and not first)

    # -- a pipeline's steps, as azure-ai-ml sends them (translate.py) -----------------------------------

    def _jobs(self, pipeline: Pipeline) -> dict[str, Any]:
        """Every step as the node of ``jobs`` (translate.translate_jobs, from the YAML as written): each step's own
        component registered (an inline step's from its own keys, never another step's), local code and data
        uploaded, inline environments registered, registered components resolved to ARM ids."""
        return self.jobs_of(pipeline.path)

    def jobs_of(self, path: Path) -> dict[str, Any]:
        """The ``jobs`` of the pipeline file at ``path``, registered and uploaded. Needs no loaded model: steps
        the loader does not model yet (parallel, sweep, spark, automl, pipeline components) translate the same."""
        top = pipeline_yaml(path)
        jobs = top.get("jobs") if isinstance(top.get("jobs"), Mapping) else {}
        parent_inputs = top.get("inputs") if isinstance(top.get("inputs"), Mapping) else {}
        parent_outputs = top.get("outputs") if isinstance(top.get("outputs"), Mapping) else {}
        return translate_jobs(jobs, parent_inputs, path.parent, self._assets(), parent_outputs)

    def _assets(self) -> Assets:
        return Assets(code=lambda path, component: "azureml:" + self._upload_code(path, component),
                      data=lambda path, kind: self._data_uri(str(path), kind),
                      environment=self._register_environment, component=self._register_component,
                      compute=self._arm_compute, data_ref=self._data_uri, component_ref=self._component_ref,
                      name=component_name, build_context=self._upload_build_context)

    def _upload_build_context(self, path: Path) -> str:
        """A Docker build context as azure-ai-ml uploads it: to the default datastore under LocalUpload/<hash>/<folder>/,
        named by its blob URL (the service builds from there)."""
        content = object_hash(path)
        store = default_datastore(self.arm, storage_endpoint=self.storage_endpoint, token=self.arm.token)
        prefix = f"LocalUpload/{content}/{path.name}"
        writer = BlobWriter(self.arm.session, store.container, block_size=self.block_size)
        for f, rel in files_of(path):
            writer.upload(f, f"{prefix}/{rel}")
        return f"{store.container.url.rstrip('/')}/{prefix}/"

    def _component_ref(self, ref: str) -> str:
        """A registered component as azure-ai-ml resolves it: ``azureml:name:version`` and ``azureml:name@latest``
        (the newest version, read from the workspace) to the version's ARM id; a registry's as written."""
        if ref.startswith("azureml://"):
            return ref
        text = ref.removeprefix("azureml:")
        if text.startswith("/subscriptions/"):
            return text
        name, _, version = text.partition(":")
        if "@" in name:
            name, _, label = name.partition("@")
            version = "" if label == "latest" else version
        if not version:
            container = self.arm.read(f"/components/{name}", what=f"read component {name}")
            version = str((container.get("properties") or {}).get("latestVersion") or "")
            if not version:
                raise NotFound(f"the component {name} has no versions in workspace {self.arm.workspace}; register it or give name:version.")
        return self.asset_id("components", name, version)

    def _arm_compute(self, name: str) -> str:
        """A compute as azure-ai-ml sends it: by ARM id (``azureml:cpu-cluster`` and ``cpu-cluster`` alike); a
        binding (``${{parent.inputs.x}}``) as written."""
        name = name.removeprefix("azureml:")
        return name if name.startswith(("/", "${{")) else f"{self.arm.workspace_id}/computes/{name}"

    def _arm_datastore(self, name: str) -> str:
        name = name.removeprefix("azureml:")
        return name if name.startswith("/") else f"{self.arm.workspace_id}/datastores/{name}"

    def _register_component(self, spec: dict[str, Any]) -> str:
        """A step's component, content-addressed: its version is the hash of its spec (code and environment by id,
        themselves content-addressed), so an unchanged component is registered once and never changed."""
        name = str(spec["name"])
        canonical = json.dumps({k: v for k, v in spec.items() if k != "version"}, sort_keys=True, default=str)
        version = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        spec = {**spec, "version": version}
        asset = self.asset_id("components", name, version)
        if self.arm.get(f"/components/{name}/versions/{version}", missing_ok=True,
                        what=f"look up component {name}") is not None:
            return asset
        self.arm.put(f"/components/{name}/versions/{version}",
                     {"properties": {"componentSpec": spec, "isAnonymous": False, "isArchived": False, "properties": {}, "tags": {}}},
                     what=f"register component {name}")
        return asset

    def _register_environment(self, name_version: str, props: dict[str, Any]) -> str:
        """An environment given in place, registered as azure-ai-ml registers it (an anonymous version named by its
        content's hash: a PUT of the same content changes nothing)."""
        name, version = name_version.split(":", 1)
        self.arm.put(f"/environments/{name}/versions/{version}", {"properties": props}, what=f"register environment {name}")
        return self.asset_id("environments", name, version)

    def _upload_code(self, code: Path, component: str) -> str:
        """Code as azure-ai-ml uploads it: looked up by content hash first, else a pending upload, then the code
        version (named after the component, versioned by the content's hash)."""
        name = f"{component}_code"
        if not code.exists():
            raise UsageError(f"the code folder {code} of component {component} does not exist.")
        digest = hashlib.sha256()
        for f, rel in files_of(code):
            digest.update(rel.encode() + b"\0" + f.read_bytes())
        content = digest.hexdigest()
        if content in self._code_ids:  # steps sharing a code folder (the income sample's six) upload it once
            return self._code_ids[content]
        version = content[:16]
        self._code_ids[content] = self._find_or_upload_code(code, name, version, content)
        return self._code_ids[content]

    def _find_or_upload_code(self, code: Path, name: str, version: str, content: str) -> str:
        found = self.arm.list(f"/codes/{name}/versions", params={"hash": content, "hashVersion": HASH_VERSION},
                              what=f"look up code {name} by its hash")
        if found:
            return str(found[0].get("id") or self.asset_id("codes", name, str(found[0].get("name"))))
        code_id = self.asset_id("codes", name, version)
        pending = self.arm.post(f"/codes/{name}/versions/{version}/startPendingUpload",
                                {"pendingUploadType": "TemporaryBlobReference"}, what=f"start the upload of code {name}",
                                starts_work=False)
        blob = pending.get("blobReferenceForConsumption") or {}
        sas = (blob.get("credential") or {}).get("sasUri")
        if not blob.get("blobUri") or not sas:
            raise BackendError(f"Azure ML gave no upload location for code {name} (startPendingUpload answered without "
                               "blobReferenceForConsumption.credential.sasUri); try again.")
        upload_folder(self.arm.session, code, str(blob["blobUri"]), str(sas), where=f"the upload container of code {name}")
        self.arm.put(f"/codes/{name}/versions/{version}",
                     {"properties": {"codeUri": blob["blobUri"], "isAnonymous": False,
                                     "properties": {"hash_sha256": content, "hash_version": HASH_VERSION}, "tags": {}}},
                     what=f"register code {name}")
        return code_id

    def _next_version(self, endpoint: str) -> int:
        name = component_name(endpoint)
        container = self.arm.get(f"/components/{name}", missing_ok=True, what=f"read component {name}")
        if container is None:
            return 1
        props = container.get("properties", {})
        if props.get("nextVersion"):
            return int(props["nextVersion"])
        return int(props.get("latestVersion") or 0) + 1

    def _pipeline_spec(self, pipeline: Pipeline, endpoint: str, number: int, jobs: Mapping[str, Any]) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        for name, port in pipeline.parameters.items():
            entry: dict[str, Any] = {"type": port.type.value}
            # A pipeline component's data inputs take no default (Azure rejects one): the run gives the data.
            if port.default is not None and not port.type.is_data:
                entry["default"] = port.default
            if port.optional:
                entry["optional"] = True
            if port.description:
                entry["description"] = port.description
            for key in ("min", "max"):
                if getattr(port, key) is not None:
                    entry[key] = getattr(port, key)
            if port.enum:
                entry["enum"] = list(port.enum)
            inputs[name] = port_spec(entry, output=False)  # defaults, min and max as strings, as azure-ai-ml sends them
        outputs = {name: {"type": port.type.value} for name, port in pipeline.outputs.items()}
        return {"name": endpoint, "version": str(number), "display_name": pipeline.display_name, "type": "pipeline",
                **({"description": pipeline.description} if pipeline.description else {}),
                "inputs": inputs, "outputs": outputs, "jobs": dict(jobs), "_source": "YAML.JOB", "sourceJobId": None}

    def _set_default(self, endpoint: str, number: int, move: DefaultMove | None = None) -> None:
        # The default deployment is part of the endpoint: Azure changes it by a full PUT, not a PATCH. The move's
        # record goes into the endpoint's tags in the same PUT (see moves.py).
        current = self.arm.read(f"/batchEndpoints/{endpoint}", what=f"read batch endpoint {endpoint}")
        props = {k: v for k, v in current.get("properties", {}).items()
                 if k not in ("scoringUri", "swaggerUri", "provisioningState")}
        before = DEPLOYMENT.fullmatch(str((props.get("defaults") or {}).get("deploymentName") or ""))
        props["defaults"] = {"deploymentName": f"v{number}"}
        tags = dict(current.get("tags") or {})
        previous = int(before.group(1)) if before else None
        if move is not None and previous != number:
            tags = with_move(tags, replace(move, endpoint=endpoint, from_version=previous, to_version=number))
        self.arm.put(f"/batchEndpoints/{endpoint}", {"location": current.get("location") or self.location(),
                                                      "tags": tags, "properties": props},
                     what=f"make version {number} the default of {endpoint}")

    def record_default_move(self, move: DefaultMove) -> None:
        """Record a move a publish made (the first version, or ``--make-default``) in the endpoint's tags."""
        current = self.arm.read(f"/batchEndpoints/{move.endpoint}", what=f"read batch endpoint {move.endpoint}")
        props = {k: v for k, v in current.get("properties", {}).items()
                 if k not in ("scoringUri", "swaggerUri", "provisioningState")}
        self.arm.put(f"/batchEndpoints/{move.endpoint}",
                     {"location": current.get("location") or self.location(),
                      "tags": with_move(current.get("tags") or {}, move), "properties": props},
                     what=f"record the default move of {move.endpoint}")

    def default_moves(self, endpoint: str) -> list[DefaultMove]:
        """The moves recorded in the endpoint's tags (the newest 30), oldest first."""
        body = self.arm.get(f"/batchEndpoints/{endpoint}", missing_ok=True, what=f"read batch endpoint {endpoint}")
        if body is None:
            raise NotFound(f"no batch endpoint '{endpoint}' in workspace {self.arm.workspace}. Publish it first: retrain publish.")
        return moves_of(endpoint, body.get("tags") or {})

    # -- endpoints --------------------------------------------------------------------------------

    def _endpoint_or_none(self, name: str) -> Endpoint | None:
        body = self.arm.get(f"/batchEndpoints/{name}", missing_ok=True, what=f"read batch endpoint {name}")
        return None if body is None else self._endpoint(name, body)

    def _endpoint(self, name: str, body: Mapping[str, Any]) -> Endpoint:
        default = (body.get("properties", {}).get("defaults") or {}).get("deploymentName")
        versions = []
        for dep in self.arm.list(f"/batchEndpoints/{name}/deployments", what=f"list deployments of {name}"):
            match = DEPLOYMENT.fullmatch(str(dep.get("name", "")))
            tags = dep.get("tags") or {}
            if not match or TAG_HASH not in tags:
                continue  # deployments retrain did not make are left alone
            if (dep.get("properties") or {}).get("provisioningState") in ("Failed", "Canceled"):
                continue  # a deployment that never came up is no version: the next publish deploys again
            number = int(match.group(1))
            versions.append(Version(
                endpoint=name, number=number, content_hash=tags[TAG_HASH],
                created=_time((dep.get("systemData") or {}).get("createdAt")) or datetime.now(timezone.utc),
                is_default=dep.get("name") == default, source_commit=tags.get(TAG_COMMIT),
                url=(body.get("properties") or {}).get("scoringUri")))
        versions.sort(key=lambda v: v.number)
        match = DEPLOYMENT.fullmatch(default or "")
        return Endpoint(name=name, default_version=int(match.group(1)) if match else None, versions=tuple(versions),
                        url=(body.get("properties") or {}).get("scoringUri"),
                        backend_name=f"batch endpoint {name}, pipeline component {component_name(name)}")

    def endpoints(self) -> list[Endpoint]:
        return [self._endpoint(str(e["name"]), e) for e in self.arm.list("/batchEndpoints", what="list batch endpoints")]

    def endpoint(self, name: str) -> Endpoint:
        found = self._endpoint_or_none(name)
        if found is None:
            raise NotFound(f"no batch endpoint '{name}' in workspace {self.arm.workspace}. Publish it first: retrain publish.")
        return found

    # -- runs -------------------------------------------------------------------------------------

    def _job_name(self, key: str) -> str:
        return key  # rt-<hex>: valid as an ARM job name, and the same key gives the same name

    def find_run(self, key: str) -> Run | None:
        body = self.arm.get(f"/jobs/{self._job_name(key)}", missing_ok=True, what="look up the run")
        return None if body is None else self._run(body)

    def submit(self, request: SubmitRequest) -> Run:
        earlier = self.find_run(request.key)
        if earlier is not None:
            return earlier
        endpoint = self.endpoint(request.endpoint)
        number = pin_to_number(endpoint, request.version)
        # The deployment says which component version it runs (component names follow the SDK's rule).
        deployment = self.arm.read(f"/batchEndpoints/{request.endpoint}/deployments/v{number}",
                                   what=f"read version {number} of {request.endpoint}")
        config = (deployment.get("properties") or {}).get("deploymentConfiguration") or {}
        component_id = str((config.get("componentId") or {}).get("assetId") or "")
        if "/components/" not in component_id:
            raise BackendError(f"deployment v{number} of batch endpoint {request.endpoint} runs no pipeline component; "
                               "it was not made by retrain publish. Publish again or pin another version.")
        spec_body = self.arm.read(component_id.split(self.arm.workspace_id, 1)[-1], what=f"read {request.endpoint} version {number}")
        declared: Mapping[str, Any] = ((spec_body.get("properties") or {}).get("componentSpec") or {}).get("inputs", {})
        inputs: dict[str, Any] = {}
        for name, value in request.parameters.items():
            if name not in declared:
                raise UsageError(f"version {number} of '{request.endpoint}' has no parameter '{name}'. {unknown_parameter_hint(name, declared)}")
            kind = str(declared[name].get("type", "string"))
            if InputType(kind).is_data:  # no mode: the service's default for the type, as azure-ai-ml sends it
                inputs[name] = {"jobInputType": kind, "uri": self._data_uri(str(value), kind)}
            else:
                inputs[name] = {"jobInputType": "literal", "value": format_literal(value)}
        missing = [n for n, d in declared.items() if n not in inputs and "default" not in d and not d.get("optional")]
        if missing:
            raise UsageError(f"no value for {', '.join(missing)}: version {number} of '{request.endpoint}' needs one. Set it with --set NAME=VALUE.")
        # As azure-ai-ml sends a job on a registered pipeline component: what the YAML's settings said is in the
        # component's deployment; the job names the compute and where it came from.
        kept = config.get("settings") or {}
        settings: dict[str, Any] = {"_source": "REMOTE.WORKSPACE.JOB"}
        compute = self._compute_id() or (self._arm_compute(str(kept["default_compute"])) if kept.get("default_compute") else None)
        if compute:
            settings["default_compute"] = compute
        if kept.get("default_datastore"):
            settings["default_datastore"] = self._arm_datastore(str(kept["default_datastore"]))
        if str(kept.get("continue_on_step_failure", "")).lower() == "true":  # false is the service's default
            settings["continue_on_step_failure"] = True
        body = {"properties": {
            "jobType": "Pipeline", "displayName": f"{request.pipeline} v{number}", "experimentName": request.experiment,
            "tags": {**request.tags, "retrain.key": request.key, "retrain.pipeline": request.pipeline,
                     "retrain.endpoint": request.endpoint, TAG_VERSION: str(number)},
            "properties": {}, "componentId": component_id, "jobs": {}, "inputs": inputs, "outputs": {}, "settings": settings,
            "isArchived": False,
        }}
        # azure-ai-ml sends a token for Azure ML's own audience with a pipeline job and does not submit without it.
        created = self.arm.put(f"/jobs/{self._job_name(request.key)}", body, what=f"submit a run of {request.endpoint} version {number}",
                               headers={"x-azureml-token": self.arm.token(ML_SCOPE)})
        run = self._run(created)
        if run.version != number:
            raise BackendError(f"Azure ML started run {run.id} on {created['properties'].get('componentId')}, "
                               f"not on the pinned version {number}; cancel it and check the endpoint.")
        return run

    def submit_draft(self, pipeline: Pipeline, request: SubmitRequest) -> Run:
        """A pull request's pipeline as a pipeline job of its own graph (as azure-ai-ml submits a pipeline from
        YAML): its command components registered content-addressed as publish does, but no pipeline-component
        version and no deployment, so no endpoint lists it and it can never become the default."""
        earlier = self.find_run(request.key)
        if earlier is not None:
            return earlier
        jobs = self._jobs(pipeline)
        top = pipeline_yaml(pipeline.path)
        values: dict[str, object] = {n: p.default for n, p in pipeline.parameters.items() if p.default is not None}
        values.update(request.parameters)
        inputs: dict[str, Any] = {}
        for name, value in values.items():
            port = pipeline.parameters.get(name)
            if port is None:
                raise UsageError(f"the pipeline has no parameter '{name}'. {unknown_parameter_hint(name, pipeline.parameters)}")
            kind = port.type.value
            if port.type.is_data:  # a mode only where the YAML gives one, as azure-ai-ml sends it
                inputs[name] = {"jobInputType": kind, "uri": self._data_uri(str(value), kind),
                                **({"mode": MODES.get(port.mode, port.mode)} if port.mode else {})}
            else:
                inputs[name] = {"jobInputType": "literal", "value": format_literal(value)}  # type: ignore[arg-type]
        settings = pipeline_settings(top.get("settings") if isinstance(top.get("settings"), Mapping) else {},
                                     self._arm_compute, self._arm_datastore, self.compute)
        outputs = pipeline_outputs(top.get("outputs") if isinstance(top.get("outputs"), Mapping) else {})
        # The pipeline YAML's own tags go on the job, as azure-ai-ml sends them (strings: the REST map's values);
        # the run's tags and retrain's own are written over them.
        yaml_tags = top.get("tags") if isinstance(top.get("tags"), Mapping) else {}
        body = {"properties": {
            "jobType": "Pipeline", "displayName": f"{request.pipeline} draft", "experimentName": request.experiment,
            **({"description": pipeline.description} if pipeline.description else {}),
            "tags": {**{str(k): str(v) for k, v in yaml_tags.items() if v is not None}, **request.tags, "retrain.key": request.key, "retrain.pipeline": request.pipeline,
                     "retrain.endpoint": request.endpoint, "retrain.draft": "true"},
            "properties": {}, "jobs": jobs, "inputs": inputs, "outputs": outputs, "settings": settings, "isArchived": False,
        }}
        created = self.arm.put(f"/jobs/{self._job_name(request.key)}", body, what=f"submit a draft run of {request.pipeline}",
                               headers={"x-azureml-token": self.arm.token(ML_SCOPE)})
        return self._run(created)

    def set_default(self, endpoint: str, number: int, move: DefaultMove | None = None) -> None:
        """Make deployment v<number> the batch endpoint's default (a passed gate, ``retrain promote`` or
        ``rollback``), recording ``move`` in the endpoint's tags in the same request."""
        if self.endpoint(endpoint).version(number) is None:
            raise NotFound(f"batch endpoint '{endpoint}' has no version {number}.")
        self._set_default(endpoint, number, move)

    def _data_uri(self, value: str, kind: str) -> str:
        """A data input as azure-ai-ml sends it: a registered data version by its ARM id, other URIs as they are."""
        if value.startswith("azureml:") and not value.startswith("azureml://"):
            name, _, version = value.removeprefix("azureml:").partition(":")
            if name.startswith("/subscriptions/"):
                return name + (f":{version}" if version else "")
            if "@" in name and not version:
                name, _, version = name.partition("@")
            if version and version != "latest":
                return self.asset_id("data", name, version)
            # name@latest (or no version) as azure-ai-ml resolves it: to the newest version, by ARM id
            container = self.arm.read(f"/data/{name}", what=f"read data {name}")
            latest = (container.get("properties") or {}).get("latestVersion")
            if not latest:
                raise NotFound(f"the data {name} has no versions in workspace {self.arm.workspace}; register it or give name:version.")
            return self.asset_id("data", name, str(latest))
        if is_uri(value):
            return value
        path = Path(value)
        if not path.exists():
            raise UsageError(f"the data {value} does not exist. Give a repository path, an azureml:// URI or azureml:name:version.")
        return self._upload_data(path, kind)

    def _upload_data(self, path: Path, kind: str) -> str:
        """Repository data as azure-ai-ml uploads it: to the default datastore under LocalUpload/<content hash>/, then a
        data version ``retrain-<name>`` at version <hash> that points there. Unchanged content uploads nothing."""
        is_file = path.is_file()
        data_type = "uri_file" if is_file else "uri_folder"
        if kind in ("uri_file", "uri_folder") and kind != data_type:
            raise UsageError(f"{path} is a {'file' if is_file else 'folder'}, but the pipeline input is {kind}: give a "
                             f"{'folder' if is_file else 'file'}.")
        files = files_of(path)
        digest = hashlib.sha256()
        for f, rel in files:
            digest.update(rel.encode() + b"\0")
            with f.open("rb") as stream:  # in blocks: the file may be larger than memory
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
        content = digest.hexdigest()
        version = content[:16]
        name = "retrain-" + re.sub(r"[^a-zA-Z0-9_-]", "-", path.stem)[:200]
        data_path = f"/data/{name}/versions/{version}"
        if self.arm.get(data_path, missing_ok=True, what=f"look up data {name}") is not None:
            return self.asset_id("data", name, version)
        store = default_datastore(self.arm, storage_endpoint=self.storage_endpoint, token=self.arm.token)
        prefix = f"LocalUpload/{content[:32]}/{path.name}"
        writer = BlobWriter(self.arm.session, store.container, block_size=self.block_size, probe=True)  # a run may have died after the upload
        for f, rel in files:
            writer.upload(f, prefix if path.is_file() else f"{prefix}/{rel}")
        self.arm.put(data_path,
                     {"properties": {"dataType": data_type, "dataUri": store.uri(self.arm, prefix + ("" if is_file else "/")),
                                     "isAnonymous": False, "description": f"{path.name} from the repository",
                                     "tags": {TAG_HASH: content}, "properties": {}}},
                     what=f"register data {name} in datastore {store.name}")
        return self.asset_id("data", name, version)

    def _run(self, body: Mapping[str, Any]) -> Run:
        props = body.get("properties", {})
        status = STATUS.get(str(props.get("status")), RunStatus.RUNNING)
        tags = dict(props.get("tags") or {})
        component = str(props.get("componentId") or "")
        version = int(component.rsplit("/", 1)[-1]) if component.rsplit("/", 1)[-1].isdigit() else 0
        parameters = {k: (v.get("value") if v.get("jobInputType") == "literal" else v.get("uri"))
                      for k, v in (props.get("inputs") or {}).items()}
        services = props.get("services") or {}
        url = (services.get("Studio") or {}).get("endpoint")
        system = body.get("systemData") or {}
        ended = _time(system.get("lastModifiedAt")) if status.is_terminal else None
        return Run(
            id=str(body.get("name")), pipeline=tags.get("retrain.pipeline", ""), endpoint=tags.get("retrain.endpoint", ""),
            version=version, status=status, parameters=parameters, key=tags.get("retrain.key", str(body.get("name"))),
            created=_time(system.get("createdAt")) or datetime.now(timezone.utc), started=_time(system.get("createdAt")),
            ended=ended, steps=(StepResult(name="pipeline job", status=STEP_STATUS[status]),), url=url,
            message="" if status is RunStatus.COMPLETED else str(props.get("statusMessage") or ""),
            tags=tags, experiment=str(props.get("experimentName") or ""),
        )

    def run(self, run_id: str) -> Run:
        run = self._run(self.arm.read(f"/jobs/{run_id}", what=f"read run {run_id}"))
        steps, metrics = self._details(run)
        if run.status is RunStatus.FAILED and not run.message:
            run = replace(run, message=self._failure(run_id))
        return replace(run, steps=steps or run.steps, metrics=metrics or run.metrics)

    def _failure(self, run_id: str) -> str:
        """Why a job failed, as azure-ai-ml shows it: run history's RunDetails.error (the job resource has no error)."""
        try:
            url = f"{self.arm.service_api()}/history/v1.0{self.arm.workspace_id}/runs/{run_id}/details?api-version=v1.0"
            response = self.arm.request("GET", url, what=f"read why run {run_id} failed", missing_ok=True)
        except (BackendError, CredentialError, NotFound):
            return ""  # the status says it failed; the reason is a detail
        error = ((response.json() if response is not None and response.content else {}).get("error") or {}).get("error") or {}
        return ": ".join(str(error[k]) for k in ("code", "message") if error.get(k))

    # Steps and metrics come from the workspace's MLflow tracking server, where Azure ML records every job:
    # the pipeline job is an MLflow run, each step a child run tagged with its parent.

    def _mlflow(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        try:
            url = f"{self.arm.service_api()}/mlflow/v1.0{self.arm.workspace_id}/api/2.0/mlflow{path}"
            response = self.arm.request(method, url, json=body, what="read the run's steps and metrics", missing_ok=True)
        except (BackendError, CredentialError, NotFound):
            return None  # details only: a run's status never depends on them
        return response.json() if response is not None and response.content else None

    def _details(self, run: Run) -> tuple[tuple[StepResult, ...], dict[str, float]]:
        experiment = self._experiments.get(run.id)
        parent = None
        if experiment is None or run.status.is_terminal:  # the parent's own metrics are final only at the end
            parent = self._mlflow("GET", f"/runs/get?run_id={run.id}")
            if parent is None:
                return (), {}
            experiment = self._experiments[run.id] = str(parent["run"]["info"]["experiment_id"])
        found = self._mlflow("POST", "/runs/search", {"experiment_ids": [experiment], "max_results": 200,
                                                      "filter": f"tags.mlflow.parentRunId = '{run.id}'"}) or {}
        steps, metrics = [], {}
        for child in sorted(found.get("runs", []), key=lambda r: r["info"].get("start_time") or 0):
            info, data = child["info"], child.get("data", {})
            tags = {t["key"]: t["value"] for t in data.get("tags", [])}
            child_metrics = _latest(data.get("metrics", []))
            metrics.update(child_metrics)
            steps.append(StepResult(
                name=tags.get("azureml.nodeid") or tags.get("mlflow.runName") or info.get("run_name") or info["run_id"],
                status=MLFLOW_STATUS.get(str(info.get("status")), StepStatus.RUNNING),
                started=_ms(info.get("start_time")), ended=_ms(info.get("end_time")), metrics=child_metrics))
        if parent is not None:
            metrics.update(_latest(parent["run"].get("data", {}).get("metrics", [])))
        return tuple(steps), metrics

    def runs(self, *, pipeline: str | None = None, status: RunStatus | None = None, limit: int = 20) -> list[Run]:
        params = {"jobType": "Pipeline", "tag": "retrain.key", "listViewType": "ActiveOnly"}
        runs = [self._run(j) for j in self.arm.list("/jobs", params=params, what="list runs")]
        runs = [r for r in runs if (pipeline is None or r.pipeline == pipeline) and (status is None or r.status is status)]
        return sorted(runs, key=lambda r: r.created, reverse=True)[:limit]

    def cancel(self, run_id: str) -> Run:
        run = self.run(run_id)
        if run.status.is_terminal:
            return run
        self.arm.post(f"/jobs/{run_id}/cancel", what=f"cancel run {run_id}", wait=True)
        return self.run(run_id)

    def logs(self, run_id: str, step: str, offset: int = 0) -> tuple[str, int]:
        return "", offset  # step logs stay in Azure ML studio; the run's link points there
