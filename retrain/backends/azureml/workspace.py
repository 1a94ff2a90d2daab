"""What every part of the Azure ML backend shares: the workspace client and settings, the workspace's location,
ids of what it holds, and times as the service writes them."""

from __future__ import annotations

from datetime import datetime, timezone

from .client import ArmClient


def timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


class Workspace:
    """The backend's state (set by :class:`~retrain.backends.azureml.backend.AzureMLBackend`) and the ids every part
    of it names; assets.py, endpoints.py, runs.py and run_details.py are classes over this one."""

    arm: ArmClient
    compute: str | None
    poll_interval: float
    storage_endpoint: str | None  # blob service URL override (tests, sovereign or private clouds)
    block_size: int
    _location: str | None
    _experiments: dict[str, str]  # run -> its MLflow experiment id, asked once
    _code_ids: dict[str, str]  # code content hash -> its code version's id, registered by this backend

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

    def _arm_compute(self, name: str) -> str:
        """A compute as azure-ai-ml sends it: by ARM id (``azureml:cpu-cluster`` and ``cpu-cluster`` alike); a
        binding (``${{parent.inputs.x}}``) as written."""
        name = name.removeprefix("azureml:")
        return name if name.startswith(("/", "${{")) else f"{self.arm.workspace_id}/computes/{name}"

    def _arm_datastore(self, name: str) -> str:
        name = name.removeprefix("azureml:")
        return name if name.startswith("/") else f"{self.arm.workspace_id}/datastores/{name}"
