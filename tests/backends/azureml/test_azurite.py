"""Repository data uploaded to real blob storage: Azurite, the Azure Storage emulator (npm package ``azurite``, run by
the ``azurite`` fixture in strict mode), behind the fake Resource Manager, whose default datastore points at it and
hands out Azurite's account key or a SAS made here the documented way (listSecrets).

Between retrain and Azurite sits a loopback proxy that records every request and can lose an answer after Azurite
acted on the request (the dropped connection a network fault leaves) or answer 503 without passing it on."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import requests

from retrain.backends.azureml import AzureMLBackend
from retrain.backends.azureml.upload import BLOCK_SIZE, _Auth, BlobCredential
from retrain.errors import BackendError
from retrain.pipeline.load import load_pipeline
from tests.conftest import Azurite
from tests.fakes.azure import FakeAzure, fake_azure
from tests.backends.azureml.workspace import income, income_on_azure, make_backend, request

pytestmark = pytest.mark.azurite
VERSION = "2023-11-03"


# -- the test's own view of the storage account ----------------------------------------------------------------------

@dataclass
class Storage:
    azurite: Azurite
    container: str

    def _send(self, method: str, path: str, query: str = "", data: bytes | None = None,
              headers: dict[str, str] | None = None) -> requests.Response:
        url = f"{self.azurite.url}/{self.azurite.account}/{self.container}{path}" + (f"?{query}" if query else "")
        return requests.request(method, url, data=data, auth=_Auth(BlobCredential("AccountKey", self.azurite.account, key=self.azurite.key)),
                                headers={"x-ms-version": VERSION, **(headers or {})}, timeout=30)

    def create(self) -> None:
        assert self._send("PUT", "", "restype=container").status_code == 201

    def names(self, prefix: str = "") -> list[str]:
        answer = self._send("GET", "", f"restype=container&comp=list&prefix={quote(prefix, safe='')}")
        assert answer.status_code == 200, answer.text
        return re.findall(r"<Name>([^<]+)</Name>", answer.text)

    def get(self, name: str) -> bytes:
        answer = self._send("GET", f"/{quote(name)}")
        assert answer.status_code == 200, answer.text
        return answer.content

    def properties(self, name: str) -> requests.structures.CaseInsensitiveDict[str]:
        answer = self._send("HEAD", f"/{quote(name)}")
        assert answer.status_code == 200
        return answer.headers

    def blocks(self, name: str, kind: str) -> list[int]:
        """Sizes of the blob's committed or uncommitted blocks (Get Block List)."""
        answer = self._send("GET", f"/{quote(name)}", f"comp=blocklist&blocklisttype={kind}")
        assert answer.status_code == 200, answer.text
        section = re.search(rf"<{kind.capitalize()}Blocks>(.*?)</{kind.capitalize()}Blocks>|<{kind.capitalize()}Blocks\s*/>", answer.text, re.S)
        return [int(n) for n in re.findall(r"<Size>(\d+)</Size>", section.group(1) or "")] if section else []

    def put(self, name: str, data: bytes) -> None:
        """Another tool's write: unconditional, as most are."""
        assert self._send("PUT", f"/{quote(name)}", data=data, headers={"x-ms-blob-type": "BlockBlob"}).status_code == 201

    def service_sas(self, permissions: str = "racwl") -> str:
        """A container SAS signed with the account key, per "Create a service SAS" (version 2020-12-06 and later)."""
        expiry = "2099-01-01T00:00:00Z"
        fields = [permissions, "", expiry, f"/blob/{self.azurite.account}/{self.container}", "", "", "https,http", VERSION,
                  "c", "", "", "", "", "", "", ""]
        signature = base64.b64encode(hmac.new(base64.b64decode(self.azurite.key), "\n".join(fields).encode(), hashlib.sha256).digest())
        return urlencode({"sv": VERSION, "sr": "c", "sp": permissions, "se": expiry, "spr": "https,http", "sig": signature.decode()})


# -- a loopback proxy that records and loses answers -----------------------------------------------------------------

@dataclass
class Proxy:
    target: str
    seen: list[tuple[str, str]] = field(default_factory=list)
    # (method, path, "drop" | "503" | a function run just before the request is passed on)
    faults: list[tuple[str, re.Pattern[str], str | Callable[[], None]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "Proxy":
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail(self, method: str, path: str, how: str | Callable[[], None]) -> None:
        self.faults.append((method, re.compile(path), how))

    def count(self, method: str, pattern: str) -> int:
        return sum(1 for m, p in self.seen if m == method and re.search(pattern, p))

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        method = h.command
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        with self._lock:
            self.seen.append((method, h.path))
            fault = next((f for f in self.faults if f[0] == method and f[1].search(h.path)), None)
            if fault is not None:
                self.faults.remove(fault)
        if fault is not None and fault[2] == "503":  # refused before reaching storage
            h.send_response(503)
            h.send_header("x-ms-error-code", "ServerBusy")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if fault is not None and callable(fault[2]):
            fault[2]()
            fault = None
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection", "accept-encoding")}
        answer = requests.request(method, self.target + h.path, data=body, headers=headers, allow_redirects=False, timeout=60)
        if fault is not None:  # storage did the work; the answer is lost on the way back
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.send_response(answer.status_code)
        for k, v in answer.headers.items():
            if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                h.send_header(k, v)
        h.send_header("Content-Length", answer.headers.get("Content-Length", str(len(answer.content))))
        h.end_headers()
        if method != "HEAD":
            h.wfile.write(answer.content)


# -- the workspace: fake Resource Manager, Azurite storage --------------------------------------------------------------

@dataclass
class Workspace:
    azure: FakeAzure
    storage: Storage
    proxy: Proxy
    backend: AzureMLBackend
    project: Path
    code: list[Storage]  # the temporary containers startPendingUpload handed out for code, in order


def pending_container(azurite: Azurite, proxy: Proxy, made: list[Storage]) -> tuple[str, str]:
    """What startPendingUpload gives for code: a fresh container and a SAS for it (read, create, write)."""
    storage = Storage(azurite, f"code-{uuid.uuid4().hex[:12]}")
    storage.create()
    made.append(storage)
    return f"{proxy.url}/{azurite.account}/{storage.container}", storage.service_sas("rcw")


@pytest.fixture(params=["AccountKey", "Sas"])
def workspace(request: pytest.FixtureRequest, azurite: Azurite, tmp_path: Path) -> Iterator[Workspace]:
    storage = Storage(azurite, f"azureml-blobstore-{uuid.uuid4().hex[:12]}")
    storage.create()
    proxy = Proxy(azurite.url).start()
    code_containers: list[Storage] = []
    try:
        with fake_azure(tmp_path, datastore_credentials=request.param, storage_account=azurite.account,
                        storage_container=storage.container, account_key=azurite.key) as azure:
            if request.param == "Sas":
                azure.sas_tokens[(azurite.account, storage.container)] = storage.service_sas()
            azure.external_blobs = lambda account, container, prefix: bool(Storage(azurite, container).names(prefix))
            azure.pending_storage = lambda: pending_container(azurite, proxy, code_containers)
            backend = make_backend(azure)
            backend.storage_endpoint = proxy.url
            project = income(tmp_path)
            backend.publish(load_pipeline(project / "pipeline.yml"), endpoint="income-retrain", make_default=False, source_commit=None)
            yield Workspace(azure, storage, proxy, backend, project, code_containers)
    finally:
        proxy.stop()


def big_file(folder: Path, size: int = 2 * BLOCK_SIZE + 1024 * 1024) -> Path:
    """A data file over two 4 MiB blocks (random, so no two runs share a content hash)."""
    path = folder / "data" / f"big-{uuid.uuid4().hex[:6]}.csv"
    path.write_bytes(uuid.uuid4().bytes * (size // 16))
    return path


def data_blob(ws: Workspace, file: Path) -> str:
    [name] = [n for n in ws.storage.names("LocalUpload/") if n.endswith("/" + file.name)]
    return name


def md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


# -- the tests ------------------------------------------------------------------------------------------------------------

def test_a_small_and_a_multi_block_file_land_whole(workspace: Workspace) -> None:
    ws = workspace
    small = ws.project / "data" / "adult-nonus.csv"
    ws.backend.submit(request("rt-small", training_data=str(small)))
    name = data_blob(ws, small)
    assert ws.storage.get(name) == small.read_bytes()
    assert ws.storage.properties(name)["Content-MD5"] == md5(small.read_bytes())

    big = big_file(ws.project)
    run = ws.backend.submit(request("rt-big", training_data=str(big)))
    name = data_blob(ws, big)
    assert ws.storage.get(name) == big.read_bytes()
    assert ws.storage.blocks(name, "committed") == [BLOCK_SIZE, BLOCK_SIZE, 1024 * 1024]
    assert ws.storage.blocks(name, "uncommitted") == []
    assert ws.storage.properties(name)["Content-MD5"] == md5(big.read_bytes())  # set on the block list, as the service computes none
    job = ws.azure.resources[f"{ws.azure.workspace_path}/jobs/{run.id}"]["properties"]
    version = ws.azure.resources[job["inputs"]["training_data"]["uri"]]["properties"]
    assert version["dataUri"].endswith(f"/datastores/workspaceblobstore/paths/{name}")
    # The datastore's own credential, and only it: a SAS in every URL, or Shared Key signing with none.
    signed = {"sig=" in p for _, p in ws.proxy.seen if f"/{ws.storage.container}/" in p}
    assert signed == {ws.azure.datastore_credentials == "Sas"}
    assert ws.azure.count("POST", r"/datastores/workspaceblobstore/listSecrets$") == 2  # once per submit that uploads


def test_a_blob_left_by_a_run_that_died_before_registering_it_is_not_sent_again(workspace: Workspace) -> None:
    ws = workspace
    big = big_file(ws.project)
    ws.azure.fail("PUT", r"/data/retrain-big-[^/]+/versions/", 500, times=20)  # the run dies between upload and registration
    with pytest.raises(BackendError, match="register data"):
        ws.backend.submit(request("rt-died", training_data=str(big)))
    name = data_blob(ws, big)
    etag = ws.storage.properties(name)["ETag"]
    ws.azure.faults.clear()

    before = len(ws.proxy.seen)
    run = ws.backend.submit(request("rt-again", training_data=str(big)))
    sent = ws.proxy.seen[before:]
    assert [m for m, p in sent if name.split("/")[-1] in p] == ["HEAD"]  # its properties read, nothing written
    assert ws.storage.properties(name)["ETag"] == etag
    assert ws.storage.blocks(name, "uncommitted") == []
    assert run.id == "rt-again" and len([k for k in ws.azure.resources if "/data/retrain-big" in k]) == 1


def test_lost_answers_and_busy_storage_are_retried(workspace: Workspace) -> None:
    ws = workspace
    big = big_file(ws.project)
    ws.proxy.fail("PUT", r"comp=block&", "drop")  # stored, answer lost: the same block is staged again
    ws.proxy.fail("PUT", r"comp=block&", "503")
    ws.proxy.fail("PUT", r"comp=blocklist", "drop")  # committed, answer lost: the retry meets the blob (409), done
    run = ws.backend.submit(request("rt-retried", training_data=str(big)))
    name = data_blob(ws, big)
    assert ws.storage.get(name) == big.read_bytes()
    assert ws.storage.blocks(name, "committed") == [BLOCK_SIZE, BLOCK_SIZE, 1024 * 1024]
    assert ws.storage.blocks(name, "uncommitted") == []
    assert ws.proxy.count("PUT", r"comp=blocklist") == 2 and ws.proxy.count("PUT", r"comp=block&") == 5
    assert run.id == "rt-retried"


def uploaded_but_not_registered(ws: Workspace) -> tuple[Path, str]:
    """A submit whose data version could not be registered (the service answered 500): the data file's blob is
    in storage, its data version is not. The file and its blob's name."""
    small = ws.project / "data" / "adult-nonus.csv"
    ws.azure.fail("PUT", r"/data/retrain-adult-nonus/versions/", 500, times=20)
    with pytest.raises(BackendError):
        ws.backend.submit(request("rt-first", training_data=str(small)))
    ws.azure.faults.clear()
    return small, data_blob(ws, small)


def test_another_blob_under_the_name_is_replaced_conditionally(workspace: Workspace) -> None:
    ws = workspace
    small, name = uploaded_but_not_registered(ws)
    ws.storage.put(name, b"x,y\n1,2\n")  # another tool wrote something else there

    ws.backend.submit(request("rt-replaced", training_data=str(small)))
    assert ws.storage.get(name) == small.read_bytes()
    [put] = [p for m, p in ws.proxy.seen if m == "PUT" and p.split("?")[0].endswith("/adult-nonus.csv")][-1:]
    assert "comp" not in put


def test_component_code_lands_in_its_pending_upload_container(workspace: Workspace) -> None:
    ws = workspace  # the fixture published the income sample: its components' code went to Azurite
    assert ws.code, "no code was uploaded"
    for storage in ws.code:
        names = storage.names()
        assert names
        for name in names:
            local = next(p for p in ws.project.rglob(Path(name).name) if p.as_posix().endswith(name))
            assert storage.get(name) == local.read_bytes()
            assert storage.blocks(name, "uncommitted") == []
    assert all("sig=" in p for m, p in ws.proxy.seen if m == "PUT" and "/code-" in p)


def test_a_blob_changed_between_reading_and_writing_is_left_alone(workspace: Workspace) -> None:
    ws = workspace
    small, name = uploaded_but_not_registered(ws)
    ws.storage.put(name, b"x,y\n1,2\n")
    # Between retrain's read of the properties and its write, another writer puts a third version there.
    ws.proxy.fail("PUT", r"/adult-nonus\.csv", lambda: ws.storage.put(name, b"x,y\n3,4\n"))
    with pytest.raises(BackendError) as e:
        ws.backend.submit(request("rt-raced", training_data=str(small)))
    assert "Azure Storage answered 412 ConditionNotMet" in str(e.value) and "datastore workspaceblobstore" in str(e.value)
    assert ws.storage.get(name) == b"x,y\n3,4\n"  # the other writer's blob is not overwritten
    assert not any("/jobs/" in k for k in ws.azure.resources)


def test_the_command_line_uploads_to_the_storage_endpoint_it_is_given(workspace: Workspace, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from retrain.cli.main import main

    ws = workspace
    project, environ = income_on_azure(tmp_path / "cli", ws.azure, monkeypatch)
    environ["RETRAIN_STORAGE_ENDPOINT"] = ws.proxy.url  # path-style, as for a private cloud or the emulator
    code = main(["submit", "income", "--set", "training_data=data/adult-nonus.csv", "--no-wait"], environ)
    out, err = capsys.readouterr()
    assert code == 0, out + err
    data = project / "data" / "adult-nonus.csv"
    assert ws.storage.get(data_blob(ws, data)) == data.read_bytes()
    if ws.azure.datastore_credentials == "Sas":
        assert ws.azure.sas_tokens[(ws.azure.storage_account, ws.storage.container)].split("sig=")[1] not in out + err


def test_a_rotated_key_or_sas_is_refused_by_storage_and_said(workspace: Workspace) -> None:
    from retrain.errors import CredentialError

    ws = workspace
    ws.azure.stale_secrets = True  # the datastore still holds the key (or SAS signature) from before a rotation
    with pytest.raises(CredentialError) as e:
        ws.backend.submit(request("rt-stale", training_data=str(ws.project / "data" / "adult-nonus.csv")))
    assert "datastore workspaceblobstore" in str(e.value) and "update the datastore's credentials" in str(e.value)
    assert "403 AuthenticationFailed" in str(e.value) or "403 AuthorizationFailure" in str(e.value), str(e.value)
    assert ws.storage.names("LocalUpload/") == [] and not any("/jobs/" in k for k in ws.azure.resources)
