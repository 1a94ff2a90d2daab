"""Check runs through the REST Checks API, within its documented limits.

One check run per pipeline and commit, named ``retrain / <pipeline>``. A re-run of the workflow finds
the check run it created before (same name, same commit, same ``external_id``) and updates it instead of
adding a second one. Summaries and texts are cut to 65535 bytes of UTF-8 (GitHub counts bytes, though its
reference says characters) with a note saying how much was cut; annotations go 50 per request (GitHub
appends the annotations of each update).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .api import GitHubAPI

MAX_TEXT = 65535  # bytes
MAX_ANNOTATIONS = 50
PROGRESS_RETRY_S = 8.0  # how long a progress update's retries may wait


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


class Checks:
    """The check runs of one commit."""

    def __init__(self, api: GitHubAPI, head_sha: str) -> None:
        self.api = api
        self.head_sha = head_sha

    def find(self, name: str, external_id: str | None = None) -> CheckRun | None:
        """The newest check run with this name on the commit (and this external_id, when given)."""
        data = self.api.request("GET", f"/commits/{self.head_sha}/check-runs", params={"check_name": name, "filter": "latest"})
        for run in data.get("check_runs", []):
            if run.get("name") == name and (external_id is None or run.get("external_id") == external_id):
                return CheckRun(int(run["id"]), str(run.get("status")), run.get("external_id"))
        return None

    def create(self, name: str, *, status: str, output: Output, details_url: str | None = None,
               external_id: str | None = None, conclusion: str | None = None,
               annotations: Sequence[Annotation] = ()) -> int:
        body = {"name": name, "head_sha": self.head_sha,
                **_fields(status, output, details_url, external_id, conclusion, annotations)}
        if status == "in_progress":
            body["started_at"] = now()
        created = self.api.request("POST", "/check-runs", json=body)
        check_id = int(created["id"])
        self._more_annotations(check_id, output, annotations[MAX_ANNOTATIONS:])
        return check_id

    def update(self, check_id: int, *, status: str | None = None, output: Output | None = None,
               details_url: str | None = None, external_id: str | None = None, conclusion: str | None = None,
               annotations: Sequence[Annotation] = (), patient: bool = True) -> None:
        """``patient=False`` for a progress update: a short retry, since the next update carries the same news
        and the run being followed must not wait on GitHub."""
        body = _fields(status, output, details_url, external_id, conclusion, annotations)
        self.api.request("PATCH", f"/check-runs/{check_id}", json=body, budget_s=None if patient else PROGRESS_RETRY_S)
        if output is not None:
            self._more_annotations(check_id, output, annotations[MAX_ANNOTATIONS:])

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
