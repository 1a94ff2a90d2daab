"""GitHub's Git database API (blobs, trees, commits, refs): objects written and a ref moved without a git binary.

Paths, bodies and answers follow github/rest-api-description (api.github.com, version 2022-11-28): ``POST
/git/blobs`` {content, encoding}, ``POST /git/trees`` {base_tree, tree: [{path, mode, type, sha}]}, ``POST
/git/commits`` {message, tree, parents}, ``GET /git/ref/{ref}`` (404 when absent), ``POST /git/refs`` {ref,
sha} (201), ``PATCH /git/refs/{ref}`` {sha, force}. A ref is only ever moved with ``force: false``: GitHub
then answers 422 "Update is not a fast forward" when someone else moved it first, which :class:`NotFastForward`
carries to the caller (who re-reads, merges and tries again).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from .api import GitHubAPI, GitHubError, GitHubForbidden


class NotFastForward(GitHubError):
    """The ref moved since it was read (422 "Update is not a fast forward", or "Reference already exists")."""


class ReadOnly(GitHubError):
    """403: the token may read the repository's contents but not write them."""


class EmptyRepository(GitHubError):
    """409 "Git Repository is empty.": GitHub keeps no objects for a repository without a commit."""


@dataclass(frozen=True)
class TreeEntry:
    path: str
    mode: str  # 100644 file, 100755 executable, 040000 folder
    type: str  # blob or tree
    sha: str


class GitDB:
    """The few Git database calls a registry needs, on one repository."""

    def __init__(self, api: GitHubAPI) -> None:
        self.api = api
        self.requests = 0  # counted for bench/registry_cost.py

    def _call(self, method: str, path: str, body: dict[str, object] | None = None,
              params: dict[str, str] | None = None) -> object:
        self.requests += 1
        try:
            return self.api.request(method, path, json=body, params=params)
        except GitHubForbidden:
            if method == "GET":
                raise GitHubError(f"GitHub answered 403 to GET {path}: the token may not read the repository's "
                                  f"contents. Give the job `permissions: contents: read` (or write).", 403) from None
            raise ReadOnly(f"GitHub answered 403 to {method} {path}: the token may read but not write the repository's "
                           f"contents. Give the job `permissions: contents: write`.", 403) from None
        except GitHubError as e:
            if e.status == 409:
                raise EmptyRepository(f"{e} The repository has no commit yet: push one, then run again.", 409) from None
            raise

    # -- refs ----------------------------------------------------------------------------------------

    def ref(self, name: str) -> str | None:
        """The commit ``refs/<name>`` points at, None when there is no such ref."""
        try:
            body = self._call("GET", f"/git/ref/{_short(name)}")
        except GitHubError as e:
            if e.status == 404:
                return None
            raise
        return str(_field(body, "object", "sha"))

    def create_ref(self, name: str, sha: str) -> None:
        try:
            self._call("POST", "/git/refs", {"ref": name, "sha": sha})
        except GitHubError as e:
            if e.status == 422:  # "Reference already exists": another job created it first
                raise NotFastForward(str(e), 422) from None
            raise

    def update_ref(self, name: str, sha: str) -> None:
        """Move the ref to ``sha``, a descendant of where it points; never forced."""
        try:
            self._call("PATCH", f"/git/refs/{_short(name)}", {"sha": sha, "force": False})
        except GitHubError as e:
            if e.status == 422:
                raise NotFastForward(str(e), 422) from None
            raise

    # -- objects -------------------------------------------------------------------------------------

    def commit_tree(self, sha: str) -> str:
        return str(_field(self._call("GET", f"/git/commits/{sha}"), "tree", "sha"))

    def tree(self, sha: str, *, recursive: bool = False) -> list[TreeEntry]:
        body = self._call("GET", f"/git/trees/{sha}", params={"recursive": "1"} if recursive else None)
        entries = _field(body, "tree")
        if not isinstance(entries, list):
            raise GitHubError(f"GitHub's answer to GET /git/trees/{sha} has no list of entries.")
        if isinstance(body, dict) and body.get("truncated"):
            raise GitHubError(f"GitHub truncated the tree {sha} (more than 100,000 entries): the registry is too large.")
        return [TreeEntry(str(e["path"]), str(e["mode"]), str(e["type"]), str(e["sha"])) for e in entries]

    def blob(self, sha: str) -> bytes:
        body = self._call("GET", f"/git/blobs/{sha}")
        content = _field(body, "content")
        if isinstance(body, dict) and body.get("encoding") == "base64":
            return base64.b64decode(str(content))
        return str(content).encode()

    def create_blob(self, data: bytes) -> str:
        body = self._call("POST", "/git/blobs", {"content": base64.b64encode(data).decode(), "encoding": "base64"})
        return str(_field(body, "sha"))

    def create_tree(self, entries: list[TreeEntry], base_tree: str | None, *, texts: dict[str, str] | None = None) -> str:
        """A tree of ``entries`` (on ``base_tree``); ``texts``: files given by their text, which GitHub writes as
        blobs itself (one request fewer than a blob each)."""
        tree: list[dict[str, object]] = [{"path": e.path, "mode": e.mode, "type": e.type, "sha": e.sha} for e in entries]
        tree += [{"path": path, "mode": "100644", "type": "blob", "content": text} for path, text in (texts or {}).items()]
        body: dict[str, object] = {"tree": tree}
        if base_tree:
            body["base_tree"] = base_tree
        return str(_field(self._call("POST", "/git/trees", body), "sha"))

    def create_commit(self, message: str, tree: str, parents: list[str]) -> str:
        return str(_field(self._call("POST", "/git/commits", {"message": message, "tree": tree, "parents": parents}), "sha"))


def _short(name: str) -> str:
    """``refs/retrain/registry`` as the ref endpoints' path takes it: ``retrain/registry``."""
    return name.removeprefix("refs/")


def _field(body: object, *keys: str) -> object:
    value = body
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise GitHubError(f"GitHub's answer has no {'.'.join(keys)}; is GITHUB_API_URL a GitHub API?")
        value = value[key]
    return value


def git_blob_sha(data: bytes) -> str:
    """The id Git gives a blob with these bytes (what GitHub answers to POST /git/blobs)."""
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
