"""A small GitHub REST client: one session, the documented headers, one place mapping statuses to errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from ..errors import BackendError
from ..http import Session, make_session

API_VERSION = "2022-11-28"


class GitHubError(BackendError):
    """GitHub refused a request; the message says what to do."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GitHubForbidden(GitHubError):
    """403: the token may not do this (e.g. checks on a fork's pull request)."""


@dataclass
class GitHubAPI:
    api_url: str  # GITHUB_API_URL, e.g. https://api.github.com or a GitHub Enterprise URL
    repository: str  # owner/name
    token: str = field(repr=False)
    session: Session = field(default_factory=make_session, repr=False)

    def request(self, method: str, path: str, *, json: Mapping[str, Any] | None = None,
                params: Mapping[str, str] | None = None) -> Any:
        url = f"{self.api_url.rstrip('/')}/repos/{self.repository}{path}"
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        try:
            response = self.session.request(method, url, json=json, params=params, headers=headers)
        except requests.RequestException as e:
            raise GitHubError(f"could not reach GitHub at {self.api_url} ({type(e).__name__}). Check GITHUB_API_URL and the network.") from None
        if response.status_code >= 400:
            raise _error(method, path, response)
        return response.json() if response.content else None


def _error(method: str, path: str, response: requests.Response) -> GitHubError:
    status = response.status_code
    try:
        detail = str(response.json().get("message") or "")
    except ValueError:
        detail = response.text[:200]
    what = f"GitHub answered {status} to {method} {path}" + (f": {detail}" if detail else "")
    if status == 401:
        return GitHubError(f"{what}. The github-token input is missing or expired.", status)
    if status == 403:
        return GitHubForbidden(
            f"{what}. The token may not write checks: give the job `permissions: checks: write` "
            "(a pull request from a fork never gets it).", status)
    if status == 404:
        return GitHubError(f"{what}. Check the repository name and that the token can see it.", status)
    if status == 422:
        return GitHubError(f"{what}. GitHub rejected the request's content.", status)
    return GitHubError(f"{what}.", status)

