"""Runs as Azure ML pipeline jobs: a retrain run submitted on a pinned version (named by its idempotency key, so a
repeated submit finds the first), a pull request's draft run of its own graph, status, listing, cancel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from ...errors import BackendError, CredentialError, NotFound, UsageError
from ...pipeline.model import InputType, Pipeline
from ...pipeline.types import format_literal, unknown_parameter_hint
from ..base import Run, RunStatus, StepResult, StepStatus, SubmitRequest, pin_to_number
from .client import ML_SCOPE
from .endpoints import Endpoints
from .names import TAG_VERSION
from .run_details import RunDetails
from .translate import pipeline_outputs, pipeline_settings
from .wire import MODES, pipeline_yaml
from .workspace import timestamp

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


class Runs(Endpoints, RunDetails):
    """Submits and follows runs; the backend's face (backend.py) is this class with its constructor."""

    def _job_name(self, key: str) -> str:
        return key  # rt-<hex>: valid as an ARM job name, and the same key gives the same name

    def find_run(self, key: str) -> Run | None:
        body = self.arm.get(f"/jobs/{self._job_name(key)}", missing_ok=True, what="look up the run")
        return None if body is None else self._run(body)

    def submit(self, request: SubmitRequest) -> Run:
        earlier = self.find_run(request.key)
        if earlier is not None:
            return earlier
        # A pinned number (what the flow resolves every pin to) is read straight from its deployment, which says
        # which component version it runs (component names follow the SDK's rule); a word needs the endpoint.
        number = request.version if isinstance(request.version, int) else \
            pin_to_number(self.endpoint(request.endpoint), request.version)
        deployment = self.version_deployment(request.endpoint, number)
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
        ended = timestamp(system.get("lastModifiedAt")) if status.is_terminal else None
        return Run(
            id=str(body.get("name")), pipeline=tags.get("retrain.pipeline", ""), endpoint=tags.get("retrain.endpoint", ""),
            version=version, status=status, parameters=parameters, key=tags.get("retrain.key", str(body.get("name"))),
            created=timestamp(system.get("createdAt")) or datetime.now(timezone.utc), started=timestamp(system.get("createdAt")),
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
