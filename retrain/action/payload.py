"""GitHub's event payload (``GITHUB_EVENT_PATH``) read, checked for shape, and turned into an
:class:`~retrain.flow.event.Event`.

Every field retrain uses is checked here, once, before use: a payload of the wrong shape is bad input
(exit 2) with a message naming the field, never an internal error. The file is size-limited (GitHub caps
webhook payloads at 25 MB) and depth-limited.

Shapes follow GitHub's webhook documentation and the octokit/webhooks examples. A push payload as
*Actions* delivers it has no ``commits[].added/modified/removed`` ("Events that trigger workflows",
push): the changed files then come from the compare API (:mod:`retrain.action.main`). A webhook delivery
(``retrain plan --event-file`` with a payload saved from a webhook) may carry them; they are used when
they can be complete (at most 20 commits, not forced, not a new branch).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..escape import value as shown
from ..flow.event import Event

# GitHub includes at most this many commits in a push payload.
PUSH_COMMITS_LIMIT = 20
# GitHub caps webhook payloads at 25 MB; a larger file is not an event.
MAX_PAYLOAD_BYTES = 25 * 1024 * 1024
# Real payloads nest a few levels (repository.owner, pull_request.head.repo.owner); 64 is generous.
MAX_DEPTH = 64
CHANGE_KEYS = ("added", "modified", "removed")

NAMES = {"push": "push", "pull_request": "pull_request", "pull_request_target": "pull_request",
         "workflow_dispatch": "dispatch", "dispatch": "dispatch", "schedule": "schedule"}


def normalise_name(name: str) -> str:
    try:
        return NAMES[name]
    except KeyError:
        raise UsageError(
            f"retrain does not handle the '{name}' event. Trigger it on push, pull_request, workflow_dispatch or schedule."
        ) from None


class _Reader:
    """Typed access to a payload: each getter names the field's path when the type is wrong."""

    def __init__(self, source: str) -> None:
        self.source = source

    def wrong(self, path: str, expected: str, value: object) -> UsageError:
        # The path holds the payload's own keys: shown escaped, so a key cannot break the message's line.
        return UsageError(f"the event payload {self.source}: {shown(path)} should be {expected}, not {_type_name(value)}.")

    def obj(self, data: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.wrong(path, "an object", value)
        return value

    def text(self, data: Mapping[str, Any], key: str, path: str) -> str | None:
        value = data.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self.wrong(path, "a string", value)

    def flag(self, data: Mapping[str, Any], key: str, path: str) -> bool:
        value = data.get(key)
        if value is None or isinstance(value, bool):
            return bool(value)
        raise self.wrong(path, "true or false", value)

    def array(self, data: Mapping[str, Any], key: str, path: str) -> list[Any] | None:
        value = data.get(key)
        if value is None or isinstance(value, list):
            return value
        raise self.wrong(path, "an array", value)


def _type_name(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "true/false", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _check_depth(payload: object, source: str) -> None:
    """Iterative, so a hostile payload cannot exhaust the stack here either."""
    stack: list[tuple[object, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UsageError(f"the event payload {source} nests deeper than {MAX_DEPTH} levels; GitHub's payloads never do.")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def event_from_payload(name: str, payload: Mapping[str, Any], *, source: str = "") -> Event:
    kind = normalise_name(name)
    r = _Reader(source or "given")
    if not isinstance(payload, dict):
        raise r.wrong("the payload", "an object", payload)
    _check_depth(payload, r.source)
    repo = r.obj(payload, "repository", "repository")
    common: dict[str, Any] = {
        "default_branch": r.text(repo, "default_branch", "repository.default_branch"),
        "repository": r.text(repo, "full_name", "repository.full_name"),
    }
    if kind == "push":
        return _push(r, payload, common)
    if kind == "pull_request":
        pr = r.obj(payload, "pull_request", "pull_request")
        head = r.obj(pr, "head", "pull_request.head")
        base = r.obj(pr, "base", "pull_request.base")
        head_ref = r.text(head, "ref", "pull_request.head.ref")
        # A fork's head lives in another repository (a deleted fork's head has no repo at all): its workflow
        # gets no secrets and a read-only token, so a pull request from it is planned, never run.
        head_repo = head.get("repo")
        base_repo = base.get("repo")
        head_name = head_repo.get("full_name") if isinstance(head_repo, dict) else None
        base_name = (base_repo.get("full_name") if isinstance(base_repo, dict) else None) or common["repository"]
        return Event("pull_request", ref=f"refs/heads/{head_ref}" if head_ref else None,
                     sha=r.text(head, "sha", "pull_request.head.sha"), before=r.text(base, "sha", "pull_request.base.sha"),
                     changed_files=None, from_fork=bool(base_name) and head_name != base_name,
                     number=pr["number"] if isinstance(pr.get("number"), int) and not isinstance(pr.get("number"), bool) else None,
                     **common)
    if kind == "dispatch":
        inputs = r.obj(payload, "inputs", "inputs")
        values: dict[str, str] = {}
        for key, value in inputs.items():
            if isinstance(value, (dict, list)):
                raise r.wrong(f"inputs.{key}", "a string, number or boolean", value)
            values[str(key)] = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
        return Event("dispatch", ref=r.text(payload, "ref", "ref"), inputs=values, **common)
    return Event("schedule", **common)


def _push(r: _Reader, payload: Mapping[str, Any], common: dict[str, Any]) -> Event:
    commits = r.array(payload, "commits", "commits") or []
    forced = r.flag(payload, "forced", "forced")
    deleted = r.flag(payload, "deleted", "deleted")
    before = r.text(payload, "before", "before")
    created = r.flag(payload, "created", "created") or (before or "").strip("0") == ""
    listed: dict[str, None] = {}  # an ordered set: planning stays linear in the number of files
    has_lists = False
    for i, commit in enumerate(commits):
        if not isinstance(commit, dict):
            raise r.wrong(f"commits[{i}]", "an object", commit)
        for key in CHANGE_KEYS:
            paths = r.array(commit, key, f"commits[{i}].{key}")
            if paths is None:
                continue
            has_lists = True
            for j, path in enumerate(paths):
                if not isinstance(path, str):
                    raise r.wrong(f"commits[{i}].{key}[{j}]", "a string", path)
                listed[path] = None
    if has_lists:
        complete = not forced and not created and len(commits) < PUSH_COMMITS_LIMIT
        changed: tuple[str, ...] | None = tuple(listed)
        note = "from the payload's commits" if complete else None
    else:
        # Actions removes the lists: the files are not known until the compare API is asked.
        changed, complete, note = None, False, None
    return Event("push", ref=r.text(payload, "ref", "ref"), sha=r.text(payload, "after", "after"), before=before,
                 changed_files=changed, changed_files_complete=complete, forced=forced, deleted=deleted,
                 changes_note=note, **common)


def read_payload(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UsageError(f"the event payload {path} does not exist.") from None
    except OSError as e:
        raise UsageError(f"the event payload {path} is not readable ({e.strerror}).") from None
    if size > MAX_PAYLOAD_BYTES:
        raise UsageError(f"the event payload {path} is {size:,} bytes; GitHub's payloads are at most {MAX_PAYLOAD_BYTES:,}.")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise UsageError(f"the event payload {path} nests deeper than {MAX_DEPTH} levels; GitHub's payloads never do.") from None
    except (OSError, ValueError) as e:
        raise UsageError(f"the event payload {path} is not readable JSON ({e}).") from None
    if not isinstance(payload, dict):
        raise UsageError(f"the event payload {path} should be a JSON object, not {_type_name(payload)}.")
    return payload


def event_name_of(payload: Mapping[str, Any]) -> str:
    """The event a payload is for, when nobody said (``retrain plan --event-file``): a payload does not
    name its event, but each kind has its own fields."""
    if "pull_request" in payload:
        return "pull_request"
    if "inputs" in payload and "workflow" in payload:
        return "workflow_dispatch"
    if "schedule" in payload:
        return "schedule"
    if "before" in payload and "after" in payload:
        return "push"
    raise UsageError("cannot tell which event the payload is for; give it with --event "
                     "(push, pull_request, workflow_dispatch or schedule).")


def event_from_payload_file(name: str | None, path: Path) -> Event:
    payload = read_payload(path)
    return event_from_payload(name or event_name_of(payload), payload, source=str(path))
