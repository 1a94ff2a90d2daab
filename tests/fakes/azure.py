"""A fake Azure on 127.0.0.1 over TLS (a trustme test CA): an Azure AD authority for msal, the Resource
Manager API of one Azure ML workspace (api-version 2025-12-01), the v1 pipelines service and run history,
MLflow tracking, and blob storage.

Requests are held to the descriptions extracted from Azure ML's own SDKs (tests/fixtures/azureml/, see
tests/fakes/azure_spec.py): an operation outside them is answered 404 with the service's error body and
recorded in ``unknown_operations`` (``fake_azure`` then fails the test); a query parameter or body that does
not validate is answered 400 with an ARM error and recorded in ``violations``. Every list is served
``page_size`` (2) items a page with a ``nextLink``; operation-status URLs need the bearer token; tokens are
JWT-shaped and checked per audience. Blob storage checks Shared Key, SAS and bearer authentication, block
lists and conditional writes. Beyond the description, the fake follows what azure-ai-ml itself sends
(tests/fixtures/azureml/sdk-record.json): ``x-azureml-token`` on pipeline jobs, ``If-None-Match: *`` on blob
writes. Status codes and long-running operations follow the 2025-12-01 spec (PUT 200/201, long-running PUTs
201 + Azure-AsyncOperation, cancel 202 + Location).

Every violation is answered with the error the service would give (an unconditional blob write excepted: the
service takes it) and fails the test at teardown unless the test called ``expect_violation`` (tests/fakes/ledger.py).
Work can fail as the service reports it: ``fail_jobs`` (status Failed, run history's RunDetails.error),
``fail_step`` (a child job's MLflow run FAILED), ``fail_operations`` (an operation status resource Failed or
Canceled with its error; a Location operation answering its error).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlparse

import trustme

from tests.fakes import ledger
from tests.fakes.azure_bodies import body_problems
from tests.fakes.azure_spec import Spec, arm_spec, runhistory_spec, runhistory_v2_spec, v1_spec

API_VERSION = "2025-12-01"
WS_PATH = re.compile(r"/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/([^/]+)(.*)")
NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}")


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int  # 0 = drop the connection without an answer
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    only_with_skip: bool = False  # only requests for a later page of a list
    body: dict[str, Any] | None = None  # the error body (default: ARM's)


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
    v1_graphs: dict[str, dict[str, Any]] = field(default_factory=dict)  # graph id -> EntityInterface
    violations: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> issued at
    assertions: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # every status code answered, in order
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # ARM path -> resource body
    blobs: dict[str, bytes] = field(default_factory=dict)
    job_polls: dict[str, int] = field(default_factory=dict)
    token_scopes: dict[str, str] = field(default_factory=dict)  # token -> the scope it was issued for
    page_size: int = 2  # items per page of every list, so every test follows nextLink
    skip_tokens: dict[str, int] = field(default_factory=dict)
    pages_served: int = 0
    unknown_operations: list[str] = field(default_factory=list)  # requests outside the description
    operations_seen: list[str] = field(default_factory=list)
    # The default datastore: its credentials are an account key, a SAS token, or none (identity-based).
    datastore_credentials: str = "AccountKey"
    storage_account: str = "mlws4storage"
    storage_container: str = "azureml-blobstore-6f3c1b2a-0000-4e5f-8a9b-0c1d2e3f4a5b"
    account_key: str = field(default_factory=lambda: base64.b64encode(uuid.uuid4().bytes * 4).decode())
    identity_can_write_blobs: bool = True  # the identity has Storage Blob Data Contributor
    stale_secrets: bool = False  # the account's key or SAS was rotated and the datastore still holds the old one
    pending_account: str = "mlws4pending"  # the account of startPendingUpload's temporary containers
    sas_tokens: dict[tuple[str, str], str] = field(default_factory=dict)  # (account, container) -> SAS query
    keep_blob_bytes: bool = True  # False: remember sizes only (the memory benchmark)
    uncommitted: dict[str, dict[str, bytes]] = field(default_factory=dict)
    blob_sizes: dict[str, int] = field(default_factory=dict)
    block_sizes: list[int] = field(default_factory=list)
    blob_metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    blob_md5: dict[str, str] = field(default_factory=dict)  # blob -> its Content-MD5 property (base64), when it has one
    blob_etags: dict[str, str] = field(default_factory=dict)
    expected_violations: list[str] = field(default_factory=list)  # see expect_violation
    violations_checked: bool = False
    oidc_audiences: dict[str, str] = field(default_factory=dict)  # GitHub ID token -> the audience it was asked for
    federated_audience: str = "api://AzureADTokenExchange"  # the audience of the app's federated credential in Entra
    # Failures to inject (item: what the service shows when work fails, not when a request is refused):
    job_failure: dict[str, Any] | None = None  # a job that ends Failed carries this error (run history's RunDetails.error)
    failed_step: str | None = None  # this step's child run ends FAILED, and with it the pipeline job
    lro_outcome: tuple[str, dict[str, Any] | None] | None = None  # (status, error) for the next long-running operations
    # Blob storage elsewhere (Azurite): whether (account, container, prefix) names a blob there, for the data checks.
    external_blobs: Callable[[str, str, str], bool] | None = None
    # ... and startPendingUpload's temporary container there: a fresh (container URL, SAS query) per call.
    pending_storage: Callable[[], tuple[str, str]] | None = None
    operation_targets: dict[str, str] = field(default_factory=dict)  # operation status path -> the resource it provisions
    spec: Spec = field(default_factory=arm_spec)
    unlisted: set[str] = field(default_factory=set)  # resources lists leave out (a lagging index)
    record_api_versions: bool = False  # tests/fixtures/azureml/record_sdk.py: accept the SDK's other api-versions, noting them
    other_api_versions: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, tmp: Path) -> "FakeAzure":
        self.sas_tokens[(self.storage_account, self.storage_container)] = (
            "sv=2023-11-03&ss=b&srt=co&sp=rwdlac&se=2099-01-01T00%3A00%3A00Z&spr=https&sig=" + uuid.uuid4().hex + "%3D")
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

            def do_HEAD(self) -> None:
                fake._handle(self, "HEAD")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        ledger.started(self)
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def expect_violation(self, text: str) -> None:
        """The test means to send a request the service refuses: a violation containing ``text`` does not fail it at
        teardown (and its absence does)."""
        self.expected_violations.append(text)

    def violation_report(self) -> str | None:
        return ledger.report("fake Azure", self.violations, self.expected_violations)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    @property
    def workspace_path(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}")

    def fail(self, method: str, path: str, status: int, times: int = 1, body: dict[str, Any] | None = None, **headers: str) -> None:
        self.faults.append(Fault(method, re.compile(path), status, times, headers, body=body))

    def fail_jobs(self, code: str = "UserError", message: str = "Execution failed. User process 'python' exited with status code 1.") -> None:
        """Jobs end Failed, and run history's RunDetails.error carries the service's error body (what azure-ai-ml's
        stream_logs_until_completion shows for a failed job)."""
        self.final_status = "Failed"
        self.job_failure = {"error": {"code": code, "message": message, "messageFormat": "", "severity": None,
                                      "referenceCode": None, "details": [], "innerError": None}}

    def fail_step(self, step: str) -> None:
        """The step's child job (its MLflow run) fails; the pipeline job then fails as the service fails it (continue on
        step failure off): the steps after it are canceled and the job's error names the failed node."""
        self.failed_step = step
        self.fail_jobs("UserError", f"Pipeline has failed child jobs. Failed nodes: /{step}. For more details and logs, "
                                    "please go to the job detail page and check the child jobs.")

    def fail_operations(self, status: str = "Failed", code: str = "DeploymentFailed",
                        message: str = "Deployment v1 failed: the compute cluster cpu-cluster is not found.") -> None:
        """The next long-running operations (endpoint and deployment PUTs, job cancels) end ``status`` (Failed or
        Canceled) with an error in the operation status resource, per ARM's asynchronous operation contract."""
        self.lro_outcome = (status, {"code": code, "message": message})

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
            fault = next((f for f in self.faults if f.method == method and f.path.search(url.path) and f.times > 0
                          and (not f.only_with_skip or "$skip" in parse_qs(url.query))), None)
            if fault:
                fault.times -= 1
        if fault is not None:
            if fault.status == 0:  # a dropped connection: close without answering
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault.body is not None:
                return self._reply(h, fault.status, fault.body, fault.headers)
            code = {404: "UserError", 429: "TooManyRequests"}.get(fault.status, "ServiceUnavailable")
            return self._arm_error(h, fault.status, code, "injected fault", **fault.headers)
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
                audience = self.oidc_audiences.get(form["client_assertion"], self.federated_audience)
                if audience != self.federated_audience:
                    self.violations.append(f"OIDC audience {audience!r} (the federated credential expects {self.federated_audience})")
                    return self._reply(h, 400, {"error": "invalid_client", "error_description":
                                                f"AADSTS700212: No matching federated identity record found for presented assertion audience '{audience}'."})
            else:
                problems.append("no client_secret and no client_assertion")
            if problems:
                self.violations.extend(problems)
                return self._reply(h, 400, {"error": "invalid_request", "error_description": "; ".join(problems)})
            # Shaped like Entra's: a JWT whose aud is the scope's resource (azure-ai-ml reads it), signature not real.
            def part(doc: dict[str, Any]) -> str:
                return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
            claims = {"aud": str(form.get("scope", "")).removesuffix("/.default"), "tid": self.tenant, "appid": self.client_id,
                      "jti": uuid.uuid4().hex}
            token = f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.{part({'sig': uuid.uuid4().hex})}"
            with self._lock:
                self.tokens[token] = time.monotonic()
                self.token_scopes[token] = str(form.get("scope"))
            return self._reply(h, 200, {"token_type": "Bearer", "expires_in": self.token_lifetime_s,
                                        "ext_expires_in": self.token_lifetime_s, "access_token": token})
        return self._reply(h, 404, {"error": "not_found"})

    def _oidc(self, h: BaseHTTPRequestHandler, query: str) -> None:
        params = parse_qs(query)
        if h.headers.get("Authorization") != f"Bearer {self.oidc_request_token}":
            return self._reply(h, 401, {"message": "bad request token"})
        # GitHub issues a token for whatever audience is asked (its default is the owner's URL); Entra refuses it at the
        # token exchange unless the federated credential's audience, api://AzureADTokenExchange, is its aud.
        token = f"github.oidc.{uuid.uuid4().hex}"
        self.oidc_audiences[token] = params.get("audience", ["https://github.com/octo-org"])[0]
        return self._reply(h, 200, {"value": token})

    # -- blob storage -----------------------------------------------------------------------------
    # Path-style URLs, {url}/blob/{account}/{container}/{blob}, as the storage emulator and IP-style
    # endpoints use. Authentication per "Authorize requests to Azure Storage": Shared Key, SAS, or an
    # Entra bearer token (x-ms-version 2017-11-09 or later). Block blobs: Put Blob, Put Block, Put Block List,
    # with If-None-Match: * honoured.

    def _blob_error(self, h: BaseHTTPRequestHandler, status: int, code: str) -> None:
        body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{code}</Message></Error>'.encode()
        self.statuses.append(status)
        h.send_response(status)
        h.send_header("x-ms-error-code", code)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _blob_auth(self, h: BaseHTTPRequestHandler, method: str, url: Any, account: str, container: str) -> str | None:
        """None when the request may write, else the error code to answer with."""
        query = parse_qs(url.query)
        auth = h.headers.get("Authorization", "")
        if "sig" in query:
            if auth:
                # One request, one credential: the SAS's signature is the authorization. (Azurite lets the first
                # authenticator that passes win; the service's behaviour is not documented, so the fake refuses.)
                self.violations.append("a SAS request also carried an Authorization header")
                return "AuthenticationFailed"
            sas = self.sas_tokens.get((account, container))
            given = {k: v for k, v in parse_qs(url.query).items() if k not in ("comp", "blockid")}
            if sas is None or given != parse_qs(sas):
                return "AuthenticationFailed"
            if "w" not in given.get("sp", [""])[0]:
                return "AuthorizationPermissionMismatch"
            return None
        if auth.startswith("SharedKey "):
            if account != self.storage_account or self.datastore_credentials != "AccountKey":
                return "AuthenticationFailed"
            if not h.headers.get("x-ms-date"):
                return "AuthenticationFailed"
            expected = shared_key_signature(method, h.headers, url, account, self.account_key)
            return None if auth == f"SharedKey {account}:{expected}" else "AuthenticationFailed"
        if auth.startswith("Bearer "):
            token = auth.removeprefix("Bearer ")
            if self.token_scopes.get(token) != "https://storage.azure.com/.default":
                return "InvalidAuthenticationInfo"
            if h.headers.get("x-ms-version", "") < "2017-11-09":
                self.violations.append("a bearer token was sent to blob storage without x-ms-version >= 2017-11-09")
                return "InvalidHeaderValue"
            if self.datastore_credentials != "None" or not self.identity_can_write_blobs:
                return "AuthorizationPermissionMismatch"
            return None
        return "NoAuthenticationInformation"

    def _blob(self, h: BaseHTTPRequestHandler, method: str, url: Any, raw: bytes) -> None:
        parts = url.path.split("/", 4)  # "", "blob", account, container, name
        if len(parts) < 5 or method not in ("PUT", "HEAD"):
            return self._blob_error(h, 400, "InvalidUri")
        account, container, name = parts[2], parts[3], unquote(parts[4])
        denied = self._blob_auth(h, method, url, account, container)
        if denied:
            status = 400 if denied == "InvalidHeaderValue" else 401 if denied == "NoAuthenticationInformation" else 403
            return self._blob_error(h, status, denied)
        if not h.headers.get("x-ms-version"):
            self.violations.append("a blob request without x-ms-version")
            return self._blob_error(h, 400, "MissingRequiredHeader")
        key = f"{account}/{container}/{name}"
        if method == "HEAD":  # Get Blob Properties: no body, the error code in a header
            self.statuses.append(200 if key in self.blob_sizes else 404)
            h.send_response(200 if key in self.blob_sizes else 404)
            if key not in self.blob_sizes:
                h.send_header("x-ms-error-code", "BlobNotFound")
            else:
                h.send_header("ETag", self.blob_etags[key])
                h.send_header("x-ms-blob-type", "BlockBlob")
                if key in self.blob_md5:
                    h.send_header("Content-MD5", self.blob_md5[key])
                for k, v in self.blob_metadata.get(key, {}).items():
                    h.send_header(k, v)
            h.send_header("Content-Length", str(self.blob_sizes.get(key, 0)))
            h.end_headers()
            return None
        comp = parse_qs(url.query).get("comp", [""])[0]
        with self._lock:
            if comp == "block":
                block_id = parse_qs(url.query).get("blockid", [""])[0]
                pending = self.uncommitted.setdefault(key, {})
                if not block_id or any(len(b) != len(block_id) for b in pending):
                    self.violations.append(f"block ids of {key} must be base64 and of one length")
                    return self._blob_error(h, 400, "InvalidQueryParameterValue")
                pending[block_id] = raw if self.keep_blob_bytes else hashlib.sha256(raw).digest() + len(raw).to_bytes(8, "big")
                self.block_sizes.append(len(raw))
                return self._reply(h, 201, None)
            exists = key in self.blobs
            if comp == "metadata":  # Set Blob Metadata (azure-ai-ml marks an upload's status on its first blob)
                if not exists:
                    return self._blob_error(h, 404, "BlobNotFound")
                self.blob_metadata[key] = {k.lower(): v for k, v in h.headers.items() if k.lower().startswith("x-ms-meta-")}
                etag = self.blob_etags[key] = f'"0x{uuid.uuid4().hex[:16].upper()}"'
                return self._reply(h, 200, None, {"ETag": etag})
            if h.headers.get("If-None-Match") == "*" and exists:
                return self._blob_error(h, 409, "BlobAlreadyExists")
            if_match = h.headers.get("If-Match")
            if if_match is not None and (not exists or if_match not in ("*", self.blob_etags.get(key))):
                return self._blob_error(h, 412, "ConditionNotMet")
            if h.headers.get("If-None-Match") != "*" and if_match is None:
                # The service would overwrite; retrain's writes are conditional (as azure-ai-ml's), so the test fails.
                self.violations.append(f"an unconditional write of {key} (azure-ai-ml writes with If-None-Match: *)")
            if comp == "blocklist":
                ids = re.findall(r"<Latest>([^<]+)</Latest>", raw.decode())
                pending = self.uncommitted.get(key, {})
                if not ids or any(i not in pending for i in ids):
                    return self._blob_error(h, 400, "InvalidBlockList")
                self.blobs[key] = b"".join(pending[i] for i in ids) if self.keep_blob_bytes else b""
                self.blob_sizes[key] = sum(len(pending[i]) if self.keep_blob_bytes else int.from_bytes(pending[i][32:], "big") for i in ids)
                del self.uncommitted[key]  # committing discards the blob's other uncommitted blocks
                md5 = h.headers.get("x-ms-blob-content-md5")  # Put Block List computes none: the client may set it
                if md5 is None:
                    self.blob_md5.pop(key, None)
                else:
                    self.blob_md5[key] = md5
            elif comp == "":
                if h.headers.get("x-ms-blob-type") != "BlockBlob":
                    self.violations.append("Put Blob without x-ms-blob-type: BlockBlob")
                    return self._blob_error(h, 400, "MissingRequiredHeader")
                self.blobs[key] = raw if self.keep_blob_bytes else b""
                self.blob_sizes[key] = len(raw)
                self.blob_md5[key] = base64.b64encode(hashlib.md5(raw).digest()).decode()  # Put Blob computes it
            else:
                return self._blob_error(h, 400, "InvalidQueryParameterValue")
            self.blob_metadata.pop(key, None)
            etag = self.blob_etags[key] = f'"0x{uuid.uuid4().hex[:16].upper()}"'
        return self._reply(h, 201, None, {"ETag": etag})

    def blob(self, path: str) -> bytes:
        """The bytes of a blob by the end of its path (tests)."""
        return next(v for k, v in self.blobs.items() if k.endswith(path))

    # -- Resource Manager -------------------------------------------------------------------------

    def _authorized(self, h: BaseHTTPRequestHandler, scope: str = "https://management.azure.com/.default") -> bool:
        auth = h.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        issued = self.tokens.get(token)
        if issued is None or self.token_scopes.get(token) != scope:
            self._arm_error(h, 401, "InvalidAuthenticationToken", "The access token is invalid.")
            return False
        limit = self.arm_accepts_for_s if self.arm_accepts_for_s is not None else self.token_lifetime_s
        if time.monotonic() - issued > limit:
            self._arm_error(h, 401, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.")
            return False
        return True

    def _page(self, h: BaseHTTPRequestHandler, url: Any, items: list[dict[str, Any]]) -> None:
        """A list as ARM pages it: ``value`` and, while more remain, a ``nextLink`` carrying a $skip token."""
        query = parse_qs(url.query)
        token = query.get("$skip", [""])[0]
        start = 0
        if token:
            if token not in self.skip_tokens:
                return self._invalid(h, [f"$skip {token!r} is not a token this list handed out"])
            start = self.skip_tokens[token]
        page = items[start:start + self.page_size]
        body: dict[str, Any] = {"value": page}
        if start + self.page_size < len(items):
            next_token = uuid.uuid4().hex
            self.skip_tokens[next_token] = start + self.page_size
            rest = [(k, v) for k, vs in query.items() if k != "$skip" for v in vs]
            body["nextLink"] = f"{self.url}{url.path}?{urlencode([*rest, ('$skip', next_token)])}"
        self.pages_served += 1
        return self._reply(h, 200, body)

    def _under(self, prefix: str) -> list[dict[str, Any]]:
        return [v for k, v in self.resources.items() if k.startswith(prefix) and "/" not in k[len(prefix):] and k not in self.unlisted]

    def _arm(self, h: BaseHTTPRequestHandler, method: str, url: Any, raw: bytes) -> None:
        if url.path.startswith("/operations/"):
            return self._operation(h, url.path) if self._authorized(h) else None
        if not self._authorized(h):
            return None
        query = parse_qs(url.query)
        op = self.spec.operation(method, url.path)
        if op is None:
            self.unknown_operations.append(f"{method} {url.path}")
            return self._arm_error(h, 404, "NotFound", f"No HTTP resource was found that matches the request URI '{self.url}{url.path}'.")
        if query.get("api-version") != [self.spec.api_version]:
            if not self.record_api_versions:
                return self._invalid(h, [f"api-version {query.get('api-version')} (expected {self.spec.api_version})"])
            self.other_api_versions.append(f"{method} {url.path.replace(self.workspace_path, '<WS>')} {query.get('api-version')}")
        unknown = sorted(set(query) - op.query)
        if unknown:
            return self._invalid(h, [f"{op.id}: query parameters {unknown} are not in the description"])
        m = WS_PATH.fullmatch(url.path)
        if not m or (m.group(1), m.group(2), m.group(3)) != (self.subscription, self.resource_group, self.workspace):
            return self._arm_error(h, 404, "ResourceNotFound", f"The Resource '{url.path}' was not found.")
        rest = m.group(4)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._invalid(h, ["the body is not JSON"])
        if op.body and body is not None:
            problems = self.spec.validate(op.body, body)
            if problems and self.other_api_versions and self.other_api_versions[-1].startswith(f"{method} {url.path.replace(self.workspace_path, '<WS>')} "):
                # recording the SDK: a body of another api-version is noted against 2025-12-01, not refused
                self.violations.extend(f"{op.id} (sent with api-version {query.get('api-version')}): {p}" for p in problems)
            elif problems:
                return self._invalid(h, [f"{op.id}: {p}" for p in problems])
        if method == "PUT":
            name = rest.rsplit("/", 1)[1]
            if not NAME.fullmatch(name):
                return self._invalid(h, [f"name {name!r} does not match ^[a-zA-Z0-9][a-zA-Z0-9\\-_]{{0,254}}$"])
            if body is None:
                return self._invalid(h, [f"{op.id}: a body is required"])
        self.operations_seen.append(op.id)
        ws = self.workspace_path
        if op.id == "workspaces_get":
            return self._reply(h, 200, {"id": ws, "name": self.workspace, "location": self.location,
                                        "properties": {"discoveryUrl": f"{self.url}/discovery"}})
        if op.id == "batch_endpoints_list":
            return self._page(h, url, self._under(f"{ws}/batchEndpoints/"))
        if op.id == "batch_deployments_list":
            return self._page(h, url, self._under(f"{ws}{rest}/"))
        if op.id == "jobs_list":
            tag = query.get("tag", [None])[0]
            jobs = [self._job_view(k) for k in self.resources if k.startswith(f"{ws}/jobs/")]
            return self._page(h, url, [j for j in jobs if tag is None or tag in (j["properties"].get("tags") or {})])
        if op.id in ("code_versions_list", "component_versions_list", "data_versions_list"):
            items = self._under(f"{ws}{rest}/")
            if "hash" in query:
                items = [i for i in items if (i["properties"].get("properties") or {}).get("hash_sha256") == query["hash"][0]
                         and (i["properties"].get("properties") or {}).get("hash_version") == query.get("hashVersion", [""])[0]]
            return self._page(h, url, items)
        if op.id == "datastores_list":
            stores = self.datastores()
            if query.get("isDefault") == ["true"]:
                stores = [s for s in stores if s["properties"]["isDefault"]]
            return self._page(h, url, stores)
        if op.id == "datastores_get":
            found = next((s for s in self.datastores() if s["name"] == rest.rsplit("/", 1)[1]), None)
            return self._reply(h, 200, found) if found else self._arm_error(h, 404, "UserError", f"Datastore {rest} not found")
        if op.id == "datastores_list_secrets":
            return self._list_secrets(h, rest.split("/")[2])
        if op.id in ("component_containers_get", "code_containers_get", "data_containers_get"):
            versions = [k.rsplit("/", 1)[1] for k in self.resources if k.startswith(f"{ws}{rest}/versions/")]
            if not versions:
                return self._arm_error(h, 404, "UserError", f"Could not find asset with name: {rest.rsplit('/', 1)[1]}")
            numbers = [int(v) for v in versions if v.isdigit()]
            latest = str(max(numbers)) if numbers else versions[-1]
            return self._reply(h, 200, {"id": f"{ws}{rest}", "name": rest.rsplit("/", 1)[1],
                                        "properties": {"latestVersion": latest, "nextVersion": str(max(numbers, default=0) + 1)}})
        key = f"{ws}{rest}"
        if op.id == "jobs_get":
            return self._get_job(h, key)
        if method == "GET":
            if key in self.resources:
                return self._reply(h, 200, {k: v for k, v in self.resources[key].items() if not k.startswith("_")})
            return self._arm_error(h, 404, "UserError", f"Could not find {rest}")
        if method == "PUT":
            return self._put(h, rest, key, body)
        if op.id == "code_versions_create_or_get_start_pending_upload":
            if not isinstance(body, dict) or body.get("pendingUploadType") != "TemporaryBlobReference":
                return self._invalid(h, ["startPendingUpload needs pendingUploadType: TemporaryBlobReference"])
            if self.pending_storage is not None:
                blob_uri, sas = self.pending_storage()
            else:
                container = f"code-{uuid.uuid4().hex[:8]}"
                sas = f"sv=2023-11-03&sr=c&sp=rcw&se=2099-01-01T00%3A00%3A00Z&sig=FAKE{uuid.uuid4().hex}%3D"
                self.sas_tokens[(self.pending_account, container)] = sas
                blob_uri = f"{self.url}/blob/{self.pending_account}/{container}"  # the container itself, as azure-ai-ml expects
            return self._reply(h, 200, {"pendingUploadId": str(uuid.uuid4()), "pendingUploadType": "TemporaryBlobReference",
                                        "blobReferenceForConsumption": {
                                            "blobUri": blob_uri,
                                            "storageAccountArmId": f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/Microsoft.Storage/storageAccounts/{self.pending_account}",
                                            "credential": {"credentialType": "SAS", "sasUri": f"{blob_uri}?{sas}"}}})
        if op.id == "jobs_cancel":
            job = self.resources.get(f"{ws}/jobs/{rest.split('/')[2]}")
            if job is None:
                return self._arm_error(h, 404, "UserError", f"Job {rest.split('/')[2]} not found")
            job["properties"]["status"] = "CancelRequested"
            job["_cancel"] = True
            return self._reply(h, 202, None, {"Location": f"{self.url}/operations/cancel-{rest.split('/')[2]}", "Retry-After": "0"})
        return self._arm_error(h, 405, "MethodNotAllowed", f"{method} {rest}")

    # -- datastores -------------------------------------------------------------------------------

    def datastores(self) -> list[dict[str, Any]]:
        """The workspace's datastores as a new workspace has them; workspaceblobstore is the default."""
        ws = self.workspace_path
        credentials: dict[str, Any] = {"credentialsType": self.datastore_credentials}
        if self.datastore_credentials in ("AccountKey", "Sas"):
            credentials["secrets"] = {"secretsType": self.datastore_credentials}  # secrets are never in a GET
        def store(name: str, kind: str, default: bool, **extra: Any) -> dict[str, Any]:
            return {"id": f"{ws}/datastores/{name}", "name": name, "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                    "properties": {"datastoreType": kind, "isDefault": default, "credentials": credentials, "description": "", "tags": {},
                                   "properties": {}, "accountName": self.storage_account, **extra}}
        return [
            store("workspaceartifactstore", "AzureBlob", False, containerName="azureml", endpoint="core.windows.net", protocol="https"),
            store("workspaceblobstore", "AzureBlob", True, containerName=self.storage_container, endpoint="core.windows.net", protocol="https",
                  serviceDataAccessAuthIdentity="WorkspaceSystemAssignedIdentity"),
            store("workspacefilestore", "AzureFile", False, fileShareName="code-391ff5ac", endpoint="core.windows.net", protocol="https"),
            store("workspaceworkingdirectory", "AzureFile", False, fileShareName="code-391ff5ac", endpoint="core.windows.net", protocol="https"),
        ]

    def _list_secrets(self, h: BaseHTTPRequestHandler, name: str) -> None:
        if self.datastore_credentials == "AccountKey":
            key = base64.b64encode(b"old" + base64.b64decode(self.account_key)[3:]).decode() if self.stale_secrets else self.account_key
            return self._reply(h, 200, {"secretsType": "AccountKey", "key": key})
        if self.datastore_credentials == "Sas":
            sas = self.sas_tokens[(self.storage_account, self.storage_container)]
            return self._reply(h, 200, {"secretsType": "Sas", "sasToken": sas.replace("sig=", "sig=old") if self.stale_secrets else sas})
        return self._arm_error(h, 400, "UserError", f"Datastore {name} has no secrets (identity-based access)")

    def _operation(self, h: BaseHTTPRequestHandler, path: str) -> None:
        with self._lock:
            self.job_polls[path] = self.job_polls.get(path, 0) + 1
            polls = self.job_polls[path]
        if path.startswith("/operations/cancel-"):
            if polls < 2:
                return self._reply(h, 202, None, {"Location": f"{self.url}{path}", "Retry-After": "0"})
            if self.lro_outcome is not None and self.lro_outcome[0] != "Succeeded":
                return self._arm_error(h, 400 if self.lro_outcome[0] == "Failed" else 409, **(self.lro_outcome[1] or
                                       {"code": "Canceled", "message": "The operation was canceled."}))
            job = self.resources.get(f"{self.workspace_path}/jobs/{path.removeprefix('/operations/cancel-')}")
            if job:
                job["properties"]["status"] = "Canceled"
            return self._reply(h, 200, None)
        if polls < 2:
            return self._reply(h, 200, {"id": path, "name": path.rsplit("/", 1)[1], "status": "InProgress",
                                        "startTime": "2026-11-24T03:00:00Z"}, {"Retry-After": "0"})
        outcome = self.lro_outcome or ("Succeeded", None)
        target = self.resources.get(self.operation_targets.get(path, ""))
        if target is not None:
            target["properties"]["provisioningState"] = outcome[0]
        body: dict[str, Any] = {"id": path, "name": path.rsplit("/", 1)[1], "status": outcome[0],
                                "startTime": "2026-11-24T03:00:00Z", "endTime": "2026-11-24T03:01:00Z"}
        if outcome[1] is not None:
            body["error"] = outcome[1]
        return self._reply(h, 200, body, {"Retry-After": "0"})

    def _put(self, h: BaseHTTPRequestHandler, rest: str, key: str, body: Any) -> None:
        problems = semantic_problems(self, rest, body)
        if "/jobs/" in rest:
            token = h.headers.get("x-azureml-token", "")
            if self.token_scopes.get(token) != "https://ml.azure.com/.default":
                problems.append("a pipeline job needs x-azureml-token, a token for https://ml.azure.com/.default (as azure-ai-ml sends)")
        if problems:
            return self._invalid(h, problems)
        name = rest.rsplit("/", 1)[1]
        existed = key in self.resources
        # To the millisecond, as the service's systemData is (two resources made in one second keep their order).
        t = time.time()
        now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"
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
            # Long-running: 201 with Azure-AsyncOperation (final state via the original URI). The resource is there
            # at once, provisioning; the operation's end sets its provisioningState (Succeeded, Failed, Canceled).
            resource["properties"] = {**resource["properties"], "provisioningState": "Updating" if existed else "Creating"}
            operation = f"/operations/op-{uuid.uuid4().hex}"
            self.operation_targets[operation] = key
            return self._reply(h, 201, resource, {"Azure-AsyncOperation": f"{self.url}{operation}",
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
        # A deployment's run names its pipeline component; a pipeline job built from YAML carries its own jobs.
        component = self.resources.get(job["properties"].get("componentId") or "", {})
        steps = list(((component.get("properties") or {}).get("componentSpec") or {}).get("jobs", {})
                     or job["properties"].get("jobs") or {})
        parent_status = {"Completed": "FINISHED", "Failed": "FAILED", "Canceled": "KILLED"}.get(status, "RUNNING")
        parent = {"info": {"run_id": job_name, "experiment_id": "7", "status": parent_status, "start_time": 1700000000000},
                  "data": {"metrics": [{"key": "duration_s", "value": 12.5, "timestamp": 1700000009000, "step": 0}] if parent_status == "FINISHED" else [],
                           "tags": []}}
        children = []
        failed_at = steps.index(self.failed_step) if self.failed_step in steps else None
        for i, step in enumerate(steps):
            done = parent_status != "RUNNING" or i == 0  # the first step finishes first
            child_status = ("FINISHED" if parent_status in ("FINISHED", "RUNNING") else parent_status) if done else "RUNNING"
            if failed_at is not None and parent_status == "FAILED":
                child_status = "FINISHED" if i < failed_at else "FAILED" if i == failed_at else "KILLED"
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
        """An endpoint as the v1 designer publishes it: versions "0", "1", ... -> parameters of each pipeline.
        A published pipeline (PipelineEntity) carries its parameters' values; its data-path parameters are only in
        its graph's interface (EntityInterface), where azureml-pipeline-core reads both."""
        endpoint_id = str(uuid.uuid4())
        version_list = []
        for version, spec in versions.items():
            pipeline_id, graph_id = str(uuid.uuid4()), str(uuid.uuid4())
            self.v1_pipelines[pipeline_id] = {"Id": pipeline_id, "Name": f"{name}-{version}", "Version": version, "GraphId": graph_id,
                                              "ParameterAssignments": spec.get("parameters", {}), "EntityStatus": "Active"}
            self.v1_graphs[graph_id] = {
                "Parameters": [{"Name": k, "DefaultValue": v, "IsOptional": False, "Type": "String"} for k, v in spec.get("parameters", {}).items()],
                "DataPathParameters": [{"Name": k, "DefaultValue": v, "IsOptional": False, "DataTypeId": "AnyDirectory"}
                                       for k, v in spec.get("datapaths", {}).items()],
                "MetadataParameters": [], "DataPathParameterList": []}
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
        if service == "pipelines":
            found = v1_spec().operation(method, url.path)
            if found is None:
                self.unknown_operations.append(f"{method} {url.path}")
                return self._reply(h, 404, {"Error": {"Code": "NotFound", "Message": f"No route for {method} {rest}"}})
            op_id, op = found
            unknown = sorted(set(query) - set(op["query"]))
            problems = [f"{op_id}: query parameters {unknown} are not in the description"] if unknown else []
            if op.get("body"):
                problems += [f"{op_id}: {p}" for p in v1_spec().validate(op["body"], body)]
            if problems:
                self.violations.extend(problems)
                return self._reply(h, 400, {"Error": {"Code": "BadRequest", "Message": "; ".join(problems)}})
            self.operations_seen.append(op_id)
        else:
            # Run history: runs:query as the v1 SDK's client (azureml-core) sends it (no query parameters, body key
            # "orderby"); a run's details as azure-ai-ml's runhistory client reads them (api-version=v1.0).
            history = runhistory_spec().operation(method, url.path)
            if history is None and (history := runhistory_v2_spec().operation(method, url.path)) is not None:
                if query.get("api-version") != "v1.0":
                    return self._invalid(h, [f"{history.id}: api-version {query.get('api-version')!r} (azure-ai-ml sends v1.0)"])
            if history is None:
                self.unknown_operations.append(f"{method} {url.path}")
                return self._reply(h, 404, {"error": {"code": "NotFound", "message": f"No route for {method} {rest}"}})
            unknown = sorted(set(query) - history.query)
            problems = [f"{history.id}: query parameters {unknown} are not in the description"] if unknown else []
            problems += [f"{history.id}: {p}" for p in runhistory_spec().validate(history.body or "", body)] if history.body else []
            if problems:
                return self._invalid(h, problems)
            self.operations_seen.append(history.id)
        if method == "GET" and (m := re.fullmatch(r"/Graphs/([^/]+)/Interface", rest)):
            graph = self.v1_graphs.get(m.group(1))
            return self._reply(h, 200, graph) if graph else self._reply(h, 404, {"Error": {"Code": "NotFound", "Message": "no such graph"}})
        if service == "history" and method == "GET" and (m := re.fullmatch(r"/runs/([^/]+)/details", rest)):
            job = self.resources.get(f"{self.workspace_path}/jobs/{m.group(1)}")
            if job is None:
                return self._reply(h, 404, {"error": {"code": "UserError", "message": f"Run {m.group(1)} was not found"}})
            details: dict[str, Any] = {"runId": m.group(1), "status": job["properties"]["status"], "warnings": [], "logFiles": {}}
            if job["properties"]["status"] == "Failed" and self.job_failure is not None:
                details["error"] = self.job_failure
            return self._reply(h, 200, details)
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
        if not isinstance(body.get("ExperimentName"), str) or not body["ExperimentName"]:
            problems.append("ExperimentName is required")
        pipeline_id = next((v["PipelineId"] for v in endpoint["PipelineVersionList"] if v["Version"] == version), None)
        if pipeline_id is None:
            return self._reply(h, 400, {"Error": {"Code": "BadRequest", "Message": f"no version {version}"}})
        interface = self.v1_graphs[self.v1_pipelines[pipeline_id]["GraphId"]]
        parameters = {p["Name"] for p in interface["Parameters"]}
        datapaths = {p["Name"] for p in interface["DataPathParameters"]}
        for k in body.get("ParameterAssignments") or {}:
            if k not in parameters:
                problems.append(f"ParameterAssignments.{k}: the pipeline has no such parameter" + (" (it is a data path)" if k in datapaths else ""))
        for k, v in (body.get("DataPathAssignments") or {}).items():
            if k not in datapaths:
                problems.append(f"DataPathAssignments.{k}: the pipeline has no such data-path parameter")
            if not v.get("DataStoreName") or v.get("RelativePath") is None:
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


def semantic_problems(fake: FakeAzure, rest: str, body: dict[str, Any]) -> list[str]:
    """What the service checks beyond the description's shapes: references that must resolve, and the parts the
    description leaves open checked with azure-ai-ml's schemas (tests/fakes/azure_bodies.py)."""
    props = body.get("properties") or {}
    problems: list[str] = body_problems(rest, body)
    problems += tag_problems(body.get("tags"))
    if re.fullmatch(r"/batchEndpoints/[^/]+/deployments/[^/]+", rest):
        ref = str(((props.get("deploymentConfiguration") or {}).get("componentId") or {}).get("assetId", ""))
        if ref not in fake.resources:
            problems.append(f"deployment's component {ref} does not exist")
    elif re.fullmatch(r"/jobs/[^/]+", rest):
        if props.get("componentId") is not None and str(props["componentId"]) not in fake.resources:
            problems.append(f"job's componentId {props.get('componentId')} does not exist")
        for key, value in (props.get("inputs") or {}).items():
            uri = str(value.get("uri", "")) if isinstance(value, dict) else ""
            if uri.startswith("/subscriptions/") and uri not in fake.resources:
                problems.append(f"inputs.{key}: data {uri} does not exist")
    elif re.fullmatch(r"/data/[^/]+/versions/[^/]+", rest):
        uri = str(props.get("dataUri", ""))
        m = re.fullmatch(r"azureml://subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/datastores/([^/]+)/paths/(.+)", uri)
        if m is None:
            problems.append(f"dataUri {uri!r} is not an azureml://subscriptions/.../datastores/NAME/paths/PATH URI")
        elif m.group(1) == "workspaceblobstore":
            prefix = f"{fake.storage_account}/{fake.storage_container}/{m.group(2)}"
            if fake.external_blobs is not None:
                found = fake.external_blobs(fake.storage_account, fake.storage_container, m.group(2))
            else:
                found = any(k == prefix or k.startswith(prefix.rstrip("/") + "/") for k in fake.blobs)
            if not found:
                problems.append(f"dataUri {uri} names no uploaded blob")
    return problems


# Resource Manager's limits on every resource's tags ("Use tags to organize your Azure resources and management
# hierarchy", Azure Resource Manager documentation: at most 50 tag name-value pairs, a name of at most 512
# characters, a value of at most 256); tags are a map of strings in the ARM description (TrackedResource.tags).
MAX_TAGS, MAX_TAG_NAME, MAX_TAG_VALUE = 50, 512, 256


def tag_problems(tags: Any) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        return ["tags must be a map of strings"]
    problems = [f"{len(tags)} tags: a resource has at most {MAX_TAGS}"] if len(tags) > MAX_TAGS else []
    problems += [f"tag name {k[:40]!r}... is longer than {MAX_TAG_NAME} characters" for k in tags if len(k) > MAX_TAG_NAME]
    problems += [f"tag {k!r}: its value is longer than {MAX_TAG_VALUE} characters" for k, v in tags.items() if len(v) > MAX_TAG_VALUE]
    return problems


def shared_key_signature(method: str, headers: Any, url: Any, account: str, key: str) -> str:
    """Azure Storage's Shared Key signature (blob service, version 2009-09-19 and later), computed independently
    of the client's."""
    def header(name: str) -> str:
        return str(headers.get(name) or "")
    length = header("Content-Length")
    string_to_sign = "\n".join([
        method, header("Content-Encoding"), header("Content-Language"), "" if length == "0" else length, header("Content-MD5"),
        header("Content-Type"), header("Date"), header("If-Modified-Since"), header("If-Match"), header("If-None-Match"),
        header("If-Unmodified-Since"), header("Range")]) + "\n"
    ms = sorted((k.lower(), v.strip()) for k, v in headers.items() if k.lower().startswith("x-ms-"))
    string_to_sign += "".join(f"{k}:{v}\n" for k, v in ms)
    params: dict[str, list[str]] = {}
    for k, v in parse_qsl(url.query, keep_blank_values=True):
        params.setdefault(k.lower(), []).append(v)
    string_to_sign += f"/{account}{url.path}" + "".join(f"\n{k}:{','.join(sorted(v))}" for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(base64.b64decode(key), string_to_sign.encode(), hashlib.sha256).digest()).decode()


@contextmanager
def fake_azure(tmp: Path, **options: Any) -> Iterator[FakeAzure]:
    fake = FakeAzure(**options).start(tmp)
    try:
        yield fake
        # Whatever a test checks, no request it made may fall outside the committed description, and none may break
        # its rules unless the test said it would (expect_violation).
        if fake.unknown_operations:
            raise AssertionError(f"requests outside tests/fixtures/azureml/arm-2025-12-01.json: {fake.unknown_operations}")
        fake.violations_checked = True  # here, rather than again at teardown
        if (report := fake.violation_report()) is not None:
            raise AssertionError(report)
    finally:
        fake.stop()
