"""GitHub's Releases API and a repository's tags, on loopback, with immutable releases switched on.

The repository is a bare git repository (``origin``) that the release script pushes to. The API answers
"Get a release by tag name" (``GET /repos/{owner}/{repo}/releases/tags/{tag}``: 200 or 404) and "Create a
release" (``POST /repos/{owner}/{repo}/releases``: 201, or 422 ``already_exists`` on ``tag_name``) as
GitHub's REST reference describes them (API version 2022-11-28, github/rest-api-description), checking the
request body's fields against the documented ones. Once a release exists its tag is immutable: the bare
repository's ``update`` hook refuses to move or delete it, as GitHub does for immutable releases. What a
test checks: ``created`` records, for each release, the commit its tag pointed at when it was created.
"""

from __future__ import annotations

import json
import secrets
import stat
import subprocess
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.fakes.loopback import serve

CREATE_FIELDS = {"tag_name", "target_commitish", "name", "body", "draft", "prerelease",
                 "discussion_category_name", "generate_release_notes", "make_latest"}
DOCS = "https://docs.github.com/rest/releases/releases"

# Refuses any change to a tag listed in the file beside the hook: the tags of published releases.
UPDATE_HOOK = """#!/bin/sh
ref="$1"
case "$ref" in refs/tags/*) ;; *) exit 0;; esac
if grep -qxF "${ref#refs/tags/}" "$(dirname "$0")/immutable-tags" 2>/dev/null; then
    echo "error: ${ref#refs/tags/} belongs to an immutable release and cannot be moved or deleted" >&2
    exit 1
fi
"""


@dataclass
class FakeReleases:
    origin: Path  # a bare repository
    repository: str = "Octo-Org/Retrain"
    token: str = field(default_factory=lambda: "ghs_" + secrets.token_hex(10))
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)  # tag -> release
    created: dict[str, str] = field(default_factory=dict)  # tag -> commit the tag named at creation
    requests: list[tuple[str, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def start(self) -> "FakeReleases":
        hook = self.origin / "hooks" / "update"
        hook.write_text(UPDATE_HOOK)
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
        (self.origin / "hooks" / "immutable-tags").touch()
        self._server = serve(self._handle, ("GET", "POST"))
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def tag_commit(self, tag: str) -> str | None:
        proc = subprocess.run(["git", "-C", str(self.origin), "rev-parse", "--verify", "-q", f"refs/tags/{tag}^{{commit}}"],
                              capture_output=True, text=True, check=False)
        return proc.stdout.strip() or None

    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        self.requests.append((h.command, h.path))
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._reply(h, 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                                        "status": "401"})
        prefix = f"/repos/{self.repository}/releases"
        if h.command == "GET" and h.path.startswith(prefix + "/tags/"):
            release = self.releases.get(h.path.removeprefix(prefix + "/tags/"))
            if release is None:
                return self._reply(h, 404, {"message": "Not Found", "status": "404",
                                            "documentation_url": f"{DOCS}#get-a-release-by-tag-name"})
            return self._reply(h, 200, release)
        if h.command == "POST" and h.path == prefix:
            return self._create(h, json.loads(h.rfile.read(int(h.headers.get("Content-Length", 0))) or b"{}"))
        self._reply(h, 404, {"message": "Not Found", "status": "404", "documentation_url": "https://docs.github.com/rest"})

    def _create(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        unknown = set(body) - CREATE_FIELDS
        if unknown or "tag_name" not in body:
            self.violations.append(f"create release: unknown fields {sorted(unknown)} or no tag_name")
            return self._reply(h, 422, {"message": "Invalid request.", "status": "422",
                                        "documentation_url": f"{DOCS}#create-a-release"})
        if body.get("make_latest", "true") not in ("true", "false", "legacy"):
            self.violations.append(f"make_latest {body['make_latest']!r} is not true, false or legacy")
        tag = body["tag_name"]
        if tag in self.releases:
            return self._reply(h, 422, {"message": "Validation Failed", "status": "422",
                                        "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
                                        "documentation_url": f"{DOCS}#create-a-release"})
        commit = self.tag_commit(tag)
        if commit is None:  # GitHub would make the tag from target_commitish: never what a release of ours wants
            self.violations.append(f"release {tag} created before its tag exists")
        self.created[tag] = commit or ""
        number = len(self.releases) + 1
        base = f"https://api.github.com/repos/{self.repository}/releases/{number}"
        self.releases[tag] = {
            "url": base, "html_url": f"https://github.com/{self.repository}/releases/tag/{tag}",
            "assets_url": f"{base}/assets",
            "upload_url": f"https://uploads.github.com/repos/{self.repository}/releases/{number}/assets{{?name,label}}",
            "tarball_url": f"https://api.github.com/repos/{self.repository}/tarball/{tag}",
            "zipball_url": f"https://api.github.com/repos/{self.repository}/zipball/{tag}",
            "id": number, "node_id": f"RE_{number}", "tag_name": tag,
            "target_commitish": body.get("target_commitish", "main"), "name": body.get("name", tag),
            "body": body.get("body", ""), "draft": bool(body.get("draft", False)),
            "prerelease": bool(body.get("prerelease", False)), "immutable": True,
            "created_at": "2026-12-04T12:00:00Z", "published_at": "2026-12-04T12:00:00Z",
            "author": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}, "assets": [],
        }
        with (self.origin / "hooks" / "immutable-tags").open("a") as f:
            f.write(tag + "\n")
        self._reply(h, 201, self.releases[tag])
