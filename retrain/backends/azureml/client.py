"""Azure Resource Manager calls for one Azure ML workspace: paths, long-running operations, and Azure's
error bodies turned into messages that say what to do.

api-version 2025-12-01, the newest stable Microsoft.MachineLearningServices version in
Azure/azure-rest-api-specs (specification/machinelearningservices/resource-manager/
Microsoft.MachineLearningServices/stable/2025-12-01/mfe.json).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from ...azure_auth import AzureAuth
from ...errors import BackendError, CredentialError, NotFound
from ...http import Session

API_VERSION = "2025-12-01"
LRO_DONE = {"succeeded", "failed", "canceled", "cancelled"}
# Roles that carry the actions retrain uses (components, endpoints, deployments, jobs, code/data assets).
ROLE_HINT = "Give the identity the 'AzureML Data Scientist' role on the workspace (or Contributor on its resource group)."


class ArmClient:
    def __init__(self, arm_endpoint: str, subscription_id: str, resource_group: str, workspace: str,
                 session: Session, auth: AzureAuth, *, sleep: Callable[[float], None] = time.sleep,
                 lro_timeout_s: float = 1800.0) -> None:
        self.base = arm_endpoint.rstrip("/")
        self.workspace_id = (f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
                             f"/providers/Microsoft.MachineLearningServices/workspaces/{workspace}")
        self.workspace = workspace
        self.resource_group = resource_group
        self.session = session
        self.auth = auth
        self.sleep = sleep
        self.lro_timeout_s = lro_timeout_s
        self._api: str | None = None

    def service_api(self) -> str:
        """The workspace's own services host (pipelines, run history, MLflow), from its discovery document."""
        if self._api is None:
            ws = self.get("", what=f"read workspace {self.workspace}")
            discovery = (ws or {}).get("properties", {}).get("discoveryUrl")
            if not discovery:
                raise BackendError(f"workspace {self.workspace} has no discovery URL; is it an Azure ML workspace?")
            try:
                answer = self.session.get(discovery)  # the discovery document needs no token
            except requests.RequestException as e:
                raise BackendError(f"could not read the workspace's discovery document ({type(e).__name__}).") from None
            if answer.status_code != 200 or "api" not in answer.json():
                raise BackendError(f"the workspace's discovery document at {discovery} has no 'api' entry.")
            self._api = str(answer.json()["api"]).rstrip("/")
        return self._api

    def url(self, path: str) -> str:
        return f"{self.base}{self.workspace_id}{path}"

    def request(self, method: str, path: str, *, json: Mapping[str, Any] | None = None,
                params: Mapping[str, str] | None = None, what: str = "", missing_ok: bool = False) -> requests.Response | None:
        url = path if path.startswith("http") else self.url(path)
        query = {"api-version": API_VERSION, **(params or {})} if not path.startswith("http") else None
        response = self._send(method, url, json=json, params=query)
        if response.status_code == 401:
            # A token Azure no longer accepts (revoked, clock skew): one retry with a fresh one.
            self.auth.provider.forget_tokens()
            response = self._send(method, url, json=json, params=query)
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise self.error(response, what or f"{method} {path}")
        return response

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, auth=self.auth, **kwargs)
        except requests.RequestException as e:
            raise BackendError(f"could not reach Azure Resource Manager at {self.base} ({type(e).__name__}) after retries. "
                               "Check the network, or RETRAIN_ARM_ENDPOINT for a sovereign cloud.") from None

    def get(self, path: str, *, what: str = "", params: Mapping[str, str] | None = None, missing_ok: bool = False) -> dict[str, Any] | None:
        response = self.request("GET", path, params=params, what=what, missing_ok=missing_ok)
        return None if response is None else response.json()

    def put(self, path: str, body: Mapping[str, Any], *, what: str = "") -> dict[str, Any]:
        response = self.request("PUT", path, json=body, what=what)
        assert response is not None
        self.wait(response, what or f"PUT {path}")
        if response.status_code in (201, 202) and response.headers.get("Azure-AsyncOperation"):
            # final-state-via original-uri: read the resource once the operation is done
            got = self.get(path, what=what)
            assert got is not None
            return got
        return response.json() if response.content else {}

    def post(self, path: str, body: Mapping[str, Any] | None = None, *, what: str = "", wait: bool = False) -> dict[str, Any]:
        response = self.request("POST", path, json=body or {}, what=what)
        assert response is not None
        if wait:
            self.wait(response, what or f"POST {path}")
        return response.json() if response.content and response.headers.get("Content-Type", "").startswith("application/json") else {}

    def wait(self, response: requests.Response, what: str) -> None:
        """Follow a long-running operation: Azure-AsyncOperation (status body) or Location (202 until done)."""
        async_url = response.headers.get("Azure-AsyncOperation")
        location = response.headers.get("Location")
        if response.status_code not in (201, 202) or not (async_url or location):
            return
        give_up = time.monotonic() + self.lro_timeout_s
        url = async_url or location
        assert url is not None
        delay = _retry_after(response)
        while time.monotonic() < give_up:
            self.sleep(delay)
            poll = self.request("GET", url, what=what)
            assert poll is not None
            delay = _retry_after(poll)
            if async_url:
                body = poll.json()
                status = str(body.get("status", "")).lower()
                if status in LRO_DONE:
                    if status != "succeeded":
                        error = body.get("error") or {}
                        raise BackendError(f"{what} ended {status}: {error.get('code', '')} {error.get('message', '')}".strip())
                    return
            elif poll.status_code != 202:
                return
        raise BackendError(f"{what} did not finish within {int(self.lro_timeout_s)} s; it may still complete in Azure.")

    def error(self, response: requests.Response, what: str) -> Exception:
        try:
            error = response.json().get("error") or {}
        except ValueError:
            error = {}
        code, message = error.get("code", ""), error.get("message", "") or response.reason
        detail = f"{code}: {message}" if code else message
        status = response.status_code
        if status == 401:
            return CredentialError(f"Azure rejected the token for {what} ({detail}). Check the tenant and client ids and the credential.")
        if status == 403:
            return CredentialError(f"the identity may not {what} in workspace {self.workspace} ({detail}). {ROLE_HINT}")
        if status == 404:
            return NotFound(f"{what}: not found in workspace {self.workspace} of resource group {self.resource_group} ({detail}). "
                            "Check subscription_id, resource_group and workspace in the parameter file.")
        if status == 429:
            return BackendError(f"Azure kept throttling {what} ({detail}); retried with backoff and gave up. Try again later.")
        return BackendError(f"Azure answered {status} to {what} ({detail}).")


def _retry_after(response: requests.Response, default: float = 5.0) -> float:
    """Seconds to wait before the next poll: Azure's Retry-After, kept within 0..60 s."""
    try:
        return min(max(float(response.headers.get("Retry-After", default)), 0.0), 60.0)
    except ValueError:
        return default
