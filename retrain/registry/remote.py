"""The registry's ref in the repository: one commit per write, whose tree holds the events and the snapshots.

    refs/retrain/registry -> commit -> tree
        events.jsonl                 every event, one JSON line each (see records.py)
        snapshots/<32 hex>/...       each published version's pipeline files, as the local store keeps them

The ref's commits are the registry's history: each write's parent is the commit it read, so an earlier
state can be restored by pointing the ref back at an earlier commit (docs/local-backend.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..github.gitdb import GitDB, TreeEntry

REF = "refs/retrain/registry"
EVENTS = "events.jsonl"
SNAPSHOTS = "snapshots"


@dataclass(frozen=True)
class Head:
    """What the ref pointed at when read."""

    commit: str
    tree: str
    events: str  # the events file's text
    snapshots: dict[str, str] = field(default_factory=dict)  # snapshot folder name -> its tree's sha


@dataclass(frozen=True)
class File:
    path: str  # relative to the snapshot's folder
    data: bytes
    executable: bool


class Remote:
    def __init__(self, db: GitDB, ref: str = REF) -> None:
        self.db, self.ref = db, ref

    def read(self) -> Head | None:
        commit = self.db.ref(self.ref)
        if commit is None:
            return None
        tree = self.db.commit_tree(commit)
        entries = {e.path: e for e in self.db.tree(tree)}
        events = self.db.blob(entries[EVENTS].sha).decode("utf-8", "replace") if EVENTS in entries else ""
        snapshots: dict[str, str] = {}
        if SNAPSHOTS in entries:
            snapshots = {e.path: e.sha for e in self.db.tree(entries[SNAPSHOTS].sha) if e.type == "tree"}
        return Head(commit, tree, events, snapshots)

    def snapshot(self, head: Head, name: str) -> list[File]:
        files = []
        for entry in self.db.tree(head.snapshots[name], recursive=True):
            if entry.type == "blob":
                files.append(File(entry.path, self.db.blob(entry.sha), entry.mode == "100755"))
        return files

    def write(self, head: Head | None, events: str, snapshots: dict[str, list[File]], message: str) -> Head:
        """A commit on top of ``head`` holding ``events`` and the new snapshots; the ref moved to it without
        force (:class:`~retrain.github.gitdb.NotFastForward` when it moved meanwhile)."""
        entries = []
        for name, files in snapshots.items():
            for f in files:
                entries.append(TreeEntry(f"{SNAPSHOTS}/{name}/{f.path}", "100755" if f.executable else "100644", "blob",
                                         self.db.create_blob(f.data)))
        tree = self.db.create_tree(entries, head.tree if head else None, texts={EVENTS: events})
        commit = self.db.create_commit(message, tree, [head.commit] if head else [])
        if head is None:
            self.db.create_ref(self.ref, commit)
        else:
            self.db.update_ref(self.ref, commit)
        known = dict(head.snapshots) if head else {}
        known.update({name: "" for name in snapshots})  # written; their tree ids are not needed until read again
        return Head(commit, tree, events, known)
