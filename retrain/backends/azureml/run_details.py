"""A run's steps and metrics, from the workspace's MLflow tracking server, where Azure ML records every job: the
pipeline job is an MLflow run, each step a child run tagged with its parent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ...errors import BackendError, CredentialError, NotFound
from ..base import Run, StepResult, StepStatus
from .workspace import Workspace

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



class RunDetails(Workspace):
    """Reads a run's steps and metrics (runs.py uses it)."""

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
