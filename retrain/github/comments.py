"""One sticky comment on a pull request: created once, then edited in place on every later run.

Our comment is found by a hidden HTML marker in its body AND its author being the token's own: the user of a
personal token (``GET /user``), or, for an installation token such as ``GITHUB_TOKEN`` (which may not read
``/user``: 403 "Resource not accessible by integration"), a bot (``github-actions[bot]``). A comment someone
else wrote, even quoting the marker, is never edited. Issue comments API (REST, 2022-11-28):
``GET/POST /repos/{owner}/{repo}/issues/{number}/comments``, ``PATCH /repos/{owner}/{repo}/issues/comments/{id}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .api import GitHubAPI, GitHubError

MAX_BODY = 65536  # characters GitHub accepts in a comment's body
CUT_NOTE = "\n\n_(cut: the comment reached GitHub's limit of 65536 characters; the check run has the whole report)_\n"


def marker(key: str) -> str:
    """The hidden line that marks our comment; ``key`` tells apart workflows for different parameter files."""
    return f"<!-- retrain:review {key.replace('--', '-')} -->"


@dataclass(frozen=True)
class Posted:
    id: int
    url: str
    created: bool  # False: an earlier comment was edited


class StickyComment:
    def __init__(self, api: GitHubAPI, number: int, key: str) -> None:
        self.api = api
        self.number = number
        self.marker = marker(key)
        self._me: tuple[str | None] | None = None

    def whoami(self) -> str | None:
        """The token's user login; None for an installation token (its comments are a bot's)."""
        if self._me is None:
            try:
                user = self.api.request_root("GET", "/user")
                self._me = (str(user.get("login")) if isinstance(user, dict) and user.get("login") else None,)
            except GitHubError as e:
                if e.status not in (401, 403):
                    raise
                self._me = (None,)
        return self._me[0]

    def _ours(self, comment: Any) -> bool:
        if not isinstance(comment, dict) or self.marker not in str(comment.get("body") or ""):
            return False
        user = comment.get("user") or {}
        me = self.whoami()
        if me is not None:
            return bool(user.get("login") == me)
        return bool(user.get("type") == "Bot" and str(user.get("login", "")).endswith("[bot]"))

    def find(self) -> dict[str, Any] | None:
        """Our comment on the pull request (the first, if there were ever two)."""
        for page in self.api.pages(f"/issues/{self.number}/comments", {"per_page": "100"}, limit=50):
            for comment in page or []:
                if self._ours(comment):
                    return comment  # type: ignore[no-any-return]
        return None

    def post(self, text: str) -> Posted:
        """Create our comment, or edit the one we made before, to ``text`` (the marker is added)."""
        body = f"{self.marker}\n{text}"
        if len(body) > MAX_BODY:
            body = body[: MAX_BODY - len(CUT_NOTE)] + CUT_NOTE
        found = self.find()
        if found is not None:
            if found.get("body") == body:
                return Posted(int(found["id"]), str(found.get("html_url") or ""), False)
            edited = self.api.request("PATCH", f"/issues/comments/{int(found['id'])}", json={"body": body})
            return Posted(int(edited["id"]), str(edited.get("html_url") or ""), False)
        made = self.api.request("POST", f"/issues/{self.number}/comments", json={"body": body})
        return Posted(int(made["id"]), str(made.get("html_url") or ""), True)
