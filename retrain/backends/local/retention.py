"""What the local store holds, and what ``retrain gc`` may remove from it.

Kept, always: every run not finished (queued, running); each version's latest completed run; any run a
version's parameter default, or a kept run's parameter value, points into; every snapshot (versions are
immutable and can always be submitted again) and every snapshot a kept draft run's ``retrain.snapshot`` tag
names; every run a pipeline's ``compare_to`` names (its baseline).
Beyond those, the newest ``keep`` runs of each pipeline
(``retention: {keep: N}``); with no retention set, every run is kept.

Removed: the other runs (their records and folders), run folders without a record, staging folders a
killed publish left, snapshots of drafts no kept run names any more (a minute old at least), and objects
nothing links to any more. A step reused from a removed run keeps its
own links to the outputs, so later runs can still reuse it: nothing a reusable step needs goes away.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .objects import TREE_YOUNG_S, iter_objects, linked_trees, remove_tree, tree_root
from .snapshot import STAGING_PREFIX, abandoned_staging, remove_leftovers
from .store import Store

LIVE = ("queued", "running")
# A submit creates the run's folder just before its record: a folder this young without one is not orphaned.
ORPHAN_AGE_S = 600.0


@dataclass(frozen=True)
class RetentionPolicy:
    """Runs to keep per pipeline, newest first; a pipeline not listed gets ``default``; None keeps all."""

    keep: Mapping[str, int] = field(default_factory=dict)
    default: int | None = None
    # Runs a pipeline's ``compare_to`` names: removing one would stop every later submit (exit 2).
    baselines: frozenset[str] = frozenset()

    def for_pipeline(self, name: str) -> int | None:
        return self.keep.get(name, self.default)


@dataclass(frozen=True)
class StoreUsage:
    store: Path
    bytes: int  # on disk, each file counted once however many links it has (as du counts)
    files: int
    object_bytes: int  # of which: files stored by content, shared by runs and versions
    runs: int
    versions: int


@dataclass(frozen=True)
class GcPlan:
    store: Path
    remove_runs: tuple[str, ...]  # oldest first
    kept_runs: int
    orphan_folders: tuple[Path, ...]  # run folders without a record, a killed publish's staging
    unused_objects: int  # objects nothing links to, now or once the runs are removed
    frees_bytes: int
    remove_snapshots: tuple[Path, ...] = ()  # drafts' snapshots that no version and no kept run names


def _disk(st: os.stat_result) -> int:
    blocks = getattr(st, "st_blocks", None)
    return blocks * 512 if blocks is not None else st.st_size


def _walk(path: Path) -> Iterable[tuple[Path, os.stat_result]]:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    yield path, st
    if not stat.S_ISDIR(st.st_mode):
        return
    stack = [path]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            try:
                est = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            yield Path(entry.path), est
            if stat.S_ISDIR(est.st_mode):
                stack.append(Path(entry.path))


def checkpoint(store: Store) -> None:
    """Fold the write-ahead log back into the database, so it does not count as the store's size."""
    try:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError:
        pass  # busy with another process's write: it is folded back later


def usage(store: Store) -> StoreUsage:
    checkpoint(store)
    seen: set[tuple[int, int]] = set()
    total = files = 0
    for _, st in _walk(store.folder):
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        total += _disk(st)
        files += 1
    object_bytes = sum(_disk(st) for _, st in iter_objects(store.folder))
    runs = store.one("SELECT COUNT(*) FROM runs")[0]  # type: ignore[index]
    versions = store.one("SELECT COUNT(*) FROM versions")[0]  # type: ignore[index]
    return StoreUsage(store=store.folder, bytes=total, files=files, object_bytes=object_bytes, runs=runs, versions=versions)


def _referenced_runs(values: Iterable[str], runs_dir: Path, ids: set[str]) -> set[str]:
    """Runs whose folder a parameter value points into (a version's default, a run's data)."""
    found: set[str] = set()
    prefix = str(runs_dir) + os.sep
    for text in values:
        start = text.find(prefix)
        while start != -1:
            rest = text[start + len(prefix):]
            run_id = rest.split(os.sep, 1)[0].split('"', 1)[0]
            if run_id in ids:
                found.add(run_id)
            start = text.find(prefix, start + 1)
    return found


def kept_runs(store: Store, policy: RetentionPolicy) -> tuple[set[str], list[str]]:
    """(runs kept, runs to remove oldest first) under ``policy``."""
    rows = store.all("SELECT id, pipeline, endpoint, version, status, parameters FROM runs ORDER BY created DESC, id DESC")
    ids = {r["id"] for r in rows}
    keep: set[str] = {r["id"] for r in rows if r["status"] in LIVE or r["id"] in policy.baselines}
    count: dict[str, int] = {}
    latest_completed: set[tuple[str, int]] = set()
    for r in rows:
        n = policy.for_pipeline(r["pipeline"])
        count[r["pipeline"]] = count.get(r["pipeline"], 0) + 1
        if n is None or count[r["pipeline"]] <= n:
            keep.add(r["id"])
        version = (r["endpoint"], r["version"])
        if r["status"] == "completed" and version not in latest_completed:
            latest_completed.add(version)
            keep.add(r["id"])
    runs_dir = store.folder / "runs"
    keep |= _referenced_runs((v["parameters"] for v in store.all("SELECT parameters FROM versions")), runs_dir, ids)
    params = {r["id"]: r["parameters"] for r in rows}
    frontier = set(keep)
    while frontier:  # a kept run's data may be another run's output, which may in turn ...
        found = _referenced_runs((params[i] for i in frontier), runs_dir, ids) - keep
        keep |= found
        frontier = found
    remove = [r["id"] for r in reversed(rows) if r["id"] not in keep]
    return keep, remove


def _orphan_folders(store: Store, ids: set[str], now: float) -> list[Path]:
    out: list[Path] = []
    runs_dir = store.folder / "runs"
    if runs_dir.is_dir():
        for folder in runs_dir.iterdir():
            try:
                young = now - folder.lstat().st_mtime < ORPHAN_AGE_S
            except FileNotFoundError:
                continue
            if folder.name not in ids and not young:
                out.append(folder)
    return out + abandoned_staging(store.folder)


def _dead_trees(store: Store, keep_runs: Iterable[str], now: float) -> list[Path]:
    """Stored folders no kept run links to (and not just made: a step may be about to link to one)."""
    root = tree_root(store.folder)
    if not root.is_dir():
        return []
    live = linked_trees(store.folder, [store.folder / "runs" / r for r in keep_runs])
    dead = []
    for tree in root.iterdir():
        try:
            young = now - tree.lstat().st_mtime < TREE_YOUNG_S
        except FileNotFoundError:
            continue
        if tree.name not in live and not young:
            dead.append(tree)  # includes .incoming-* folders of a step that died making one
    return dead


def _dead_snapshots(store: Store, keep_runs: set[str], now: float) -> list[Path]:
    """Snapshots no version references and no kept run's ``retrain.snapshot`` tag names (a draft's, once its
    runs are gone). A young one is left alone: a publish or a draft may be about to record it."""
    root = store.folder / "snapshots"
    if not root.is_dir():
        return []
    used = {Path(v["snapshot"]).parts[1] for v in store.all("SELECT snapshot FROM versions") if len(Path(v["snapshot"]).parts) > 1}
    for r in store.all("SELECT id, tags FROM runs"):
        if r["id"] not in keep_runs:
            continue
        try:
            named = json.loads(r["tags"] or "{}").get("retrain.snapshot")
        except (ValueError, AttributeError):
            return []  # a damaged record could name any snapshot: remove none
        if isinstance(named, str) and len(Path(named).parts) > 1:
            used.add(Path(named).parts[1])
    dead = []
    for folder in root.iterdir():
        if folder.name.startswith(STAGING_PREFIX) or folder.name in used:
            continue  # staging folders are abandoned_staging's
        try:
            young = now - folder.lstat().st_mtime < TREE_YOUNG_S
        except FileNotFoundError:
            continue
        if not young:
            dead.append(folder)
    return dead


def plan_gc(store: Store, policy: RetentionPolicy) -> GcPlan:
    keep, remove = kept_runs(store, policy)
    ids = {r["id"] for r in store.all("SELECT id FROM runs")}
    now = time.time()
    orphans = _orphan_folders(store, ids, now)
    dead_trees = _dead_trees(store, ids - set(remove), now)
    dead_snapshots = _dead_snapshots(store, ids - set(remove), now)
    objects = {(st.st_dev, st.st_ino): st for _, st in iter_objects(store.folder)}
    links: dict[tuple[int, int], tuple[os.stat_result, int]] = {}
    frees = 0
    for folder in [store.folder / "runs" / run_id for run_id in remove] + orphans + dead_trees + dead_snapshots:
        for _, st in _walk(folder):
            if stat.S_ISDIR(st.st_mode):
                frees += _disk(st)
                continue
            key = (st.st_dev, st.st_ino)
            seen = links.get(key)
            links[key] = (st, (seen[1] if seen else 0) + 1)
    unused = 0
    for key, (st, n) in links.items():
        left = st.st_nlink - n
        if left <= 0:
            frees += _disk(st)
        elif left == 1 and key in objects:
            frees += _disk(st)
            unused += 1
    for key, st in objects.items():
        if st.st_nlink <= 1 and key not in links:
            frees += _disk(st)
            unused += 1
    return GcPlan(store=store.folder, remove_runs=tuple(remove), kept_runs=len(keep), orphan_folders=tuple(orphans),
                  unused_objects=unused, frees_bytes=frees, remove_snapshots=tuple(dead_snapshots))


def collect(store: Store, plan: GcPlan) -> None:
    """Carry out ``plan``: records first (a run without a record is an orphan the next gc removes), then
    folders, then the objects nothing links to any more."""
    remove_leftovers(store.folder)
    if plan.remove_runs:
        with store.write() as db:
            for run_id in plan.remove_runs:
                # Only finished runs, checked again inside the transaction: a run is never taken while it lives.
                finished = db.execute("SELECT 1 FROM runs WHERE id = ? AND status NOT IN ('queued', 'running')", (run_id,)).fetchone()
                if finished:
                    db.execute("DELETE FROM steps WHERE run_id = ?", (run_id,))
                    db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
    ids = {r["id"] for r in store.all("SELECT id FROM runs")}
    for run_id in plan.remove_runs:
        if run_id not in ids:
            remove_tree(store.folder / "runs" / run_id)
    for folder in plan.orphan_folders:
        if folder.parent.name == "runs" and folder.name not in ids:
            remove_tree(folder)
    for tree in _dead_trees(store, ids, time.time()):  # again, now that the runs are gone
        remove_tree(tree)
    planned = {p.name for p in plan.remove_snapshots}
    for snapshot in _dead_snapshots(store, ids, time.time()):  # checked again: a new version may name one now
        if snapshot.name in planned:
            remove_tree(snapshot)
    for obj, st in iter_objects(store.folder):
        if st.st_nlink <= 1:
            obj.unlink(missing_ok=True)
    if plan.remove_runs:
        try:  # give the deleted rows' pages back to the filesystem
            store.conn.execute("VACUUM")
        except sqlite3.OperationalError:
            pass  # another process is writing: the pages are reused by later runs instead
    checkpoint(store)


def describe(plan: GcPlan) -> dict[str, object]:
    return {"store": str(plan.store), "remove_runs": list(plan.remove_runs), "kept_runs": plan.kept_runs,
            "orphan_folders": [str(p) for p in plan.orphan_folders], "unused_objects": plan.unused_objects,
            "remove_snapshots": [str(p) for p in plan.remove_snapshots],
            "frees_bytes": plan.frees_bytes}


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"
