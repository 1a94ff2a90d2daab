"""A container registry on loopback, as GHCR answers an anonymous client.

The wire format is the OCI distribution spec (``GET /v2/<name>/manifests/<reference>``, ``GET
/v2/<name>/blobs/<digest>``, ``Docker-Content-Digest``, the ``{"errors": [...]}`` body) with Docker's
token authentication (a 401 whose ``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` names where
to ask for a token, and the token endpoint answering ``{"token": ...}``). A private repository gives an
anonymous client no token (403 ``DENIED``), as GHCR does for a package that is not public. Images are put
in with ``push_image`` in the shape buildx pushes a multi-platform build: an OCI image index of one image
manifest per platform (each with its config, whose ``config.Labels`` carry the build's labels) plus an
attestation manifest for platform ``unknown/unknown``. Shapes: the OCI image spec (image-index.md,
manifest.md, config.md); sources in tests/fixtures/README.md.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import serve

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class FakeRegistry:
    public: set[str] = field(default_factory=set)  # repository names an anonymous client may pull
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (name, tag or digest) -> body
    tokens: dict[str, str] = field(default_factory=dict)  # token -> repository it may pull
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def start(self) -> "FakeRegistry":
        self._server = serve(self._handle, ("GET", "HEAD"))
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------------------------------- test side

    def _blob(self, data: bytes) -> dict[str, Any]:
        self.blobs[digest(data)] = data
        return {"digest": digest(data), "size": len(data)}

    def push_image(self, name: str, tag: str, platforms: list[str], labels: dict[str, str]) -> str:
        """What ``docker buildx build --platform ... --push`` leaves: returns the index's digest."""
        entries = []
        for plat in platforms:
            os_, arch = plat.split("/")
            layer = self._blob(f"layer of {plat} {secrets.token_hex(4)}".encode())
            config = json.dumps({"architecture": arch, "os": os_,
                                 "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Labels": labels},
                                 "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode()
            manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                                   "config": {"mediaType": CONFIG, **self._blob(config)},
                                   "layers": [{"mediaType": LAYER, **layer}]}).encode()
            self.manifests[(name, digest(manifest))] = manifest
            entries.append({"mediaType": MANIFEST, "digest": digest(manifest), "size": len(manifest),
                            "platform": {"architecture": arch, "os": os_}})
        attestation = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                                  "config": {"mediaType": CONFIG, **self._blob(b"{}")}, "layers": []}).encode()
        self.manifests[(name, digest(attestation))] = attestation
        entries.append({"mediaType": MANIFEST, "digest": digest(attestation), "size": len(attestation),
                        "annotations": {"vnd.docker.reference.digest": entries[0]["digest"],
                                        "vnd.docker.reference.type": "attestation-manifest"},
                        "platform": {"architecture": "unknown", "os": "unknown"}})
        index = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries}).encode()
        self.manifests[(name, digest(index))] = index
        self.manifests[(name, tag)] = index
        return digest(index)

    # ----------------------------------------------------------------------------------- wire side

    def _errors(self, h: BaseHTTPRequestHandler, status: int, code: str, message: str,
                headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(h.path)
        self.requests.append((h.command, url.path, dict(h.headers)))
        if url.path == "/token":
            return self._token(h, urllib.parse.parse_qs(url.query))
        parts = url.path.split("/")
        # /v2/<owner>/<repo>/(manifests|blobs)/<reference>
        if len(parts) != 6 or parts[1] != "v2" or parts[4] not in ("manifests", "blobs"):
            return self._errors(h, 404, "NAME_UNKNOWN", "repository name not known to registry")
        name, kind, reference = f"{parts[2]}/{parts[3]}", parts[4], parts[5]
        auth = h.headers.get("Authorization", "")
        if self.tokens.get(auth.removeprefix("Bearer ")) != name:
            challenge = (f'Bearer realm="http://{self.host}/token",service="{self.host}",'
                         f'scope="repository:{name}:pull"')
            return self._errors(h, 401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
        if kind == "blobs":
            data = self.blobs.get(reference)
            if data is None:
                return self._errors(h, 404, "BLOB_UNKNOWN", "blob unknown to registry")
            return self._send(h, data, "application/octet-stream", reference)
        body = self.manifests.get((name, reference))
        if body is None:
            return self._errors(h, 404, "MANIFEST_UNKNOWN", "manifest unknown")
        media_type = json.loads(body)["mediaType"]
        accepted = [a.split(";")[0].strip() for a in h.headers.get("Accept", "").split(",")]
        if media_type not in accepted:
            self.violations.append(f"GET manifest {reference} accepts {accepted}, not its type {media_type}")
        self._send(h, body, media_type, digest(body))

    def _send(self, h: BaseHTTPRequestHandler, body: bytes, content_type: str, content_digest: str) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Docker-Content-Digest", content_digest)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _token(self, h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        if "Authorization" in h.headers:
            self.violations.append("the token request carried credentials; the check must be anonymous")
        scope = (query.get("scope") or [""])[0]
        if query.get("service") != [self.host]:
            self.violations.append(f"token request for service {query.get('service')}, the challenge said {self.host}")
        _, name, actions = (scope.split(":") + ["", "", ""])[:3]
        if name not in self.public or "pull" not in actions.split(","):
            return self._errors(h, 403, "DENIED", "requested access to the resource is denied")
        token = secrets.token_hex(8)
        self.tokens[token] = name
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
