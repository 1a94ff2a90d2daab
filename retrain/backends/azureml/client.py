"""Azure Resource Manager calls for one Azure ML workspace: paths, long-running operations, and Azure's
error bodies turned into messages that say what to do.

api-version 2025-12-01, the newest stable Microsoft.MachineLearningServices version in
Azure/azure-rest-api-specs (specification/machinelearningservices/resource-manager/
Microsoft.MachineLearningServices/stable/2025-12-01/mfe.json).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from .auth import AzureAuth
from ...errors import BackendError, CredentialError, NotFound
from ...http import Session

API_VERSION = "2025-12-01"
LRO_DONE = {"succeeded", "failed", "canceled", "cancelled"}
MAX_PAGES = 500  # a list longer than this many pages is a service loop, not a workspace
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Reads lag writes: a resource this client has just PUT may be answered 404 for a few seconds.
LAG_WINDOW_S = 120.0
LAG_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0)
POST_ATTEMPTS = 5
ML_SCOPE = "https://ml.azure.com/.default"  # Azure ML's own audience: x-azureml-token on pipeline job submits
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
        self.subscription_id = subscription_id
        self.session = session
        self.auth = auth
        self.sleep = sleep
        self.lro_timeout_s = lro_timeout_s
        self._api: str | None = None
        self._written: dict[str, float] = {}  # path -> when this client last PUT it

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
                params: Mapping[str, str] | None = None, what: str = "", missing_ok: bool = False,
                headers: Mapping[str, str] | None = None, retry: bool = False) -> requests.Response | None:
        url = path if path.startswith("http") else self.url(path)
        query = {"api-version": API_VERSION, **(params or {})} if not path.startswith("http") else None
        response = self._send(method, url, json=json, params=query, headers=headers, retry=retry)
        if response.status_code == 401:
            # A token Azure no longer accepts (revoked, clock skew): one retry with a fresh one.
            self.auth.provider.forget_tokens()
            response = self._send(method, url, json=json, params=query, headers=self._fresh(headers), retry=retry)
        if response.status_code == 404 and method == "GET" and self._just_written(path):
            for delay in LAG_DELAYS_S:  # our own write is not visible yet: read again for a short while
                self.sleep(delay)
                response = self._send(method, url, json=json, params=query)
                if response.status_code != 404:
                    break
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise self.error(response, what or f"{method} {path}")
        return response

    def token(self, scope: str) -> str:
        """A bearer token for another audience of the same identity (ml.azure.com, storage)."""
        return self.auth.provider.token(scope)

    def _fresh(self, headers: Mapping[str, str] | None) -> Mapping[str, str] | None:
        # A second token a request carries (x-azureml-token) is renewed with the first one.
        if headers and "x-azureml-token" in headers:
            return {**headers, "x-azureml-token": self.token(ML_SCOPE)}
        return headers

    def _just_written(self, path: str) -> bool:
        written = self._written.get(path)
        return written is not None and time.monotonic() - written < LAG_WINDOW_S

    def _send(self, method: str, url: str, *, retry: bool = False, **kwargs: Any) -> requests.Response:
        """One request; with ``retry`` (a POST that starts no work) 408/429/5xx and dropped connections are retried,
        as the session retries reads and PUTs."""
        attempts = POST_ATTEMPTS if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                response = self.session.request(method, url, auth=self.auth, **kwargs)
            except requests.RequestException as e:
                if attempt < attempts:
                    self.sleep(min(2.0 ** attempt, 30.0))
                    continue
                raise BackendError(f"could not reach Azure Resource Manager at {self.base} ({type(e).__name__}) after retries. "
                                   "Check the network, or RETRAIN_ARM_ENDPOINT for a sovereign cloud.") from None
            if response.status_code in RETRY_STATUSES and attempt < attempts:
                self.sleep(_retry_after(response, min(2.0 ** attempt, 30.0)))
                continue
            return response
        raise BackendError(f"no answer from Azure Resource Manager at {self.base}; try again.")  # not reached: the loop returns

    def get(self, path: str, *, what: str = "", params: Mapping[str, str] | None = None, missing_ok: bool = False) -> dict[str, Any] | None:
        response = self.request("GET", path, params=params, what=what, missing_ok=missing_ok)
        return None if response is None else response.json()

    def read(self, path: str, *, what: str = "", params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET a resource that must exist (a 404 is raised as :class:`NotFound`)."""
        response = self._must(self.request("GET", path, params=params, what=what), what)
        return dict(response.json())

    def list(self, path: str, *, what: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Every item of a pageable list: ``value`` of each page, following ``nextLink`` to the end."""
        return list(self.pages(path, what=what, params=params))

    def pages(self, path: str, *, what: str, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        url: str | None = None
        for page in range(1, MAX_PAGES + 1):
            try:
                response = self._must(self.request("GET", url or path, params=None if url else params, what=what), what)
                body = response.json()
            except ValueError:
                raise BackendError(f"page {page} of {what} was not JSON; try again.") from None
            except (BackendError, NotFound) as e:
                if page == 1:
                    raise
                raise BackendError(f"could not read page {page} of {what}: {e}") from None
            if not isinstance(body, dict) or not isinstance(body.get("value", []), list):
                raise BackendError(f"page {page} of {what} is not an Azure list (no 'value' array); try again.")
            yield from body.get("value", [])
            next_link = body.get("nextLink")
            if not next_link:
                return
            url = self._with_api_version(str(next_link))
        raise BackendError(f"{what} went on for more than {MAX_PAGES} pages; Azure kept sending a nextLink. Try again later.")

    def _with_api_version(self, link: str) -> str:
        """A nextLink as the SDK follows it: its own query, with this client's api-version."""
        parts = urlsplit(link)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "api-version"]
        return urlunsplit(parts._replace(query=urlencode([*query, ("api-version", API_VERSION)])))

    @staticmethod
    def _must(response: requests.Response | None, what: str) -> requests.Response:
        if response is None:  # only a missing_ok request answers None; these are not
            raise BackendError(f"Azure gave no answer to {what}; try again.")
        return response

    def put(self, path: str, body: Mapping[str, Any], *, what: str = "", headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        response = self._must(self.request("PUT", path, json=body, what=what, headers=headers), what)
        self._written[path] = time.monotonic()
        self.wait(response, what or f"PUT {path}")
        if response.status_code in (201, 202) and response.headers.get("Azure-AsyncOperation"):
            # final-state-via original-uri: read the resource once the operation is done
            return self.read(path, what=what)
        return response.json() if response.content else {}

    def post(self, path: str, body: Mapping[str, Any] | None = None, *, what: str = "", wait: bool = False,
             starts_work: bool = True) -> dict[str, Any]:
        """POST; one that starts no work (listSecrets, startPendingUpload) is retried like a read."""
        response = self._must(self.request("POST", path, json=body or {}, what=what, retry=not starts_work), what)
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
        url = str(async_url or location)
        delay = _retry_after(response)
        while time.monotonic() < give_up:
            self.sleep(delay)
            poll = self._must(self.request("GET", url, what=what), what)
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
            body = response.json()
        except ValueError:
            body = {}
        # ARM answers {"error": {"code", "message"}}; the v1 pipelines service {"Error": {"Code", "Message"}}.
        error = (body.get("error") or body.get("Error") or {}) if isinstance(body, dict) else {}
        error = {str(k).lower(): v for k, v in error.items()} if isinstance(error, dict) else {}
        code, message = str(error.get("code") or ""), str(error.get("message") or "") or response.reason
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
