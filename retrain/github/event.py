"""Build an :class:`~retrain.event.Event` from a GitHub event payload.

Payload shapes follow GitHub's webhook documentation: ``push`` (``ref``, ``before``, ``after``,
``forced``, ``commits[].added/modified/removed``, ``repository.default_branch``), ``pull_request``
(``pull_request.head.sha``), ``workflow_dispatch`` (``inputs``), ``schedule``. A push payload lists at
most 20 commits; when it may be cut short, :attr:`Event.changed_files_complete` is False so the caller
can ask the compare API (or the plan can fall back to publishing safely).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..event import Event

# GitHub includes at most this many commits in a push payload.
PUSH_COMMITS_LIMIT = 20

NAMES = {"push": "push", "pull_request": "pull_request", "pull_request_target": "pull_request",
         "workflow_dispatch": "dispatch", "dispatch": "dispatch", "schedule": "schedule"}


def normalise_name(name: str) -> str:
    try:
        return NAMES[name]
    except KeyError:
        raise UsageError(
            f"retrain does not handle the '{name}' event. Trigger it on push, pull_request, workflow_dispatch or schedule."
        ) from None


def event_from_payload(name: str, payload: Mapping[str, Any]) -> Event:
    kind = normalise_name(name)
    repo = payload.get("repository") or {}
    common: dict[str, Any] = {
        "default_branch": repo.get("default_branch"),
        "repository": repo.get("full_name"),
    }
    if kind == "push":
        commits = payload.get("commits") or []
        changed: list[str] = []
        for commit in commits:
            for key in ("added", "modified", "removed"):
                for path in commit.get(key) or []:
                    if path not in changed:
                        changed.append(path)
        forced = bool(payload.get("forced"))
        before = payload.get("before")
        created = bool(payload.get("created")) or (before or "").strip("0") == ""
        complete = not forced and not created and len(commits) < PUSH_COMMITS_LIMIT
        return Event("push", ref=payload.get("ref"), sha=payload.get("after"), before=before,
                     changed_files=tuple(changed), changed_files_complete=complete, forced=forced, **common)
    if kind == "pull_request":
        pr = payload.get("pull_request") or {}
        head = pr.get("head") or {}
        base = pr.get("base") or {}
        head_repo = (head.get("repo") or {}).get("full_name")
        base_repo = (base.get("repo") or {}).get("full_name") or repo.get("full_name")
        # A fork's head lives in another repository (a deleted fork has no repo at all).
        fork = head_repo != base_repo if base_repo else False
        return Event("pull_request", ref=f"refs/heads/{head.get('ref')}" if head.get("ref") else None,
                     sha=head.get("sha"), before=base.get("sha"), changed_files=None, from_fork=fork, **common)
    if kind == "dispatch":
        inputs = payload.get("inputs") or {}
        return Event("dispatch", ref=payload.get("ref"), inputs={str(k): "" if v is None else str(v) for k, v in inputs.items()}, **common)
    return Event("schedule", **common)


def event_from_payload_file(name: str, path: Path) -> Event:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"the event payload {path} does not exist.") from None
    except (OSError, ValueError) as e:
        raise UsageError(f"the event payload {path} is not readable JSON ({e}).") from None
    if not isinstance(payload, dict):
        raise UsageError(f"the event payload {path} is not a JSON object.")
    return event_from_payload(name, payload)
