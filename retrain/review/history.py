"""The record of an endpoint's default moves, and the way back: ``retrain history`` and ``retrain rollback``.

Every move of a default (a publish of the first version or with ``--make-default``, a passed gate,
``retrain promote``, ``promote --force``, a rollback) is recorded by the backend with the move itself: who
(the GitHub actor in the action, else the local user), when, the commit, the verdict and the reason. A
rollback reads the record to find the default before the current one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..backends.base import Backend, DefaultMove
from ..errors import NotFound, UsageError

KINDS = ("publish", "gate", "promote", "force", "rollback")


@dataclass(frozen=True)
class Mover:
    """Who moves a default, and from which commit (None at a terminal outside Git)."""

    actor: str
    commit: str | None = None


def actor_of(environ: Mapping[str, str]) -> str:
    """The GitHub actor in a workflow, else the local user (from the environment given, else the account)."""
    for name in ("GITHUB_ACTOR", "USER", "LOGNAME", "USERNAME"):
        if environ.get(name, "").strip():
            return environ[name].strip()
    try:
        import pwd  # not on Windows

        return pwd.getpwuid(os.getuid()).pw_name or "unknown"
    except (ImportError, KeyError, OSError):
        return "unknown"


def new_move(endpoint: str, to_version: int, kind: str, mover: Mover | None, *, from_version: int | None = None,
             run_id: str | None = None, verdict: str | None = None, reason: str = "", commit: str | None = None) -> DefaultMove:
    return DefaultMove(id=os.urandom(16).hex(), endpoint=endpoint, from_version=from_version, to_version=to_version, kind=kind,
                       actor=mover.actor if mover else "unknown", at=datetime.now(timezone.utc),
                       source_commit=commit or (mover.commit if mover else None), run_id=run_id, verdict=verdict,
                       reason=reason)


def recorder(backend: Backend, what: str) -> Any:
    """The backend's ``default_moves``; a backend that keeps no record says so."""
    reader = getattr(backend, "default_moves", None)
    if reader is None:
        raise UsageError(f"the {backend.kind} backend keeps no record of default moves: retrain does not move its "
                         f"endpoints' defaults, so there is nothing for {what}. See docs/review.md (history and rollback).")
    return reader


def moves(backend: Backend, endpoint: str) -> list[DefaultMove]:
    return list(recorder(backend, "retrain history")(endpoint))


def rollback_target(recorded: Sequence[DefaultMove], current: int | None) -> int | None:
    """The default before the current one: the record replayed as a stack (a move pushes its version, a
    rollback pops one), so two rollbacks in a row go back two defaults rather than undoing each other."""
    stack: list[int] = []
    for move in recorded:
        if move.kind == "rollback":
            if stack and stack[-1] == move.from_version:
                stack.pop()
            if not stack or stack[-1] != move.to_version:
                stack.append(move.to_version)
        elif not stack or stack[-1] != move.to_version:
            stack.append(move.to_version)
    if current is not None and (not stack or stack[-1] != current):
        stack.append(current)  # moved outside retrain (or past the kept record): roll back to the last recorded default
    earlier = [v for v in stack[:-1] if v != current]
    return earlier[-1] if earlier else None


def move_default(backend: Backend, endpoint: str, number: int, move: DefaultMove | None = None) -> None:
    """Make ``number`` the endpoint's default; the backend records ``move`` with it (see ``DefaultMove``)."""
    setter = getattr(backend, "set_default", None)
    if setter is None:
        raise UsageError(f"the {backend.kind} backend cannot move an endpoint's default; a promote: gate needs one that can.")
    if move is None:
        setter(endpoint, number)
    else:
        setter(endpoint, number, move)


@dataclass(frozen=True)
class Rollback:
    """A rollback done: the endpoint's default moved back from ``previous`` to ``version``."""

    endpoint: str
    previous: int
    version: int
    move: DefaultMove


def rollback(backend: Backend, endpoint: str, mover: Mover, reason: str) -> Rollback:
    """Move ``endpoint``'s default back to the one before, recording the move."""
    reader = recorder(backend, "retrain rollback")
    ep = backend.endpoint(endpoint)
    current = ep.default_version
    if current is None:
        raise NotFound(f"endpoint '{endpoint}' has no default version, so there is nothing to roll back.")
    target = rollback_target(reader(endpoint), current)
    if target is None:
        raise UsageError(f"nothing to roll back to: the record of '{endpoint}' has no default before version {current} "
                         f"(`retrain history` lists it). Make another version the default with `retrain promote`.")
    if ep.version(target) is None:
        listing = ", ".join(str(v.number) for v in ep.versions)
        raise NotFound(f"the default before version {current} was version {target}, which endpoint '{endpoint}' no longer "
                       f"has (its versions: {listing}). Promote one of them with `retrain promote`.")
    move = new_move(endpoint, target, "rollback", mover, from_version=current, reason=reason.strip(),
                    commit=ep.version(target).source_commit)  # type: ignore[union-attr]
    move_default(backend, endpoint, target, move)
    return Rollback(endpoint, current, target, move)


def move_json(move: DefaultMove) -> dict[str, Any]:
    return {"id": move.id, "endpoint": move.endpoint, "from_version": move.from_version, "to_version": move.to_version,
            "kind": move.kind, "actor": move.actor, "at": move.at.isoformat(), "source_commit": move.source_commit,
            "run_id": move.run_id, "verdict": move.verdict, "reason": move.reason}


def history_text(endpoint: str, recorded: Sequence[DefaultMove], current: int | None) -> str:
    """The record as a table for a terminal, newest first."""
    head = f"default moves of {endpoint} (the default is {'version ' + str(current) if current is not None else 'not set'}):"
    if not recorded:
        return f"{head}\n  none recorded."
    rows = [("when (UTC)", "move", "kind", "who", "commit", "run", "verdict", "reason")]
    for m in reversed(recorded):
        rows.append((m.at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
                     f"{'-' if m.from_version is None else m.from_version} -> {m.to_version}", m.kind, m.actor,
                     (m.source_commit or "-")[:12], m.run_id or "-", m.verdict or "-", m.reason or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    return head + "\n" + "\n".join(line.rstrip() for line in lines)


__all__ = ["KINDS", "Mover", "Rollback", "actor_of", "history_text", "move_default", "move_json", "moves", "new_move", "rollback",
           "rollback_target"]
