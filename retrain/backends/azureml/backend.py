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

from .client import ArmClient
from .runs import Runs
from .upload import BLOCK_SIZE


class AzureMLBackend(Runs):
    """The backend the factory builds. Its parts, each a class this one inherits: runs.py (submit, status, cancel),
    run_details.py (steps and metrics), endpoints.py (publish, versions, defaults), assets.py (what steps register
    and upload), workspace.py (the state below)."""

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
