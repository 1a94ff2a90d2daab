"""A small GitHub REST client: one session, the documented headers, one place mapping statuses to errors,
and one retry policy.

Retries follow GitHub's "Best practices for using the REST API" and what @actions/toolkit's clients do:

- 429 and 5xx answers and dropped connections are retried for requests that are safe to repeat (GET, and
  PATCH: a check-run update with the same body leaves the same state), with exponential back-off, waiting
  at least what ``Retry-After`` says.
- A rate limit (403 or 429 with ``x-ratelimit-remaining: 0``, or a message naming the secondary rate
  limit, or a ``Retry-After`` header) means the request was not processed, so it is retried for every
  method, after ``Retry-After``, the reset time, or a minute (the docs' advice for secondary limits).
  Only a 403 that is none of these is a missing permission.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from ..errors import BackendError
from ..http import Session, make_session

API_VERSION = "2022-11-28"
SAFE_TO_REPEAT = frozenset({"GET", "PATCH"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# How long the whole retrying of one request may wait: longer than a minute's secondary rate limit,
# short enough that a job does not sit out its timeout on a GitHub outage.
RETRY_BUDGET_S = 180.0
MAX_ATTEMPTS = 6


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
    # No retries in the session: this class owns the GitHub retry policy, for every method alike.
    session: Session = field(default_factory=lambda: make_session(retries=0), repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)  # wall clock: x-ratelimit-reset is epoch seconds
    retry_budget_s: float = RETRY_BUDGET_S

    def request(self, method: str, path: str, *, json: Mapping[str, Any] | None = None,
                params: Mapping[str, str] | None = None, budget_s: float | None = None) -> Any:
        """``budget_s``: how long retries of this request may wait (default :data:`RETRY_BUDGET_S`)."""
        return self._send(method, self._url(path), json=json, params=params, budget_s=budget_s).json_body

    def request_root(self, method: str, path: str) -> Any:
        """A request outside the repository, from the API's root (``GET /user``)."""
        return self._send(method, f"{self.api_url.rstrip('/')}{path}").json_body

    def pages(self, path: str, params: Mapping[str, str] | None = None, *, limit: int = 30) -> Iterator[Any]:
        """GET a paginated list: each page's body, following the ``Link: rel="next"`` header."""
        url: str | None = self._url(path)
        query: Mapping[str, str] | None = params
        for _ in range(limit):
            if url is None:
                return
            answer = self._send("GET", url, params=query)
            yield answer.json_body
            url, query = answer.next_url, None  # the next link carries the query
        return

    def _url(self, path: str) -> str:
        return f"{self.api_url.rstrip('/')}/repos/{self.repository}{path}"

    def _send(self, method: str, url: str, *, json: Mapping[str, Any] | None = None,
              params: Mapping[str, str] | None = None, budget_s: float | None = None) -> "_Answer":
        budget = self.retry_budget_s if budget_s is None else budget_s
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        path = url.split(f"/repos/{self.repository}", 1)[-1].split("?", 1)[0]
        waited = 0.0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self.session.request(method, url, json=json, params=params, headers=headers)
            except requests.RequestException as e:
                problem = f"could not reach GitHub at {self.api_url} ({type(e).__name__}). Check GITHUB_API_URL and the network."
                # A dropped connection may have delivered a POST: only requests safe to repeat are sent again.
                delay = _backoff(attempt) if method in SAFE_TO_REPEAT else None
                if delay is None or attempt == MAX_ATTEMPTS or waited + delay > budget:
                    raise GitHubError(problem) from None
                self.sleep(delay)
                waited += delay
                continue
            if response.status_code < 400:
                return _Answer(response)
            delay = self._retry_delay(method, response, attempt)
            if delay is None or attempt == MAX_ATTEMPTS or waited + delay > budget:
                raise _error(method, path, response)
            self.sleep(delay)
            waited += delay
        raise GitHubError(f"GitHub did not answer {method} {path} after {MAX_ATTEMPTS} tries.")  # not reached

    def _retry_delay(self, method: str, response: requests.Response, attempt: int) -> float | None:
        """Seconds to wait before sending again, or None when the answer is final."""
        status = response.status_code
        retry_after = _seconds(response.headers.get("Retry-After"))
        if status in (403, 429) and _rate_limited(response):
            if retry_after is not None:
                return retry_after
            reset = _seconds(response.headers.get("x-ratelimit-reset"))
            if response.headers.get("x-ratelimit-remaining") == "0" and reset is not None:
                return max(1.0, reset - self.clock())
            return max(60.0, _backoff(attempt))  # GitHub: wait at least a minute for a secondary limit
        if status in RETRY_STATUSES and method in SAFE_TO_REPEAT:
            return max(retry_after or 0.0, _backoff(attempt))
        return None


@dataclass(frozen=True)
class _Answer:
    response: requests.Response

    @property
    def json_body(self) -> Any:
        return self.response.json() if self.response.content else None

    @property
    def next_url(self) -> str | None:
        return self.response.links.get("next", {}).get("url")


def _backoff(attempt: int) -> float:
    return float(min(2 ** (attempt - 1), 30))


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message") or "") if isinstance(body, dict) else ""


def _rate_limited(response: requests.Response) -> bool:
    return (response.headers.get("x-ratelimit-remaining") == "0" or "Retry-After" in response.headers
            or "rate limit" in _message(response).lower())


def _error(method: str, path: str, response: requests.Response) -> GitHubError:
    status = response.status_code
    detail = _message(response)
    what = f"GitHub answered {status} to {method} {path}" + (f": {detail}" if detail else "")
    if status == 401:
        return GitHubError(f"{what}. The github-token input is missing or expired.", status)
    if status in (403, 429) and _rate_limited(response):
        return GitHubError(f"{what}. GitHub's rate limit held for longer than retrain waits; run the job again later.", status)
    if status == 403:
        return GitHubForbidden(
            f"{what}. The token may not write checks: give the job `permissions: checks: write` "
            "(a pull request from a fork never gets it).", status)
    if status == 404:
        return GitHubError(f"{what}. Check the repository name and that the token can see it.", status)
    if status == 422:
        return GitHubError(f"{what}. GitHub rejected the request's content.", status)
    return GitHubError(f"{what}.", status)
