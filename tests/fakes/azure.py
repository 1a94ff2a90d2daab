"""A fake Azure on 127.0.0.1 over TLS (a trustme test CA): an Azure AD authority for msal, the Resource
Manager API of one Azure ML workspace (api-version 2025-12-01), and blob storage for uploads.

What it serves and checks follows the official descriptions: Azure AD's v2.0 OpenID configuration and
token endpoint (client credentials with a secret or a client assertion); from Azure/azure-rest-api-specs
stable/2025-12-01/mfe.json the shapes the client must send (ComponentVersion, CodeVersion, DataVersion,
BatchEndpoint, BatchDeployment with a PipelineComponent configuration, PipelineJob), the status codes
(PUT 200/201, long-running PUTs 201 + Azure-AsyncOperation, cancel 202 + Location) and ARM error bodies.
A request that breaks a rule gets 400 with an ARM error and is recorded in ``violations``.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import trustme

API_VERSION = "2025-12-01"
WS_PATH = re.compile(r"/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/([^/]+)(.*)")
NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}")
JOB_INPUT_TYPES = {"literal", "uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model", "triton_model"}


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int  # 0 = drop the connection without an answer
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeAzure:
    tenant: str = "72f988bf-0000-0000-0000-2d7cd011db47"
    client_id: str = "0f8a1c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
    client_secret: str = "fake-secret-value-123"
    subscription: str = "00000000-1111-2222-3333-444444444444"
    resource_group: str = "ml-rg"
    workspace: str = "ml-ws"
    location: str = "westeurope"
    token_lifetime_s: int = 3600  # what the token endpoint says (expires_in)
    arm_accepts_for_s: float | None = None  # ARM rejects tokens older than this (None = their lifetime)
    polls_to_finish: int = 2  # GETs of a job before it completes
    final_status: str = "Completed"
    oidc_request_token: str = "gh-oidc-request-token-xyz"
    faults: list[Fault] = field(default_factory=list)
    v1_endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> PipelineEndpointEntity
    v1_pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> PipelineEntity
    v1_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> issued at
    assertions: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # every status code answered, in order
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # ARM path -> resource body
    blobs: dict[str, bytes] = field(default_factory=dict)
    job_polls: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, tmp: Path) -> "FakeAzure":
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = tmp / "fake-azure-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # One write per answer and no Nagle delay: otherwise each small answer waits ~40 ms for an ACK.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    @property
    def workspace_path(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}")

    def fail(self, method: str, path: str, status: int, times: int = 1, **headers: str) -> None:
        self.faults.append(Fault(method, re.compile(path), status, times, headers))

    def count(self, method: str, pattern: str) -> int:
        return sum(1 for m, p, _, _ in self.requests if m == method and re.search(pattern, urlparse(p).path))

    # -- plumbing ---------------------------------------------------------------------------------

    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.statuses.append(status)
        h.send_response(status)
        if body is not None:
            h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("x-ms-request-id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _arm_error(self, h: BaseHTTPRequestHandler, status: int, code: str, message: str, **headers: str) -> None:
        self._reply(h, status, {"error": {"code": code, "message": message}}, headers)

    def _invalid(self, h: BaseHTTPRequestHandler, problems: list[str]) -> None:
        self.violations.extend(problems)
        self._arm_error(h, 400, "UserError", "; ".join(problems))

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append((method, h.path, dict(h.headers.items()), raw[:2000].decode(errors="replace")))
            fault = next((f for f in self.faults if f.method == method and f.path.search(url.path) and f.times > 0), None)
            if fault:
                fault.times -= 1
        if fault is not None:
            if fault.status == 0:  # a dropped connection: close without answering
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            return self._arm_error(h, fault.status, "ServiceUnavailable" if fault.status >= 500 else "TooManyRequests",
                                   "injected fault", **fault.headers)
        if url.path.startswith(f"/{self.tenant}/"):
            return self._aad(h, method, url.path, raw)
        if url.path.startswith("/oidc"):
            return self._oidc(h, url.query)
        if url.path.startswith("/blob/"):
            return self._blob(h, method, url, raw)
        if url.path == "/discovery":  # the workspace's discovery document: no token needed
            return self._reply(h, 200, {"api": self.url, "history": self.url, "studio": "https://ml.azure.com"})
        if url.path.startswith(("/pipelines/v1.0/", "/history/v1.0/")):
            return self._v1(h, method, url, raw)
        if url.path.startswith("/mlflow/v1.0/"):
            return self._mlflow(h, method, url, raw)
        return self._arm(h, method, url, raw)

    # -- Azure AD ---------------------------------------------------------------------------------

    def _aad(self, h: BaseHTTPRequestHandler, method: str, path: str, raw: bytes) -> None:
        base = f"{self.url}/{self.tenant}"
        if method == "GET" and path == f"/{self.tenant}/v2.0/.well-known/openid-configuration":
            return self._reply(h, 200, {
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize", "token_endpoint": f"{base}/oauth2/v2.0/token",
                "issuer": f"{self.url}/{self.tenant}/v2.0", "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "tenant_region_scope": "EU"})
        if method == "POST" and path == f"/{self.tenant}/oauth2/v2.0/token":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            problems = []
            if form.get("grant_type") != "client_credentials":
                problems.append(f"grant_type {form.get('grant_type')!r}")
            if not str(form.get("scope", "")).endswith("/.default"):
                problems.append(f"scope {form.get('scope')!r} is not a /.default scope")
            if form.get("client_id") != self.client_id:
                return self._reply(h, 400, {"error": "unauthorized_client", "error_description": f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not found in the directory."})
            if "client_secret" in form:
                if form["client_secret"] != self.client_secret:
                    return self._reply(h, 401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1"})
            elif form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" and form.get("client_assertion"):
                self.assertions.append(form["client_assertion"])
            else:
                problems.append("no client_secret and no client_assertion")
            if problems:
                self.violations.extend(problems)
                return self._reply(h, 400, {"error": "invalid_request", "error_description": "; ".join(problems)})
            token = f"eyJ0eXAiOiJKV1Qi.fake.{uuid.uuid4().hex}"
            with self._lock:
                self.tokens[token] = time.monotonic()
            return self._reply(h, 200, {"token_type": "Bearer", "expires_in": self.token_lifetime_s,
                                        "ext_expires_in": self.token_lifetime_s, "access_token": token})
        return self._reply(h, 404, {"error": "not_found"})

    def _oidc(self, h: BaseHTTPRequestHandler, query: str) -> None:
        params = parse_qs(query)
        if h.headers.get("Authorization") != f"Bearer {self.oidc_request_token}":
            return self._reply(h, 401, {"message": "bad request token"})
        if params.get("audience") != ["api://AzureADTokenExchange"]:
            self.violations.append(f"OIDC audience {params.get('audience')}")
        return self._reply(h, 200, {"value": f"github.oidc.{uuid.uuid4().hex}"})

    # -- blob storage -----------------------------------------------------------------------------

    def _blob(self, h: BaseHTTPRequestHandler, method: str, url: Any, raw: bytes) -> None:
        if "sig" not in parse_qs(url.query):
            return self._reply(h, 403, {"error": "AuthenticationFailed"})
        if h.headers.get("Authorization"):
            self.violations.append("a bearer token was sent to blob storage with a SAS")
        if method == "PUT":
            if h.headers.get("x-ms-blob-type") != "BlockBlob":
                self.violations.append("Put Blob without x-ms-blob-type: BlockBlob")
            self.blobs[url.path] = raw
            return self._reply(h, 201, None, {"ETag": '"0x1"'})
        return self._reply(h, 405, None)

    # -- Resource Manager -------------------------------------------------------------------------

    def _authorized(self, h: BaseHTTPRequestHandler) -> bool:
        auth = h.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        issued = self.tokens.get(token)
        if issued is None:
            self._arm_error(h, 401, "InvalidAuthenticationToken", "The access token is invalid.")
            return False
        limit = self.arm_accepts_for_s if self.arm_accepts_for_s is not None else self.token_lifetime_s
        if time.monotonic() - issued > limit:
            self._arm_error(h, 401, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.")
            return False
        return True

    def _arm(self, h: BaseHTTPRequestHandler, method: str, url: Any, raw: bytes) -> None:
        if url.path.startswith("/operations/"):
            return self._operation(h, url.path)
        if not self._authorized(h):
            return None
        query = parse_qs(url.query)
        if query.get("api-version") != [API_VERSION]:
            return self._invalid(h, [f"api-version {query.get('api-version')} (expected {API_VERSION})"])
        m = WS_PATH.fullmatch(url.path)
        if not m or (m.group(1), m.group(2), m.group(3)) != (self.subscription, self.resource_group, self.workspace):
            return self._arm_error(h, 404, "ResourceNotFound", f"The Resource '{url.path}' was not found.")
        rest = m.group(4)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._invalid(h, ["the body is not JSON"])
        if rest == "" and method == "GET":
            return self._reply(h, 200, {"id": self.workspace_path, "name": self.workspace, "location": self.location,
                                        "properties": {"discoveryUrl": f"{self.url}/discovery"}})
        if method == "GET" and rest == "/batchEndpoints":
            return self._reply(h, 200, {"value": [v for k, v in self.resources.items() if re.fullmatch(r".*/batchEndpoints/[^/]+", k)]})
        if method == "GET" and (dm := re.fullmatch(r"/batchEndpoints/([^/]+)/deployments", rest)):
            return self._reply(h, 200, {"value": [v for k, v in self.resources.items() if k.startswith(f"{self.workspace_path}/batchEndpoints/{dm.group(1)}/deployments/")]})
        if method == "GET" and rest == "/jobs":
            return self._reply(h, 200, {"value": [self._job_view(k) for k in self.resources if "/jobs/" in k]})
        if method == "GET" and (cm := re.fullmatch(r"/components/([^/]+)", rest)):
            versions = [int(k.rsplit("/", 1)[1]) for k in self.resources if k.startswith(f"{self.workspace_path}/components/{cm.group(1)}/versions/") and k.rsplit("/", 1)[1].isdigit()]
            if not versions:
                return self._arm_error(h, 404, "UserError", f"Could not find asset with name: {cm.group(1)}")
            return self._reply(h, 200, {"name": cm.group(1), "properties": {"latestVersion": str(max(versions)), "nextVersion": str(max(versions) + 1)}})
        key = f"{self.workspace_path}{rest}"
        if method == "GET":
            if "/jobs/" in rest:
                return self._get_job(h, key)
            if key in self.resources:
                return self._reply(h, 200, self.resources[key])
            return self._arm_error(h, 404, "UserError", f"Could not find {rest}")
        if method == "PUT":
            return self._put(h, rest, key, body)
        if method == "POST" and (sm := re.fullmatch(r"/(codes|data)/([^/]+)/versions/([^/]+)/startPendingUpload", rest)):
            if not isinstance(body, dict) or body.get("pendingUploadType") != "TemporaryBlobReference":
                return self._invalid(h, ["startPendingUpload needs pendingUploadType: TemporaryBlobReference"])
            container = f"{self.url}/blob/uploads-{uuid.uuid4().hex[:8]}"
            return self._reply(h, 200, {"pendingUploadId": str(uuid.uuid4()), "pendingUploadType": "TemporaryBlobReference",
                                        "blobReferenceForConsumption": {
                                            "blobUri": f"{container}/{sm.group(2)}",
                                            "storageAccountArmId": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
                                            "credential": {"credentialType": "SAS", "sasUri": f"{container}?sv=2023-11-03&sr=c&sig=FAKESIG%3D"}}})
        if method == "POST" and (jm := re.fullmatch(r"/jobs/([^/]+)/cancel", rest)):
            job = self.resources.get(f"{self.workspace_path}/jobs/{jm.group(1)}")
            if job is None:
                return self._arm_error(h, 404, "UserError", f"Job {jm.group(1)} not found")
            job["properties"]["status"] = "CancelRequested"
            job["_cancel"] = True
            return self._reply(h, 202, None, {"Location": f"{self.url}/operations/cancel-{jm.group(1)}", "Retry-After": "0"})
        return self._arm_error(h, 405, "MethodNotAllowed", f"{method} {rest}")

    def _operation(self, h: BaseHTTPRequestHandler, path: str) -> None:
        with self._lock:
            self.job_polls[path] = self.job_polls.get(path, 0) + 1
            polls = self.job_polls[path]
        if path.startswith("/operations/cancel-"):
            if polls < 2:
                return self._reply(h, 202, None, {"Location": f"{self.url}{path}", "Retry-After": "0"})
            job = self.resources.get(f"{self.workspace_path}/jobs/{path.removeprefix('/operations/cancel-')}")
            if job:
                job["properties"]["status"] = "Canceled"
            return self._reply(h, 200, None)
        status = "InProgress" if polls < 2 else "Succeeded"
        return self._reply(h, 200, {"status": status}, {"Retry-After": "0"})

    def _put(self, h: BaseHTTPRequestHandler, rest: str, key: str, body: Any) -> None:
        problems = check_put(rest, body)
        if problems:
            return self._invalid(h, problems)
        name = rest.rsplit("/", 1)[1]
        existed = key in self.resources
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        if "/jobs/" in rest:
            if existed:  # PUT on an existing job only replaces its tags, it does not start another
                self.resources[key]["properties"]["tags"] = body["properties"].get("tags", {})
                return self._reply(h, 200, self._job_view(key))
            resource = {"id": key, "name": name, "type": "Microsoft.MachineLearningServices/workspaces/jobs",
                        "properties": {**body["properties"], "status": "NotStarted",
                                       "services": {"Studio": {"endpoint": f"https://ml.azure.com/runs/{name}?wsid={self.workspace_path}"}}},
                        "systemData": {"createdAt": now, "lastModifiedAt": now}}
            self.resources[key] = resource
            return self._reply(h, 201, self._job_view(key))
        if re.fullmatch(r"/components/[^/]+/versions/[^/]+", rest) and existed:
            if self.resources[key]["properties"]["componentSpec"] != body["properties"]["componentSpec"]:
                return self._arm_error(h, 409, "UserError", "A component version with this name and version already exists and cannot be changed.")
        resource = {**body, "id": key, "name": name, "systemData": {"createdAt": now, "lastModifiedAt": now}}
        if rest.startswith("/batchEndpoints/") and "/deployments/" not in rest:
            ep = rest.split("/")[2]
            resource["properties"] = {**body["properties"], "provisioningState": "Succeeded",
                                      "scoringUri": f"https://{ep}.{self.location}.inference.ml.azure.com/jobs"}
        self.resources[key] = resource
        if rest.startswith("/batchEndpoints/"):
            # Long-running: 201 with Azure-AsyncOperation (final state via the original URI).
            return self._reply(h, 201, resource, {"Azure-AsyncOperation": f"{self.url}/operations/op-{uuid.uuid4().hex}",
                                                   "x-ms-async-operation-timeout": "PT1H", "Retry-After": "0"})
        return self._reply(h, 201 if not existed else 200, resource)

    def _job_view(self, key: str) -> dict[str, Any]:
        return {k: v for k, v in self.resources[key].items() if not k.startswith("_")}

    def _get_job(self, h: BaseHTTPRequestHandler, key: str) -> None:
        job = self.resources.get(key)
        if job is None:
            return self._arm_error(h, 404, "UserError", f"Job {key.rsplit('/', 1)[1]} not found")
        with self._lock:
            self.job_polls[key] = self.job_polls.get(key, 0) + 1
            props = job["properties"]
            if not job.get("_cancel") and props["status"] not in ("Completed", "Failed", "Canceled"):
                polls = self.job_polls[key]
                props["status"] = "Running" if polls < self.polls_to_finish else self.final_status
                job["systemData"]["lastModifiedAt"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        return self._reply(h, 200, self._job_view(key))

    # -- MLflow tracking (REST API 2.0) of the workspace: jobs as runs, steps as child runs -----------

    def _mlflow_runs(self, job_name: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        job = self.resources.get(f"{self.workspace_path}/jobs/{job_name}")
        if job is None:
            return None
        status = job["properties"]["status"]
        component = self.resources.get(job["properties"]["componentId"], {})
        steps = list(((component.get("properties") or {}).get("componentSpec") or {}).get("jobs", {}))
        parent_status = {"Completed": "FINISHED", "Failed": "FAILED", "Canceled": "KILLED"}.get(status, "RUNNING")
        parent = {"info": {"run_id": job_name, "experiment_id": "7", "status": parent_status, "start_time": 1700000000000},
                  "data": {"metrics": [{"key": "duration_s", "value": 12.5, "timestamp": 1700000009000, "step": 0}] if parent_status == "FINISHED" else [],
                           "tags": []}}
        children = []
        for i, step in enumerate(steps):
            done = parent_status != "RUNNING" or i == 0  # the first step finishes first
            child_status = ("FINISHED" if parent_status in ("FINISHED", "RUNNING") else parent_status) if done else "RUNNING"
            metrics = [{"key": "auc", "value": 0.91, "timestamp": 1700000005000 + i, "step": 0}] if i == len(steps) - 1 and child_status == "FINISHED" else []
            children.append({"info": {"run_id": f"{job_name}_{step}", "experiment_id": "7", "status": child_status,
                                      "start_time": 1700000001000 + i * 1000, "end_time": 1700000001500 + i * 1000 if child_status != "RUNNING" else None},
                             "data": {"metrics": metrics, "tags": [{"key": "mlflow.parentRunId", "value": job_name},
                                                                   {"key": "azureml.nodeid", "value": step}]}})
        return parent, children

    def _mlflow(self, h: BaseHTTPRequestHandler, method: str, url: Any, raw: bytes) -> None:
        if not self._authorized(h):
            return None
        prefix = f"/mlflow/v1.0{self.workspace_path}/api/2.0/mlflow"
        if not url.path.startswith(prefix):
            return self._reply(h, 404, {"error_code": "ENDPOINT_NOT_FOUND"})
        rest = url.path[len(prefix):]
        if method == "GET" and rest == "/runs/get":
            found = self._mlflow_runs(parse_qs(url.query).get("run_id", [""])[0])
            if found is None:
                return self._reply(h, 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run not found"})
            return self._reply(h, 200, {"run": found[0]})
        if method == "POST" and rest == "/runs/search":
            body = json.loads(raw or b"{}")
            match = re.fullmatch(r"tags\.mlflow\.parentRunId = '([^']+)'", body.get("filter", ""))
            if not isinstance(body.get("experiment_ids"), list) or not match:
                self.violations.append("runs/search needs experiment_ids and a parentRunId filter")
                return self._reply(h, 400, {"error_code": "INVALID_PARAMETER_VALUE"})
            found = self._mlflow_runs(match.group(1))
            return self._reply(h, 200, {"runs": found[1] if found else []})
        return self._reply(h, 404, {"error_code": "ENDPOINT_NOT_FOUND"})

    # -- v1 pipelines service and run history -----------------------------------------------------

    def add_v1_endpoint(self, name: str, versions: dict[str, dict[str, Any]], default: str = "0") -> str:
        """An endpoint as the v1 designer publishes it: versions "0", "1", ... -> parameters of each pipeline."""
        endpoint_id = str(uuid.uuid4())
        version_list = []
        for version, spec in versions.items():
            pipeline_id = str(uuid.uuid4())
            self.v1_pipelines[pipeline_id] = {"Id": pipeline_id, "Name": f"{name}-{version}", "Version": version,
                                              "ParameterAssignments": spec.get("parameters", {}),
                                              "DataPathAssignments": spec.get("datapaths", {}), "EntityStatus": "Active"}
            version_list.append({"Version": version, "PipelineId": pipeline_id})
        self.v1_endpoints[endpoint_id] = {"Id": endpoint_id, "Name": name, "DefaultVersion": default, "PipelineVersionList": version_list,
                                          "Url": f"{self.url}/pipelines/v1.0{self.workspace_path}/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint_id}",
                                          "EntityStatus": "Active", "CreatedDate": "2026-11-01T10:00:00.000Z"}
        return endpoint_id

    def _v1(self, h: BaseHTTPRequestHandler, method: str, url: Any, raw: bytes) -> None:
        if not self._authorized(h):
            return None
        service, _, rest = url.path[1:].partition("/v1.0")
        if not rest.startswith(self.workspace_path):
            return self._reply(h, 404, {"error": {"code": "NotFound", "message": "workspace"}})
        rest = rest[len(self.workspace_path):]
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = json.loads(raw) if raw else None
        if service == "history" and method == "POST" and (m := re.fullmatch(r"/experiments/([^/]+)/runs:query", rest)):
            key = re.search(r'Tags/retrain\.key eq "([^"]+)"', (body or {}).get("filter", ""))
            found = [{"runId": r["Id"]} for r in self.v1_runs.values()
                     if key and r["tags"].get("retrain.key") == key.group(1) and r["RunHistoryExperimentName"] == m.group(1)]
            return self._reply(h, 200, {"value": found, "continuationToken": None})
        if method == "GET" and rest == "/PipelineEndpoints/Name":
            entity = next((e for e in self.v1_endpoints.values() if e["Name"] == query.get("Name")), None)
            return self._reply(h, 200, entity) if entity else self._reply(h, 404, {"Error": {"Code": "NotFound", "Message": "no such endpoint"}})
        if method == "GET" and rest == "/PipelineEndpoints":
            return self._reply(h, 200, list(self.v1_endpoints.values()))
        if method == "GET" and (m := re.fullmatch(r"/PipelineEndpoints/Id/([^/]+)", rest)):
            entity = self.v1_endpoints.get(m.group(1))
            return self._reply(h, 200, entity) if entity else self._reply(h, 404, {"Error": {"Code": "NotFound", "Message": "no such endpoint"}})
        if method == "GET" and (m := re.fullmatch(r"/Pipelines/([^/]+)", rest)):
            return self._reply(h, 200, self.v1_pipelines[m.group(1)])
        if method == "POST" and (m := re.fullmatch(r"/PipelineRuns/PipelineEndpointSubmit/Id/([^/]+)/(\d+)", rest)):
            return self._v1_submit(h, m.group(1), m.group(2), query, body)
        if (m := re.fullmatch(r"/PipelineRuns/([^/]+)(/Execution|/Graph/AllNodes/Status)?", rest)):
            run = self.v1_runs.get(m.group(1))
            if run is None:
                return self._reply(h, 404, {"Error": {"Code": "NotFound", "Message": "no such run"}})
            if method == "DELETE" and m.group(2) == "/Execution":
                run["Status"]["StatusCode"] = "Canceled"
                return self._reply(h, 200, None)
            if method == "POST" and m.group(2) == "/Graph/AllNodes/Status":
                code = {"Finished": "Finished", "Canceled": "Canceled", "Failed": "Failed"}.get(run["Status"]["StatusCode"], "Running")
                return self._reply(h, 200, {"import_data": {"StatusCode": "4"}, "train_model": {"StatusCode": code}})
            if method == "GET" and m.group(2) is None:
                with self._lock:
                    run["_polls"] += 1
                    if run["Status"]["StatusCode"] not in ("Canceled", "Failed", "Finished"):
                        # the service may answer the status as the enum's number ("1" = Running)
                        run["Status"]["StatusCode"] = "1" if run["_polls"] < self.polls_to_finish else "Finished"
                return self._reply(h, 200, {k: v for k, v in run.items() if not k.startswith("_")})
        return self._reply(h, 404, {"Error": {"Code": "NotFound", "Message": f"{method} {rest}"}})

    def _v1_submit(self, h: BaseHTTPRequestHandler, endpoint_id: str, version: str, query: dict[str, str], body: Any) -> None:
        endpoint = self.v1_endpoints.get(endpoint_id)
        if endpoint is None:
            return self._reply(h, 404, {"Error": {"Code": "NotFound", "Message": "no such endpoint"}})
        problems = []
        if query.get("pipelineVersion") != version:
            problems.append("pipelineVersion query must name the version in the path")
        if not isinstance(body, dict):
            return self._invalid(h, ["PipelineSubmissionInfo must be an object"])
        problems += [f"unknown field {k}" for k in body if k not in V1_SUBMIT_KEYS]
        if not isinstance(body.get("ExperimentName"), str) or not body["ExperimentName"]:
            problems.append("ExperimentName is required")
        pipeline_id = next((v["PipelineId"] for v in endpoint["PipelineVersionList"] if v["Version"] == version), None)
        if pipeline_id is None:
            return self._reply(h, 400, {"Error": {"Code": "BadRequest", "Message": f"no version {version}"}})
        pipeline = self.v1_pipelines[pipeline_id]
        for k, v in (body.get("ParameterAssignments") or {}).items():
            if not isinstance(v, str):
                problems.append(f"ParameterAssignments.{k} must be a string")
            if k not in pipeline["ParameterAssignments"]:
                problems.append(f"unknown parameter {k}")
        for k, v in (body.get("DataPathAssignments") or {}).items():
            if set(v) != {"DataStoreName", "RelativePath"}:
                problems.append(f"DataPathAssignments.{k} needs DataStoreName and RelativePath")
        if problems:
            self.violations.extend(problems)
            return self._reply(h, 400, {"Error": {"Code": "BadRequest", "Message": "; ".join(problems)}})
        run_id = str(uuid.uuid4())
        run = {"Id": run_id, "PipelineId": pipeline_id, "Status": {"StatusCode": "0", "CreationTime": "2026-11-24T03:00:00.000Z"},
               "RunHistoryExperimentName": body["ExperimentName"], "ParameterAssignments": body.get("ParameterAssignments", {}),
               "tags": body.get("tags", {}), "_polls": 0}
        self.v1_runs[run_id] = run
        return self._reply(h, 200, {k: v for k, v in run.items() if not k.startswith("_")})


V1_SUBMIT_KEYS = {"ExperimentName", "Description", "RunSource", "RunType", "ParameterAssignments", "DataPathAssignments",
                  "DataSetDefinitionValueAssignments", "ContinueRunOnStepFailure", "EnableNotification", "tags", "Properties"}


def check_put(rest: str, body: Any) -> list[str]:
    """The required shape of each PUT body, from the 2025-12-01 definitions."""
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        return ["the body needs a properties object"]
    name = rest.rsplit("/", 1)[1]
    if not NAME.fullmatch(name):
        return [f"name {name!r} does not match ^[a-zA-Z0-9][a-zA-Z0-9\\-_]{{0,254}}$"]
    props = body["properties"]
    problems: list[str] = []
    if re.fullmatch(r"/components/[^/]+/versions/[^/]+", rest):
        if not isinstance(props.get("componentSpec"), dict):
            problems.append("ComponentVersion.properties.componentSpec must be an object")
    elif re.fullmatch(r"/codes/[^/]+/versions/[^/]+", rest):
        if not str(props.get("codeUri", "")).startswith("https://"):
            problems.append("CodeVersion.properties.codeUri must be the uploaded blob URI")
    elif re.fullmatch(r"/data/[^/]+/versions/[^/]+", rest):
        if props.get("dataType") not in ("uri_file", "uri_folder", "mltable") or not props.get("dataUri"):
            problems.append("DataVersionBase needs dataType (uri_file|uri_folder|mltable) and dataUri")
    elif re.fullmatch(r"/batchEndpoints/[^/]+", rest):
        if not body.get("location"):
            problems.append("BatchEndpoint.location is required (TrackedResource)")
        if props.get("authMode") not in ("AMLToken", "Key", "AADToken"):
            problems.append("BatchEndpoint.properties.authMode is required: AMLToken|Key|AADToken")
        for ro in ("scoringUri", "swaggerUri", "provisioningState"):
            if ro in props:
                problems.append(f"{ro} is read-only")
    elif re.fullmatch(r"/batchEndpoints/[^/]+/deployments/[^/]+", rest):
        if not body.get("location"):
            problems.append("BatchDeployment.location is required")
        config = props.get("deploymentConfiguration") or {}
        if config.get("deploymentConfigurationType") != "PipelineComponent":
            problems.append("deploymentConfigurationType must be PipelineComponent")
        ref = config.get("componentId") or {}
        if ref.get("referenceType") != "Id" or "/components/" not in str(ref.get("assetId", "")):
            problems.append("componentId must be an IdAssetReference to a component version")
        if not all(isinstance(v, str) for v in (config.get("settings") or {}).values()):
            problems.append("deploymentConfiguration.settings values must be strings")
    elif re.fullmatch(r"/jobs/[^/]+", rest):
        if props.get("jobType") != "Pipeline":
            problems.append("jobType must be Pipeline")
        for key, value in (props.get("inputs") or {}).items():
            kind = value.get("jobInputType")
            if kind not in JOB_INPUT_TYPES:
                problems.append(f"inputs.{key}.jobInputType {kind!r}")
            elif kind == "literal" and not isinstance(value.get("value"), str):
                problems.append(f"inputs.{key}.value must be a string (LiteralJobInput)")
            elif kind != "literal" and not value.get("uri"):
                problems.append(f"inputs.{key}.uri is required")
        if not str(props.get("componentId", "")).startswith("/subscriptions/"):
            problems.append("componentId must be an ARM id")
    return problems


@contextmanager
def fake_azure(tmp: Path, **options: Any) -> Iterator[FakeAzure]:
    fake = FakeAzure(**options).start(tmp)
    try:
        yield fake
    finally:
        fake.stop()
