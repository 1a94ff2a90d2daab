"""What a pipeline's steps need registered or uploaded in the workspace, as azure-ai-ml does it: code (by content
hash), repository data (to the default datastore, then a data version), Docker build contexts, each step's
component (content-addressed) and anonymous environments; registered components and data resolved to ARM ids."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import BackendError, NotFound, UsageError
from ...pipeline.model import Pipeline
from ...pipeline.types import is_uri
from .datastore import default_datastore
from .environments import object_hash
from .names import TAG_HASH, component_name
from .translate import translate_jobs
from .upload import BlobWriter, files_of, upload_folder
from .wire import Assets, pipeline_yaml
from .workspace import Workspace

HASH_VERSION = "202208"  # the hashVersion azure-ai-ml sends with a code hash; retrain's hash is its own sha256


class WorkspaceAssets(Workspace):
    """Registers and uploads what steps name; endpoints.py builds on it."""

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
