"""Check runs through the REST Checks API, within its documented limits.

A check run is retrain's alone: its name is never a job's (``retrain / <pipeline>``, ``retrain / parameter
file``), and its ``external_id`` carries retrain's key of the work (:func:`work_key`: commit, pipeline,
endpoint, version asked, values) and, once there is a run, the run's key (``execute.run_key``). A re-run of
the workflow finds the check run it created before by that ``external_id`` among the check runs of *its own*
GitHub App (the ``app`` a check run answers with) and updates it instead of adding a second one; a dispatch
with other values has another key, so another check run. A check run of another App is never a candidate:
GitHub answers 403 "can only be modified by the GitHub App that created it" to an update of one, which is
:class:`NotOurCheck` here, not a missing permission.

Summaries and texts are cut to 65535 bytes of UTF-8 (GitHub counts bytes, though its reference says
characters) with a note saying how much was cut; annotations go 50 per request (GitHub appends the
annotations of each update).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from ..http import make_session
from .api import GitHubAPI, GitHubError, GitHubForbidden

MAX_TEXT = 65535  # bytes
MAX_ANNOTATIONS = 50
PROGRESS_RETRY_S = 8.0  # how long a progress update's retries may wait
WORK_PREFIX = "rc-"  # a work key; a run key (execute.run_key) starts with "rt-"
# GitHub's answer to an update of another App's check run (HTTP 403), e.g.
# "Invalid app_id `15368` - check run can only be modified by the GitHub App that created it."
NOT_OWNER = "can only be modified by the GitHub App that created it"


class NotOurCheck(GitHubError):
    """The check run belongs to another GitHub App: not ours to update (not a missing permission)."""


def work_key(commit: str, what: str, **identity: object) -> str:
    """The key of one piece of work on a commit (a pipeline with its endpoint, version asked and values;
    the parameter file): the same work on the same commit has the same key, other values another."""
    body = json.dumps({"commit": commit, "what": what, **identity}, sort_keys=True, default=str)
    return WORK_PREFIX + hashlib.sha256(body.encode()).hexdigest()[:24]


def external_id(work: str | None, run_key: str | None = None) -> str | None:
    """``rc-<work>`` and, once there is a run, `` rt-<run>`` after it."""
    parts = [p for p in (work, run_key) if p]
    return " ".join(parts) if parts else None


def _keys(external: object) -> set[str]:
    return set(external.split()) if isinstance(external, str) else set()


@dataclass(frozen=True)
class Annotation:
    path: str
    start_line: int
    end_line: int
    message: str
    level: str = "failure"  # notice | warning | failure
    title: str | None = None
    start_column: int | None = None
    end_column: int | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"path": self.path, "start_line": self.start_line, "end_line": self.end_line,
                                "annotation_level": self.level, "message": self.message}
        if self.title:
            body["title"] = self.title
        # Columns are only allowed on single-line annotations.
        if self.start_column is not None and self.start_line == self.end_line:
            body["start_column"] = self.start_column
            body["end_column"] = self.end_column if self.end_column is not None else self.start_column
        return body


@dataclass(frozen=True)
class Output:
    title: str
    summary: str
    text: str | None = None

    def to_json(self, annotations: Sequence[Annotation] = ()) -> dict[str, Any]:
        body: dict[str, Any] = {"title": self.title[:255], "summary": fit(self.summary)}
        if self.text:
            body["text"] = fit(self.text)
        if annotations:
            body["annotations"] = [a.to_json() for a in annotations]
        return body


def fit(text: str, limit: int = MAX_TEXT) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text

    def note(left_out: int) -> str:
        return (f"\n\n**... cut here: the last {left_out:,} of {len(data):,} bytes are left out to fit GitHub's "
                f"{limit:,}-byte limit; the job summary has the whole report.**")

    # The longest the note can be (numbers at their largest) decides the room; never a character's middle.
    kept = data[: limit - len(note(len(data)).encode("utf-8"))].decode("utf-8", "ignore")
    return kept + note(len(data) - len(kept.encode("utf-8")))


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class CheckRun:
    id: int
    status: str
    external_id: str | None
    app_id: int | None = None


@dataclass
class Identity:
    """Which GitHub App the token acts as, learnt from the check runs it creates (an installation token
    cannot ask ``GET /app``), and the Apps whose check runs GitHub said are not ours."""

    app_id: int | None = None
    others: set[int] = field(default_factory=set)


class Checks:
    """The check runs of one commit that retrain created."""

    def __init__(self, api: GitHubAPI, head_sha: str, identity: Identity | None = None) -> None:
        self.api = api
        self.head_sha = head_sha
        self.identity = identity if identity is not None else Identity()

    def on(self, head_sha: str) -> "Checks":
        """The check runs of another commit, with what is known of the token's App."""
        return Checks(self.api, head_sha, self.identity)

    def detached(self, timeout: tuple[float, float]) -> "Checks":
        """The same check runs through a session of its own (for another thread: a session is not shared),
        whose every request times out after ``timeout`` (connect, read) seconds."""
        return Checks(replace(self.api, session=make_session(retries=0, timeout=timeout)), self.head_sha, self.identity)

    def find(self, name: str, key: str) -> CheckRun | None:
        """The newest check run named ``name`` on the commit whose ``external_id`` holds ``key`` (a work
        key or a run key), among those of the token's App when it is known, never another App's known one.

        Every check run of the name is listed (``filter=all``: ``latest`` keeps one per name, which would
        hide a dispatch's check run behind a later one)."""
        params: dict[str, str] = {"check_name": name, "filter": "all", "per_page": "100"}
        if self.identity.app_id is not None:
            params["app_id"] = str(self.identity.app_id)
        best: CheckRun | None = None
        for page in self.api.pages(f"/commits/{self.head_sha}/check-runs", params, limit=10):
            for run in (page or {}).get("check_runs", []):
                app_id = (run.get("app") or {}).get("id")
                if run.get("name") != name or key not in _keys(run.get("external_id")) or app_id in self.identity.others:
                    continue
                if self.identity.app_id is not None and app_id != self.identity.app_id:
                    continue
                if best is None or int(run["id"]) > best.id:
                    best = CheckRun(int(run["id"]), str(run.get("status")), run.get("external_id"), app_id)
        return best

    def not_ours(self, check: CheckRun) -> None:
        """GitHub refused an update of ``check``: its App is another one, never to be a candidate again."""
        if check.app_id is not None and check.app_id != self.identity.app_id:
            self.identity.others.add(check.app_id)

    def create(self, name: str, *, status: str, output: Output, details_url: str | None = None,
               external_id: str | None = None, conclusion: str | None = None,
               annotations: Sequence[Annotation] = ()) -> int:
        body = {"name": name, "head_sha": self.head_sha,
                **_fields(status, output, details_url, external_id, conclusion, annotations)}
        if status == "in_progress":
            body["started_at"] = now()
        created = self.api.request("POST", "/check-runs", json=body)
        check_id = int(created["id"])
        self._learn(created)  # what we create is ours: later look-ups ask for this App only
        self._more_annotations(check_id, output, annotations[MAX_ANNOTATIONS:])
        return check_id

    def update(self, check_id: int, *, status: str | None = None, output: Output | None = None,
               details_url: str | None = None, external_id: str | None = None, conclusion: str | None = None,
               annotations: Sequence[Annotation] = (), patient: bool = True, budget_s: float | None = None) -> None:
        """``patient=False`` for a progress update: a short retry, since the next update carries the same news
        and the run being followed must not wait on GitHub. ``budget_s`` bounds the retries outright (a
        cancel must fit in the runner's few seconds)."""
        body = _fields(status, output, details_url, external_id, conclusion, annotations)
        budget = budget_s if budget_s is not None else None if patient else PROGRESS_RETRY_S
        try:
            updated = self.api.request("PATCH", f"/check-runs/{check_id}", json=body, budget_s=budget)
        except GitHubForbidden as e:
            if NOT_OWNER in str(e):
                raise NotOurCheck(f"check run {check_id} belongs to another GitHub App; retrain leaves it alone.", 403) from None
            raise
        self._learn(updated)  # GitHub let us update it: its App is ours
        if output is not None:
            self._more_annotations(check_id, output, annotations[MAX_ANNOTATIONS:])

    def _learn(self, check_run: object) -> None:
        app_id = ((check_run.get("app") or {}) if isinstance(check_run, dict) else {}).get("id")
        if isinstance(app_id, int) and self.identity.app_id is None:
            self.identity.app_id = app_id

    def _more_annotations(self, check_id: int, output: Output, rest: Sequence[Annotation]) -> None:
        for i in range(0, len(rest), MAX_ANNOTATIONS):
            self.api.request("PATCH", f"/check-runs/{check_id}", json={"output": output.to_json(rest[i : i + MAX_ANNOTATIONS])})


def _fields(status: str | None, output: Output | None, details_url: str | None, external_id: str | None,
            conclusion: str | None, annotations: Sequence[Annotation]) -> dict[str, Any]:
    """The fields a create and an update share; a conclusion always comes with completed."""
    body: dict[str, Any] = {}
    if status:
        body["status"] = status
    if details_url:
        body["details_url"] = details_url
    if external_id:
        body["external_id"] = external_id
    if conclusion:
        body.update(status="completed", conclusion=conclusion, completed_at=now())
    if output is not None:
        body["output"] = output.to_json(annotations[:MAX_ANNOTATIONS])
    return body
