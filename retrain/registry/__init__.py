"""The registry of record: the local backend's endpoints, versions, default moves and runs kept in a git ref of
the repository, so a fresh runner knows what earlier jobs published and ran.

The local store stays the working copy. :meth:`Registry.pull` brings the ref's records into the store;
:meth:`Registry.push` sends the store's new records, merging with whatever another job wrote meanwhile: the
ref only moves forward, and when it moved under us GitHub refuses (422), we read again, merge and retry.
A version's number is claimed by the push that follows its publish, before any run uses it: when another
job took the number first, ours moves to the next free one (see replica.Replica.renumber).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..backends.local.objects import intern_tree, remove_tree
from ..backends.local.snapshot import SNAPSHOT_MODE
from ..backends.local.store import Store
from ..errors import BackendError
from ..github.gitdb import GitDB, NotFastForward, ReadOnly
from .records import fold, parse
from .remote import REF, File, Head, Remote
from .replica import Replica

MAX_ATTEMPTS = 12  # ten jobs pushing at once all get through: each round, one of them wins
PULLING_PREFIX = ".pulling-"


class RegistryBusy(BackendError):
    """The ref kept moving under every attempt to write it."""


@dataclass
class Report:
    """What a pull or push did, for the log."""

    imported: int = 0
    sent: int = 0
    attempts: int = 0
    snapshots: int = 0
    problems: list[str] = field(default_factory=list)
    requests: int = 0  # to GitHub
    seconds: float = 0.0


class Registry:
    def __init__(self, store: Store | Callable[[], Store], db: GitDB, *, ref: str = REF,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.db = db
        self.remote = Remote(db, ref)
        self.replica = Replica(store)
        self.sleep = sleep
        self.head: Head | None = None  # the last state read or written
        self.read_only = False  # set once GitHub refused a write: later pushes are skipped
        self._merged: str | None = None  # the commit whose records are in the store

    @property
    def store(self) -> Store:
        return self.replica.store

    @property
    def store_dir(self) -> Path:
        return self.store.folder

    # -- pull ---------------------------------------------------------------------------------------

    def pull(self, *, snapshots: bool = True) -> Report:
        """Read the registry into the store. ``snapshots``: also fetch every version's snapshot the store does
        not hold (``retrain pull``); the action fetches only the one a run needs (:meth:`fetch_snapshot`)."""
        report, started, asked = Report(), time.monotonic(), self.db.requests
        cleanup_abandoned(self.store_dir)
        self.head = self.remote.read()
        self._merge(report)
        if snapshots and self.head is not None:
            for row in self.store.all("SELECT DISTINCT snapshot FROM versions"):
                report.snapshots += self._fetch(self.head, str(row["snapshot"]))
        report.requests, report.seconds = self.db.requests - asked, time.monotonic() - started
        return report

    def _merge(self, report: Report) -> None:
        head = self.head
        if head is None or head.commit == self._merged:
            return
        log = parse(head.events, f"{EVENTS_NAME} in {self.remote.ref}")
        records, conflicts = fold(log.events)
        report.problems += log.problems + conflicts
        report.imported += self.replica.apply(records)
        report.problems += self.replica.problems
        self.replica.problems = []
        self._merged = head.commit

    def fetch_snapshot(self, endpoint: str, number: int) -> int:
        """Make sure the store holds the snapshot of version ``number`` (published by another job); 1 if fetched."""
        row = self.store.one("SELECT snapshot FROM versions WHERE endpoint = ? AND number = ?", endpoint, number)
        if row is None or self.head is None:
            return 0
        fetched = self._fetch(self.head, str(row["snapshot"]))
        if not fetched and not self._holds(str(row["snapshot"])):  # written after our read: read again
            self.head = self.remote.read()
            fetched = self._fetch(self.head, str(row["snapshot"])) if self.head else 0
        return fetched

    def _holds(self, snapshot: str) -> bool:
        parts = Path(snapshot).parts
        return len(parts) >= 3 and (self.store_dir / "snapshots" / parts[1]).exists()

    def _fetch(self, head: Head, snapshot: str) -> int:
        parts = Path(snapshot).parts
        if len(parts) < 3 or parts[0] != "snapshots" or self._holds(snapshot):
            return 0
        name = parts[1]
        if not head.snapshots.get(name):
            return 0
        self._save_snapshot(self.store_dir / "snapshots" / name, self.remote.snapshot(head, name))
        return 1

    def _save_snapshot(self, target: Path, files: list[File]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=PULLING_PREFIX, dir=target.parent))
        try:
            # mkdtemp makes it 0700; the snapshot it becomes is read by the runner's user after a root container
            os.chmod(tmp, SNAPSHOT_MODE)
            for f in files:
                dest = (tmp / f.path).resolve()
                if tmp.resolve() not in dest.parents:  # a path from the ref never leaves the snapshot's folder
                    raise BackendError(f"the registry's snapshot {target.name} names a file outside it: {f.path!r}.")
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(f.data)
                os.chmod(dest, 0o755 if f.executable else 0o644)
            intern_tree(self.store_dir, tmp)
            try:
                tmp.rename(target)
            except OSError:
                if not target.exists():
                    raise
                remove_tree(tmp)  # another process saved it first
        except BaseException:
            remove_tree(tmp)
            raise

    # -- push ---------------------------------------------------------------------------------------

    def push(self, message: str = "retrain: record") -> Report:
        """Send what changed in the store; nothing (and no request) when nothing did."""
        report, started, asked = Report(), time.monotonic(), self.db.requests
        try:
            return self._push(message, report)
        finally:
            report.requests, report.seconds = self.db.requests - asked, time.monotonic() - started

    def _push(self, message: str, report: Report) -> Report:
        if self.read_only:
            return report
        for attempt in range(1, MAX_ATTEMPTS + 1):
            report.attempts = attempt
            if self.head is None or attempt > 1:
                self.head = self.remote.read()
            self._merge(report)  # renumbers our unsent versions that meet the registry's
            events = self.replica.changes()
            report.problems += self.replica.problems
            if not events:
                return report
            log = parse(self.head.events if self.head else "", EVENTS_NAME)
            for event in events:
                log.add(event)
            snapshots = self._new_snapshots(events)
            try:
                self.head = self.remote.write(self.head, log.text(), snapshots, _message(message, events))
            except NotFastForward:
                # Another job wrote first: read its records, merge, try again after a short, random pause.
                self.sleep(random.uniform(0.02, 0.1) * attempt)
                continue
            except ReadOnly:
                self.read_only = True
                raise
            self._merged = self.head.commit
            self.replica.mark_sent(events)
            report.sent += len(events)
            report.snapshots += len(snapshots)
            return report
        raise RegistryBusy(f"the registry {self.remote.ref} kept changing under {MAX_ATTEMPTS} attempts to write it; "
                           f"this job's records stay in its local store and go with its next write.")

    def _new_snapshots(self, events: list) -> dict[str, list[File]]:  # type: ignore[type-arg]
        out: dict[str, list[File]] = {}
        known = self.head.snapshots if self.head else {}
        for event in events:
            if event.kind.name != "version" or event.partial:
                continue
            parts = Path(str(event.data.get("snapshot", ""))).parts
            if len(parts) < 3 or parts[0] != "snapshots" or parts[1] in known or parts[1] in out:
                continue
            folder = self.store_dir / "snapshots" / parts[1]
            if folder.is_dir():
                out[parts[1]] = _files(folder)
        return out


EVENTS_NAME = "events.jsonl"


def _files(folder: Path) -> list[File]:
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            files.append(File(path.relative_to(folder).as_posix(), path.read_bytes(), bool(path.stat().st_mode & 0o111)))
    return files


def _message(what: str, events: list) -> str:  # type: ignore[type-arg]
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e.kind.name] = kinds.get(e.kind.name, 0) + 1
    return f"{what}: " + ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in kinds.items())


def cleanup_abandoned(store_dir: Path) -> None:
    """Remove the staging folders of pulls that were killed (older than an hour)."""
    parent = store_dir / "snapshots"
    if not parent.is_dir():
        return
    for folder in parent.glob(PULLING_PREFIX + "*"):
        try:
            if time.time() - folder.stat().st_mtime > 3600:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass
