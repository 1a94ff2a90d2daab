"""Pipeline endpoints published from Azure ML's v1 designer: the seed's own scenario, submit only.

The pipelines service ("{api}/pipelines/v1.0/<workspace>") is found through the workspace's discovery
URL. An endpoint has versions "0", "1", ... (each a published pipeline) and a default; a run is a POST
of ``ParameterAssignments`` (string values) and ``DataPathAssignments`` to the endpoint, for a chosen
version. Publishing a v1 pipeline needs its graph, which only the retired SDK v1 builds: retrain does
not publish here (use ``kind: azureml``).

That POST starts work and has no idempotent name, so before it retrain looks for a run of the same
experiment tagged with the same key (run history ``runs:query``) and returns that one instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from ..errors import BackendError, NotFound, UsageError
from ..pipeline.model import Pipeline
from ..pipeline.types import unknown_parameter_hint
from .azureml.client import ArmClient
from .base import Endpoint, PublishResult, Run, RunStatus, StepResult, StepStatus, SubmitRequest, Version, pin_to_number

RUN_STATUS = {"NotStarted": RunStatus.QUEUED, "Queued": RunStatus.QUEUED, "Running": RunStatus.RUNNING,
              "Unknown": RunStatus.RUNNING, "Failed": RunStatus.FAILED, "Finished": RunStatus.COMPLETED,
              "Canceled": RunStatus.CANCELED}
# The service may answer the enum's number instead of its name.
RUN_CODES = ["NotStarted", "Running", "Failed", "Finished", "Canceled"]
STEP_STATUS = {"NotStarted": StepStatus.QUEUED, "Queued": StepStatus.QUEUED, "Running": StepStatus.RUNNING,
               "Failed": StepStatus.FAILED, "Finished": StepStatus.COMPLETED, "Canceled": StepStatus.CANCELED,
               "PartiallyExecuted": StepStatus.FAILED, "Bypassed": StepStatus.REUSED}
STEP_CODES = ["NotStarted", "Queued", "Running", "Failed", "Finished", "Canceled", "PartiallyExecuted", "Bypassed"]


def _code(value: object, names: list[str]) -> str:
    text = str(value)
    return names[int(text)] if text.isdigit() and int(text) < len(names) else text


def _time(text: object) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(timezone.utc)


class AzureMLV1Backend:
    kind = "azureml-v1"

    def __init__(self, client: ArmClient, *, tenant_id: str, poll_interval: float = 15.0) -> None:
        self.arm = client
        self.tenant_id = tenant_id
        self.poll_interval = poll_interval

    # -- plumbing ---------------------------------------------------------------------------------

    def _url(self, path: str, service: str = "pipelines") -> str:
        return f"{self.arm.service_api()}/{service}/v1.0{self.arm.workspace_id}{path}"

    def _call(self, method: str, path: str, *, what: str, service: str = "pipelines", json: Any = None,
              params: Mapping[str, str] | None = None, missing_ok: bool = False) -> Any:
        url = self._url(path, service)
        if params:
            url += ("&" if "?" in url else "?") + "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
        response = self.arm.request(method, url, json=json, what=what, missing_ok=missing_ok)
        if response is None or not response.content:
            return None
        return response.json()

    def studio_url(self, run_id: str) -> str:
        ws = self.arm.workspace_id.replace("/resourceGroups/", "/resourcegroups/").replace(
            "/providers/Microsoft.MachineLearningServices/workspaces/", "/workspaces/")
        return f"https://ml.azure.com/runs/{run_id}?wsid={ws}&tid={self.tenant_id}"

    # -- endpoints --------------------------------------------------------------------------------

    def publish(self, pipeline: Pipeline, *, endpoint: str, make_default: bool, source_commit: str | None) -> PublishResult:
        raise UsageError(
            "publishing to a v1 pipeline endpoint needs the retired Azure ML SDK v1, which builds the designer's graph; "
            "retrain does not publish there. Publish from the designer and let retrain submit (publish_on: []), "
            "or move to kind: azureml, where retrain publishes to batch endpoints (docs/azure.md)."
        )

    def _entity(self, name: str) -> dict[str, Any]:
        if len(name) == 36 and name.count("-") == 4:  # an endpoint id (a GUID) rather than a name
            entity = self._call("GET", f"/PipelineEndpoints/Id/{name}", what=f"read pipeline endpoint {name}", missing_ok=True)
        else:
            entity = self._call("GET", "/PipelineEndpoints/Name", params={"Name": name}, what=f"read pipeline endpoint {name}", missing_ok=True)
        if not entity:
            raise NotFound(f"no pipeline endpoint '{name}' in workspace {self.arm.workspace}. Check the name or id in the studio's "
                           "Endpoints > Pipeline endpoints page.")
        return dict(entity)

    def endpoint(self, name: str) -> Endpoint:
        entity = self._entity(name)
        default = str(entity.get("DefaultVersion", ""))
        versions = tuple(sorted(
            (Version(endpoint=name, number=int(v["Version"]), content_hash=f"pipeline:{v['PipelineId']}",
                     created=_time(entity.get("CreatedDate")) or datetime.now(timezone.utc),
                     is_default=str(v["Version"]) == default, url=entity.get("Url"))
             for v in entity.get("PipelineVersionList", []) if str(v.get("Version", "")).isdigit()),
            key=lambda v: v.number))
        return Endpoint(name=name, default_version=int(default) if default.isdigit() else None, versions=versions, url=entity.get("Url"))

    def endpoints(self) -> list[Endpoint]:
        listing = self._call("GET", "/PipelineEndpoints", params={"activeOnly": "true"}, what="list pipeline endpoints") or []
        return [self.endpoint(str(e["Name"])) for e in listing]

    # -- runs -------------------------------------------------------------------------------------

    def find_run(self, key: str) -> Run | None:
        return None  # needs the experiment; submit() looks the key up before it posts anything

    def _earlier(self, experiment: str, key: str) -> str | None:
        # Run history's runs:query as the v1 SDK sends it (azureml-core's RunOperations.get_by_query): no query
        # parameters (the version is the path's v1.0) and the body's QueryParamsDto keys, among them "orderby".
        found = self._call("POST", f"/experiments/{quote(experiment, safe='')}/runs:query", service="history",
                           what="look for an earlier run",
                           json={"filter": f'(Tags/retrain.key eq "{key}")', "top": 1, "orderby": "CreatedUtc desc"},
                           missing_ok=True) or {}
        runs = found.get("value") or []
        return str(runs[0]["runId"]) if runs else None

    def submit(self, request: SubmitRequest) -> Run:
        entity = self._entity(request.endpoint)
        number = pin_to_number(self.endpoint(request.endpoint), request.version)
        earlier = self._earlier(request.experiment, request.key)
        if earlier is not None:
            return self.run(earlier)
        pipeline_id = next((v.get("PipelineId") for v in entity.get("PipelineVersionList") or [] if str(v.get("Version")) == str(number)), None)
        if not pipeline_id:
            raise BackendError(f"version {number} of pipeline endpoint '{request.endpoint}' names no published pipeline; "
                               "check the endpoint's versions in the studio.")
        published = self._call("GET", f"/Pipelines/{pipeline_id}", what=f"read version {number} of {request.endpoint}") or {}
        # As azureml-pipeline-core: a published pipeline's parameters and data-path parameters are in its graph's interface.
        interface = self._call("GET", f"/Graphs/{published.get('GraphId')}/Interface",
                               what=f"read the parameters of version {number} of {request.endpoint}") or {}
        declared = {str(p.get("Name")): p.get("DefaultValue") for p in interface.get("Parameters") or []}
        datapaths = {str(p.get("Name")): p.get("DefaultValue") for p in interface.get("DataPathParameters") or []}
        parameters: dict[str, str] = {}
        data: dict[str, dict[str, str]] = {}
        for name, value in request.parameters.items():
            if name in datapaths:
                data[name] = self._datapath(name, str(value))
            elif name in declared:
                parameters[name] = str(value)  # the service takes every parameter value as a string
            else:
                raise UsageError(f"version {number} of pipeline endpoint '{request.endpoint}' has no parameter '{name}'. "
                                 f"{unknown_parameter_hint(name, {**declared, **datapaths})}")
        # As the SDK's PipelineEndpoint.submit: the experiment, the parameters as strings and the data paths; no more.
        body = {"ExperimentName": request.experiment, "Description": f"retrain {request.pipeline}", "RunSource": "SDK",
                "RunType": "SDK", "ParameterAssignments": parameters, "DataPathAssignments": data,
                "tags": {**request.tags, "retrain.key": request.key, "retrain.pipeline": request.pipeline,
                         "retrain.endpoint": request.endpoint, "retrain.version": str(number)},
                "Properties": {}}
        created = self._call("POST", f"/PipelineRuns/PipelineEndpointSubmit/Id/{entity['Id']}/{number}",
                             params={"pipelineVersion": str(number)}, json=body, what=f"submit to {request.endpoint} version {number}")
        run = self._run(created, request.endpoint)
        if str(created.get("PipelineId")) != str(pipeline_id):
            raise BackendError(f"Azure ML ran pipeline {created.get('PipelineId')}, not version {number} ({pipeline_id}) "
                               f"of '{request.endpoint}'; check the endpoint's versions.")
        return run

    def _datapath(self, name: str, value: str) -> dict[str, str]:
        prefix = "azureml://datastores/"
        if not value.startswith(prefix) or "/paths/" not in value:
            raise UsageError(f"'{name}' is a data path of the v1 pipeline; give it as azureml://datastores/NAME/paths/PATH.")
        store, _, path = value[len(prefix):].partition("/paths/")
        return {"DataStoreName": store, "RelativePath": path}

    def _run(self, entity: Mapping[str, Any], endpoint: str | None = None) -> Run:
        status_code = _code((entity.get("Status") or {}).get("StatusCode", "NotStarted"), RUN_CODES)
        status = RUN_STATUS.get(status_code, RunStatus.RUNNING)
        tags = dict(entity.get("tags") or {})
        run_id = str(entity["Id"])
        steps: tuple[StepResult, ...] = ()
        if status is not RunStatus.QUEUED:
            nodes = self._call("POST", f"/PipelineRuns/{run_id}/Graph/AllNodes/Status", json=[], what="read step statuses") or {}
            steps = tuple(StepResult(name=str(node), status=STEP_STATUS.get(_code(s.get("StatusCode"), STEP_CODES), StepStatus.RUNNING),
                                     started=_time(s.get("StartTime")), ended=_time(s.get("EndTime")))
                          for node, s in nodes.items())
        status_block = entity.get("Status") or {}
        return Run(
            id=run_id, pipeline=tags.get("retrain.pipeline", ""), endpoint=tags.get("retrain.endpoint", endpoint or ""),
            version=int(tags.get("retrain.version", "0")), status=status,
            parameters=dict(entity.get("ParameterAssignments") or {}), key=tags.get("retrain.key", run_id),
            created=_time(status_block.get("CreationTime")) or _time(entity.get("CreatedDate")) or datetime.now(timezone.utc),
            started=_time(status_block.get("CreationTime")), ended=_time(status_block.get("EndTime")), steps=steps,
            url=self.studio_url(run_id), message=str(status_block.get("StatusDetail") or "") if status is not RunStatus.COMPLETED else "",
            tags=tags, experiment=str(entity.get("RunHistoryExperimentName") or ""),
        )

    def run(self, run_id: str) -> Run:
        entity = self._call("GET", f"/PipelineRuns/{run_id}", what=f"read run {run_id}")
        if not entity:
            raise BackendError(f"the pipelines service gave no run {run_id}; try again.")
        return self._run(entity)

    def runs(self, *, pipeline: str | None = None, status: RunStatus | None = None, limit: int = 20) -> list[Run]:
        return []  # run history is listed per experiment; the studio lists them all

    def cancel(self, run_id: str) -> Run:
        run = self.run(run_id)
        if not run.status.is_terminal:
            self._call("DELETE", f"/PipelineRuns/{run_id}/Execution", what=f"cancel run {run_id}")
        return self.run(run_id)

    def logs(self, run_id: str, step: str, offset: int = 0) -> tuple[str, int]:
        return "", offset
