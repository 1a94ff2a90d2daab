"""Write files to Azure Blob Storage over its REST API, the way azure-storage-blob does for azure-ai-ml.

A file up to one block is one Put Blob; a larger one is streamed as Put Block calls of ``BLOCK_SIZE``
bytes and committed with Put Block List, so memory stays at one block whatever the file's size. Every
write is conditional (``If-None-Match: *``): blobs live under a content hash, so one that exists already
holds the same bytes and is left as it is (409 BlobAlreadyExists counts as done). Every blob carries its
Content-MD5 (the service computes it for Put Blob; Put Block List is given ``x-ms-blob-content-md5``).

A writer made with ``probe=True`` (repository data, which may have been uploaded by a run that died before
registering it) first reads the blob's properties, as azure-ai-ml reads its upload's first blob: a blob of
the same length and Content-MD5 is the same file and nothing is sent; a different one (an earlier upload
by another tool) is replaced with ``If-Match`` on the ETag just read, so the write stays conditional.
Without the probe, a file over one block would be sent again in full and its blocks left uncommitted
when the final Put Block List meets the existing blob.

Three credentials, as a datastore hands them out:
- an account key: Shared Key signing of each request (the key itself never leaves this process);
- a SAS token: appended to each URL (and never written to a message);
- none (identity-based datastore): the caller's Entra token for https://storage.azure.com/.default, which
  the blob service accepts only with x-ms-version 2017-11-09 or later.

Retries: the session retries PUTs on 429/5xx and dropped connections; each block is sent from memory, so a
retried block is the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qsl, quote, urlsplit

import requests

from ...errors import BackendError, CredentialError
from ...http import Session

BLOB_API_VERSION = "2023-11-03"  # >= 2017-11-09, the first version that takes bearer tokens
BLOCK_SIZE = 4 * 1024 * 1024
STORAGE_SCOPE = "https://storage.azure.com/.default"


@dataclass(frozen=True)
class BlobCredential:
    """How to authenticate to one storage account. Secrets are kept out of ``repr``."""

    kind: str  # "AccountKey" | "Sas" | "Identity"
    account: str
    key: str | None = field(default=None, repr=False)
    sas: str | None = field(default=None, repr=False)
    token: Callable[[], str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class BlobContainer:
    """A container URL and its credential; ``where`` names it for messages (e.g. "datastore workspaceblobstore")."""

    url: str
    credential: BlobCredential
    where: str

    def blob_url(self, name: str) -> str:
        return f"{self.url.rstrip('/')}/{quote(name)}"


def _shared_key(request: requests.PreparedRequest, account: str, key: str) -> str:
    """The Shared Key signature of a prepared request (Azure Storage "Authorize with Shared Key")."""
    h = {k.lower(): v if isinstance(v, str) else v.decode() for k, v in request.headers.items()}
    length = h.get("content-length", "")
    parts = [str(request.method), h.get("content-encoding", ""), h.get("content-language", ""),
             "" if length == "0" else length, h.get("content-md5", ""), h.get("content-type", ""), "",
             h.get("if-modified-since", ""), h.get("if-match", ""), h.get("if-none-match", ""),
             h.get("if-unmodified-since", ""), h.get("range", "")]
    canonical_headers = "".join(f"{k}:{h[k].strip()}\n" for k in sorted(h) if k.startswith("x-ms-"))
    url = urlsplit(str(request.url))
    query: dict[str, list[str]] = {}
    for k, v in parse_qsl(url.query, keep_blank_values=True):
        query.setdefault(k.lower(), []).append(v)
    resource = f"/{account}{url.path}" + "".join(f"\n{k}:{','.join(sorted(query[k]))}" for k in sorted(query))
    to_sign = "\n".join(parts) + "\n" + canonical_headers + resource
    try:
        secret = base64.b64decode(key, validate=True)
    except ValueError:
        raise CredentialError(f"the account key of storage account {account} is not base64; check the datastore's credentials.") from None
    signature = base64.b64encode(hmac.new(secret, to_sign.encode(), hashlib.sha256).digest()).decode()
    return f"SharedKey {account}:{signature}"


class _Auth(requests.auth.AuthBase):
    def __init__(self, credential: BlobCredential) -> None:
        self.credential = credential

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        c = self.credential
        request.headers["x-ms-date"] = formatdate(usegmt=True)
        if c.kind == "AccountKey" and c.key:
            request.headers["Authorization"] = _shared_key(request, c.account, c.key)
        elif c.kind == "Identity" and c.token:
            request.headers["Authorization"] = f"Bearer {c.token()}"
        return request

    def __repr__(self) -> str:
        return f"BlobAuth({self.credential.kind})"


def _with_sas(url: str, credential: BlobCredential) -> str:
    if credential.kind != "Sas" or not credential.sas:
        return url
    return f"{url}{'&' if '?' in url else '?'}{credential.sas.lstrip('?')}"


def _blocks(stream: BinaryIO, size: int) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk


def content_md5(file: Path) -> str:
    """The file's MD5 as blob storage's Content-MD5 property holds it (base64), read in blocks."""
    digest = hashlib.md5(usedforsecurity=False)
    with file.open("rb") as stream:
        for chunk in _blocks(stream, 1 << 20):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


class BlobWriter:
    def __init__(self, session: Session, container: BlobContainer, *, block_size: int = BLOCK_SIZE, probe: bool = False) -> None:
        self.session = session
        self.container = container
        self.block_size = block_size
        self.probe = probe
        self.auth = _Auth(container.credential)

    def _send(self, method: str, name: str, query: str, data: bytes | None, headers: dict[str, str], what: str) -> requests.Response:
        url = _with_sas(self.container.blob_url(name) + (f"?{query}" if query else ""), self.container.credential)
        try:
            return self.session.request(method, url, data=data, auth=self.auth, headers={"x-ms-version": BLOB_API_VERSION, **headers})
        except requests.RequestException as e:
            raise BackendError(f"could not {what} in {self.container.where} ({type(e).__name__}) after retries; "
                               "check the network and try again.") from None

    def _put(self, name: str, query: str, data: bytes, headers: dict[str, str], what: str) -> requests.Response:
        response = self._send("PUT", name, query, data, headers, what)
        if response.status_code == 409 and response.headers.get("x-ms-error-code") == "BlobAlreadyExists":
            return response
        if response.status_code >= 400:
            raise self._error(response, what)
        return response

    def _existing(self, name: str, size: int, md5: str, what: str) -> tuple[bool, str | None]:
        """Get Blob Properties: (the blob holds this file already, the ETag of another blob at the name)."""
        response = self._send("HEAD", name, "", None, {}, what)
        if response.status_code == 404:
            return False, None
        if response.status_code >= 400:
            raise self._error(response, what)
        same = (response.headers.get("Content-Length") == str(size) and response.headers.get("Content-MD5") == md5)
        return same, None if same else response.headers.get("ETag")

    def _error(self, response: requests.Response, what: str) -> Exception:
        code = response.headers.get("x-ms-error-code", "")
        where = self.container.where
        kind = self.container.credential.kind
        if response.status_code in (401, 403):
            if kind == "Identity":
                return CredentialError(
                    f"could not {what} in {where}: Azure Storage refused the identity ({response.status_code} {code}). The datastore "
                    f"uses identity-based access: give the identity the 'Storage Blob Data Contributor' role on storage account "
                    f"{self.container.credential.account} (or give the datastore an account key or SAS).")
            if kind == "Sas":
                return CredentialError(
                    f"could not {what} in {where}: Azure Storage refused the datastore's SAS token ({response.status_code} {code}). "
                    "It may have expired or lack read (r), write (w) and create (c) permissions: update the datastore's credentials.")
            return CredentialError(
                f"could not {what} in {where}: Azure Storage refused the datastore's account key ({response.status_code} {code}). "
                "The key may have been rotated: update the datastore's credentials in the workspace.")
        return BackendError(f"could not {what} in {where}: Azure Storage answered {response.status_code} {code}; try again.")

    def upload(self, file: Path, name: str) -> str:
        """Write ``file`` as block blob ``name``; return "created", "existed" or "replaced"."""
        size = file.stat().st_size
        what = f"upload {file.name}"
        condition = {"If-None-Match": "*"}
        if self.probe:
            same, etag = self._existing(name, size, content_md5(file), what)
            if same:
                return "existed"
            if etag:  # another blob under this name: replace that very one, and only it
                condition = {"If-Match": etag}
        with file.open("rb") as stream:
            if size <= self.block_size:
                response = self._put(name, "", stream.read(), {"x-ms-blob-type": "BlockBlob", **condition,
                                                                "Content-Type": "application/octet-stream"}, what)
            else:
                ids = []
                digest = hashlib.md5(usedforsecurity=False)  # the blob's Content-MD5, taken as the blocks go
                for index, block in enumerate(_blocks(stream, self.block_size)):
                    block_id = base64.b64encode(f"{index:08d}".encode()).decode()  # same length for every block, as required
                    self._put(name, f"comp=block&blockid={quote(block_id, safe='')}", block, {}, what)
                    digest.update(block)
                    ids.append(block_id)
                body = ("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>"
                        + "".join(f"<Latest>{i}</Latest>" for i in ids) + "</BlockList>").encode()
                response = self._put(name, "comp=blocklist", body, {**condition, "Content-Type": "application/xml",
                                                                    "x-ms-blob-content-type": "application/octet-stream",
                                                                    "x-ms-blob-content-md5": base64.b64encode(digest.digest()).decode()},
                                     what)
        if response.status_code == 409:
            return "existed"
        return "replaced" if "If-Match" in condition else "created"


def files_of(path: Path) -> list[tuple[Path, str]]:
    """A file, or a folder's files by relative path (without __pycache__), in a stable order."""
    if path.is_file():
        return [(path, path.name)]
    return [(f, f.relative_to(path).as_posix()) for f in sorted(path.rglob("*")) if f.is_file() and "__pycache__" not in f.parts]


def upload_folder(session: Session, path: Path, blob_uri: str, sas_uri: str, *, where: str) -> int:
    """Upload ``path`` under ``blob_uri`` with the SAS of a pending upload (code assets); return the count."""
    parts = urlsplit(blob_uri)
    container = BlobContainer(blob_uri, BlobCredential("Sas", parts.netloc, sas=urlsplit(sas_uri).query), where)
    writer = BlobWriter(session, container)
    files = files_of(path)
    for file, rel in files:
        writer.upload(file, rel)
    return len(files)
