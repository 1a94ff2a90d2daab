"""The record of an Azure ML endpoint's default moves, kept in the batch endpoint's tags.

The ARM contract gives a batch endpoint a string map of tags, and Resource Manager limits every resource to
50 tags, a tag's name to 512 characters and its value to 256 ("Use tags to organize your Azure resources",
Azure Resource Manager documentation). So the record is bounded: one tag per move, the newest
:data:`KEEP` moves, written in the same PUT that moves the default. The tag's name carries when and the
move's id (it sorts by time); its value the rest, ``from|to|kind|actor|commit|run|verdict|reason``, with the
reason shortened to fit 256 characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from ..base import DefaultMove

PREFIX = "retrain.move."
KEEP = 30  # moves kept; the other tags (retrain's and the user's) keep the rest of the 50
MAX_TAGS = 50
MAX_VALUE = 256
_STAMP = "%Y%m%dT%H%M%S.%fZ"


def tag_of(move: DefaultMove) -> tuple[str, str]:
    """The tag (name, value) that records ``move``."""
    at = move.at.astimezone(timezone.utc)
    name = f"{PREFIX}{at.strftime(_STAMP)}.{move.id}"
    fields = ["" if move.from_version is None else str(move.from_version), str(move.to_version), move.kind,
              _clean(move.actor)[:64], move.source_commit or "", move.run_id or "", move.verdict or ""]
    head = "|".join(fields) + "|"
    room = MAX_VALUE - len(head)
    reason = " ".join(move.reason.split())
    if len(reason) > room:
        reason = reason[: max(0, room - 1)] + "…"
    return name, head + reason


def with_move(tags: Mapping[str, str], move: DefaultMove) -> dict[str, str]:
    """``tags`` with ``move`` added and only the newest :data:`KEEP` moves kept, fewer when other tags leave less
    room under the limit of 50 (a record that does not fit is dropped: it must never stop the move itself)."""
    others = sum(1 for k in tags if not k.startswith(PREFIX))
    keep = min(KEEP, MAX_TAGS - others)
    name, value = tag_of(move)
    out = {**tags, name: value}
    moves = sorted(k for k in out if k.startswith(PREFIX))
    for old in moves[: max(0, len(moves) - keep)]:
        del out[old]
    return out


def moves_of(endpoint: str, tags: Mapping[str, str]) -> list[DefaultMove]:
    """The moves recorded in an endpoint's tags, oldest first; a tag that does not parse is left out."""
    out: list[DefaultMove] = []
    for name in sorted(k for k in tags if k.startswith(PREFIX)):
        stamp, _, move_id = name[len(PREFIX):].rpartition(".")
        parts = str(tags[name]).split("|", 7)
        if len(parts) != 8:
            continue
        try:
            at = datetime.strptime(stamp, _STAMP).replace(tzinfo=timezone.utc)
            from_v = int(parts[0]) if parts[0] else None
            to_v = int(parts[1])
        except ValueError:
            continue
        out.append(DefaultMove(id=move_id, endpoint=endpoint, from_version=from_v, to_version=to_v, kind=parts[2],
                               actor=parts[3], at=at, source_commit=parts[4] or None, run_id=parts[5] or None,
                               verdict=parts[6] or None, reason=parts[7]))
    return out


def _clean(text: str) -> str:
    return text.replace("|", "/")
