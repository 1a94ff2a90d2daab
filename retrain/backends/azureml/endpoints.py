"""A retrain endpoint as a batch endpoint: its versions (pipeline component versions deployed as ``v<N>``), publishing
a new one (an unchanged pipeline is not published twice), the default deployment and the moves recorded in the
endpoint's tags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from ...errors import BackendError, NotFound
from ...pipeline.model import Pipeline
from ..base import DefaultMove, Endpoint, PublishResult, Version, pin_to_number
from .assets import WorkspaceAssets
from .client import LAG_DELAYS_S
from .components import port_spec
from .moves import moves_of, with_move
from .names import DEPLOYMENT, TAG_COMMIT, TAG_HASH, TAG_VERSION, component_name
from .workspace import timestamp

# The pipeline settings a deployment keeps for its version (azure-ai-ml's PipelineJobSettings that a run uses).
DEPLOYMENT_SETTINGS = ("default_compute", "default_datastore", "continue_on_step_failure", "force_rerun")


def version_number(deployment: Mapping[str, Any]) -> int | None:
    """The version a deployment is: ``v<N>``, made by retrain (its content tag), and up (not failed or canceled);
    None for any other (deployments retrain did not make are left alone; one that never came up is no version: the
    next publish deploys again)."""
    match = DEPLOYMENT.fullmatch(str(deployment.get("name", "")))
    if not match or TAG_HASH not in (deployment.get("tags") or {}):
        return None
    if (deployment.get("properties") or {}).get("provisioningState") in ("Failed", "Canceled"):
        return None
    return int(match.group(1))


class Endpoints(WorkspaceAssets):
    """Publishes versions and moves defaults; runs.py builds on it."""

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

    def set_default(self, endpoint: str, number: int, move: DefaultMove | None = None) -> None:
        """Make deployment v<number> the batch endpoint's default (a passed gate, ``retrain promote`` or
        ``rollback``), recording ``move`` in the endpoint's tags in the same request."""
        if self.endpoint(endpoint).version(number) is None:
            raise NotFound(f"batch endpoint '{endpoint}' has no version {number}.")
        self._set_default(endpoint, number, move)

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
            number = version_number(dep)
            if number is None:
                continue
            tags = dep["tags"]
            versions.append(Version(
                endpoint=name, number=number, content_hash=tags[TAG_HASH],
                created=timestamp((dep.get("systemData") or {}).get("createdAt")) or datetime.now(timezone.utc),
                is_default=dep.get("name") == default, source_commit=tags.get(TAG_COMMIT),
                url=(body.get("properties") or {}).get("scoringUri")))
        versions.sort(key=lambda v: v.number)
        match = DEPLOYMENT.fullmatch(default or "")
        return Endpoint(name=name, default_version=int(match.group(1)) if match else None, versions=tuple(versions),
                        url=(body.get("properties") or {}).get("scoringUri"),
                        backend_name=f"batch endpoint {name}, pipeline component {component_name(name)}")

    def endpoints(self) -> list[Endpoint]:
        return [self._endpoint(str(e["name"]), e) for e in self.arm.list("/batchEndpoints", what="list batch endpoints")]

    def version_deployment(self, name: str, number: int) -> dict[str, Any]:
        """The deployment of version ``number`` of endpoint ``name``: one request, where the endpoint's versions
        are two; NotFound, listing the versions the endpoint has, when it is not one."""
        dep = self.arm.get(f"/batchEndpoints/{name}/deployments/v{number}", missing_ok=True,
                           what=f"read version {number} of {name}")
        if dep is None or version_number(dep) != number:
            pin_to_number(self.endpoint(name), number)  # says which versions there are
            raise NotFound(f"batch endpoint '{name}' has no version {number}.")
        return dep

    def endpoint(self, name: str) -> Endpoint:
        found = self._endpoint_or_none(name)
        if found is None:
            raise NotFound(f"no batch endpoint '{name}' in workspace {self.arm.workspace}. Publish it first: retrain publish.")
        return found
