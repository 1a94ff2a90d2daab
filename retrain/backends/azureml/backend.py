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
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ...errors import BackendError, CredentialError, NotFound, UsageError
from ...pipeline.model import Component, DataValue, InputType, ParentInput, Pipeline, StepOutput
from ...pipeline.types import format_literal, is_uri, unknown_parameter_hint
from ..base import Endpoint, PublishResult, Run, RunStatus, StepResult, StepStatus, SubmitRequest, Version, pin_to_number
from .client import ArmClient
from .upload import upload_folder

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

    def __init__(self, client: ArmClient, *, compute: str | None, poll_interval: float = 10.0) -> None:
        self.arm = client
        self.compute = compute
        self.poll_interval = poll_interval
        self._location: str | None = None
        self._experiments: dict[str, str] = {}  # run -> its MLflow experiment id, asked once

    # -- helpers ----------------------------------------------------------------------------------

    def location(self) -> str:
        if self._location is None:
            ws = self.arm.get("", what=f"read workspace {self.arm.workspace}")
            assert ws is not None
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

        component_ids = {}
        for step in pipeline.steps.values():
            if step.component.source not in component_ids:
                component_ids[step.component.source] = self._register_command(step.component)
        number = self._next_version(endpoint)
        spec = self._pipeline_spec(pipeline, endpoint, number, component_ids)
        tags = {TAG_HASH: pipeline.content_hash, TAG_VERSION: str(number), **({TAG_COMMIT: source_commit} if source_commit else {})}
        self.arm.put(f"/components/{endpoint}/versions/{number}",
                     {"properties": {"componentSpec": spec, "description": pipeline.description, "tags": tags,
                                     "properties": {}, "isAnonymous": False}},
                     what=f"register pipeline component {endpoint} version {number}")
        if existing is None:
            self.arm.put(f"/batchEndpoints/{endpoint}",
                         {"location": self.location(), "tags": {},
                          "properties": {"authMode": "AADToken", "description": f"retrain endpoint {endpoint}"}},
                         what=f"create batch endpoint {endpoint}")
        settings = {"continue_on_step_failure": "false"}
        if self.compute:
            settings["default_compute"] = self.compute
        self.arm.put(f"/batchEndpoints/{endpoint}/deployments/v{number}",
                     {"location": self.location(), "tags": tags,
                      "properties": {"description": f"{endpoint} version {number}",
                                     "deploymentConfiguration": {
                                         "deploymentConfigurationType": "PipelineComponent",
                                         "componentId": {"referenceType": "Id", "assetId": self.asset_id("components", endpoint, str(number))},
                                         "settings": settings}}},
                     what=f"deploy version {number} on batch endpoint {endpoint}")
        first = existing is None or existing.default_version is None
        if first or make_default:
            self._set_default(endpoint, number)
        version = self.endpoint(endpoint).version(number)
        assert version is not None
        return PublishResult(version, created=True, default_moved=make_default and not first)

    def _register_command(self, component: Component) -> str:
        """Command components are content-addressed: version = hash of the YAML and its code."""
        files = [component.source]
        if component.code is not None:
            files += sorted(p for p in component.code.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
                if component.code.is_dir() else [component.code]
        digest = hashlib.sha256()
        for f in files:
            digest.update(f.name.encode() + b"\0" + f.read_bytes())
        version = digest.hexdigest()[:16]
        asset = self.asset_id("components", component.name, version)
        if self.arm.get(f"/components/{component.name}/versions/{version}", missing_ok=True,
                        what=f"look up component {component.name}") is not None:
            return asset
        spec: dict[str, Any] = {k: v for k, v in component.raw.items() if k not in ("$schema", "code", "version")}
        spec.update({"name": component.name, "version": version, "type": "command"})
        if component.code is not None:
            spec["code"] = self._upload_code(component, version)
        self.arm.put(f"/components/{component.name}/versions/{version}",
                     {"properties": {"componentSpec": spec, "isAnonymous": False, "properties": {}, "tags": {}}},
                     what=f"register component {component.name}")
        return asset

    def _upload_code(self, component: Component, version: str) -> str:
        name = f"{component.name}-code"
        code_id = self.asset_id("codes", name, version)
        if self.arm.get(f"/codes/{name}/versions/{version}", missing_ok=True, what=f"look up code {name}") is not None:
            return code_id  # this content is already there
        pending = self.arm.post(f"/codes/{name}/versions/{version}/startPendingUpload",
                                {"pendingUploadType": "TemporaryBlobReference"}, what=f"start the upload of {name}")
        blob = pending["blobReferenceForConsumption"]
        assert component.code is not None
        upload_folder(self.arm.session, component.code, blob["blobUri"], blob["credential"]["sasUri"])
        self.arm.put(f"/codes/{name}/versions/{version}",
                     {"properties": {"codeUri": blob["blobUri"], "isAnonymous": False, "properties": {}, "tags": {}}},
                     what=f"register code {name}")
        return code_id

    def _next_version(self, endpoint: str) -> int:
        container = self.arm.get(f"/components/{endpoint}", missing_ok=True, what=f"read component {endpoint}")
        if container is None:
            return 1
        props = container.get("properties", {})
        if props.get("nextVersion"):
            return int(props["nextVersion"])
        return int(props.get("latestVersion") or 0) + 1

    def _pipeline_spec(self, pipeline: Pipeline, endpoint: str, number: int, component_ids: Mapping[Path, str]) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        for name, port in pipeline.parameters.items():
            entry: dict[str, Any] = {"type": port.type.value}
            # A pipeline component's data inputs take no default (Azure rejects one): the run gives the data.
            if port.default is not None and not port.type.is_data:
                entry["default"] = port.default
            if port.optional:
                entry["optional"] = True
            for key in ("min", "max"):
                if getattr(port, key) is not None:
                    entry[key] = getattr(port, key)
            if port.enum:
                entry["enum"] = list(port.enum)
            inputs[name] = entry
        jobs: dict[str, Any] = {}
        for step in pipeline.steps.values():
            node_inputs: dict[str, Any] = {}
            for iname, binding in step.inputs.items():
                if isinstance(binding, ParentInput):
                    value = f"${{{{parent.inputs.{binding.name}}}}}"
                elif isinstance(binding, StepOutput):
                    value = f"${{{{parent.jobs.{binding.step}.outputs.{binding.output}}}}}"
                elif isinstance(binding, DataValue):
                    node_inputs[iname] = {"job_input_type": binding.type.value, "uri": binding.path}
                    continue
                else:
                    value = format_literal(binding)
                node_inputs[iname] = {"job_input_type": "literal", "value": value}
            node_outputs = {o: {"value": f"${{{{parent.outputs.{t}}}}}", "type": "literal"} for o, t in step.outputs.items() if t}
            jobs[step.name] = {"type": "command", "name": step.name, "componentId": component_ids[step.component.source],
                               "inputs": node_inputs, "outputs": node_outputs}
        outputs = {name: {"type": port.type.value} for name, port in pipeline.outputs.items()}
        return {"name": endpoint, "version": str(number), "display_name": pipeline.display_name, "type": "pipeline",
                "inputs": inputs, "outputs": outputs, "jobs": jobs}

    def _set_default(self, endpoint: str, number: int) -> None:
        # The default deployment is part of the endpoint: Azure changes it by a full PUT, not a PATCH.
        current = self.arm.get(f"/batchEndpoints/{endpoint}", what=f"read batch endpoint {endpoint}")
        assert current is not None
        props = {k: v for k, v in current.get("properties", {}).items()
                 if k not in ("scoringUri", "swaggerUri", "provisioningState")}
        props["defaults"] = {"deploymentName": f"v{number}"}
        self.arm.put(f"/batchEndpoints/{endpoint}", {"location": current.get("location") or self.location(),
                                                      "tags": current.get("tags") or {}, "properties": props},
                     what=f"make version {number} the default of {endpoint}")

    # -- endpoints --------------------------------------------------------------------------------

    def _endpoint_or_none(self, name: str) -> Endpoint | None:
        body = self.arm.get(f"/batchEndpoints/{name}", missing_ok=True, what=f"read batch endpoint {name}")
        return None if body is None else self._endpoint(name, body)

    def _endpoint(self, name: str, body: Mapping[str, Any]) -> Endpoint:
        default = (body.get("properties", {}).get("defaults") or {}).get("deploymentName")
        listing = self.arm.get(f"/batchEndpoints/{name}/deployments", what=f"list deployments of {name}") or {}
        versions = []
        for dep in listing.get("value", []):
            match = DEPLOYMENT.fullmatch(str(dep.get("name", "")))
            tags = dep.get("tags") or {}
            if not match or TAG_HASH not in tags:
                continue  # deployments retrain did not make are left alone
            number = int(match.group(1))
            versions.append(Version(
                endpoint=name, number=number, content_hash=tags[TAG_HASH],
                created=_time((dep.get("systemData") or {}).get("createdAt")) or datetime.now(timezone.utc),
                is_default=dep.get("name") == default, source_commit=tags.get(TAG_COMMIT),
                url=(body.get("properties") or {}).get("scoringUri")))
        versions.sort(key=lambda v: v.number)
        match = DEPLOYMENT.fullmatch(default or "")
        return Endpoint(name=name, default_version=int(match.group(1)) if match else None, versions=tuple(versions),
                        url=(body.get("properties") or {}).get("scoringUri"))

    def endpoints(self) -> list[Endpoint]:
        listing = self.arm.get("/batchEndpoints", what="list batch endpoints") or {}
        return [self._endpoint(str(e["name"]), e) for e in listing.get("value", [])]

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
        component_id = self.asset_id("components", request.endpoint, str(number))
        spec_body = self.arm.get(f"/components/{request.endpoint}/versions/{number}", what=f"read {request.endpoint} version {number}")
        assert spec_body is not None
        declared: Mapping[str, Any] = spec_body["properties"]["componentSpec"].get("inputs", {})
        inputs: dict[str, Any] = {}
        for name, value in request.parameters.items():
            if name not in declared:
                raise UsageError(f"version {number} of '{request.endpoint}' has no parameter '{name}'. {unknown_parameter_hint(name, declared)}")
            kind = str(declared[name].get("type", "string"))
            if InputType(kind).is_data:
                inputs[name] = {"jobInputType": kind, "uri": self._data_uri(str(value), kind), "mode": "ReadOnlyMount"}
            else:
                inputs[name] = {"jobInputType": "literal", "value": format_literal(value)}
        missing = [n for n, d in declared.items() if n not in inputs and "default" not in d and not d.get("optional")]
        if missing:
            raise UsageError(f"no value for {', '.join(missing)}: version {number} of '{request.endpoint}' needs one. Set it with --set NAME=VALUE.")
        settings: dict[str, Any] = {"continue_on_step_failure": False}
        if self._compute_id():
            settings["default_compute"] = self._compute_id()
        body = {"properties": {
            "jobType": "Pipeline", "displayName": f"{request.pipeline} v{number}", "experimentName": request.experiment,
            "tags": {**request.tags, "retrain.key": request.key, "retrain.pipeline": request.pipeline,
                     "retrain.endpoint": request.endpoint, TAG_VERSION: str(number)},
            "properties": {}, "componentId": component_id, "jobs": {}, "inputs": inputs, "settings": settings,
            "isArchived": False,
        }}
        created = self.arm.put(f"/jobs/{self._job_name(request.key)}", body, what=f"submit a run of {request.endpoint} version {number}")
        run = self._run(created)
        if run.version != number:
            raise BackendError(f"Azure ML started run {run.id} on {created['properties'].get('componentId')}, "
                               f"not on the pinned version {number}; cancel it and check the endpoint.")
        return run

    def _data_uri(self, value: str, kind: str) -> str:
        if is_uri(value):
            return value
        path = Path(value)
        if not path.exists():
            raise UsageError(f"the data {value} does not exist. Give a repository path, an azureml:// URI or azureml:name:version.")
        return self._upload_data(path, kind)

    def _upload_data(self, path: Path, kind: str) -> str:
        """Repository data becomes a data asset once per content: ``retrain-<file stem>`` at version <hash>."""
        digest = hashlib.sha256()
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for f in files:
            digest.update(f.relative_to(path.parent).as_posix().encode() + b"\0" + f.read_bytes())
        version = digest.hexdigest()[:16]
        name = "retrain-" + re.sub(r"[^a-zA-Z0-9_-]", "-", path.stem)[:200]
        if self.arm.get(f"/data/{name}/versions/{version}", missing_ok=True, what=f"look up data {name}") is None:
            pending = self.arm.post(f"/data/{name}/versions/{version}/startPendingUpload",
                                    {"pendingUploadType": "TemporaryBlobReference"}, what=f"start the upload of {path.name}")
            blob = pending["blobReferenceForConsumption"]
            upload_folder(self.arm.session, path, blob["blobUri"], blob["credential"]["sasUri"])
            uri = f"{blob['blobUri']}/{path.name}" if path.is_file() else blob["blobUri"]
            self.arm.put(f"/data/{name}/versions/{version}",
                         {"properties": {"dataType": kind, "dataUri": uri, "isAnonymous": False,
                                         "description": f"{path.name} from the repository", "tags": {TAG_HASH: version}}},
                         what=f"register data {name}")
        return f"azureml:{name}:{version}"

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
        body = self.arm.get(f"/jobs/{run_id}", what=f"read run {run_id}")
        assert body is not None
        run = self._run(body)
        steps, metrics = self._details(run)
        return replace(run, steps=steps or run.steps, metrics=metrics or run.metrics)

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
        listing = self.arm.get("/jobs", params=params, what="list runs") or {}
        runs = [self._run(j) for j in listing.get("value", [])]
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
