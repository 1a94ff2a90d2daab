"""The content hash of a pipeline: the identity of a published version.

It covers the pipeline file, every component file and every file in every component's ``code``
folder, by path relative to their common folder and by bytes. Moving the whole project elsewhere
keeps the hash; changing one byte of a script changes it. Caches and run outputs are skipped.

Each file's digest is remembered by what ``stat`` says of it (size, mtime and ctime in nanoseconds,
inode, device), in memory and, when the entry point names a cache folder, in a file per pipeline folder shared by commands, so
``retrain runs`` and ``status`` stat the pipeline's files instead of reading them. Any write to a file
changes its ctime, so a stale digest is never used; a file written within the last two seconds is not
remembered at all (a second write in the same clock tick could keep its mtime, as Git's "racily clean"
entries can).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from ..yamlfile import write_whole
from .model import Component

SKIP_DIRS = frozenset({"__pycache__", ".git", ".retrain", "mlruns", ".pytest_cache", ".ipynb_checkpoints", ".venv"})
SKIP_SUFFIXES = (".pyc", ".pyo")


def _walk(folder: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in filenames:
            if not name.endswith(SKIP_SUFFIXES):
                yield Path(dirpath) / name


def pipeline_files(pipeline_file: Path, components: Iterable[Component]) -> tuple[tuple[Path, ...], Path]:
    """Every file that defines the pipeline, sorted, and their common folder."""
    files: set[Path] = {pipeline_file.resolve()}
    for component in components:
        files.add(component.source.resolve())
        if component.code is not None:
            if component.code.is_dir():
                files.update(p.resolve() for p in _walk(component.code))
            elif component.code.is_file():
                files.add(component.code.resolve())
    ordered = tuple(sorted(files))
    root = Path(os.path.commonpath([str(p.parent) for p in ordered]))
    return ordered, root


RACY_S = 2.0
# Entries kept in one pipeline folder's cache file; beyond it the file keeps its newest half. One file per folder
# keeps what a command reads to the size of its own pipeline, however many projects the user's cache has seen
# (one shared file had grown to 20,000 entries, 4 MB, read by every command: 20 ms of each start-up).
CACHE_LIMIT = 2_000


class _Digests:
    """File digests by stat signature: in memory, and in a cache folder when :func:`use_cache` names one, one
    JSON file per pipeline folder (named by a hash of the folder's path)."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.shards: dict[str, dict[str, list[object]]] = {}
        self.dirty: set[str] = set()

    def file_for(self, root: Path) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / (hashlib.sha256(str(root).encode()).hexdigest()[:16] + ".json")

    def _shard(self, root: Path) -> dict[str, list[object]]:
        key = str(root)
        if key not in self.shards:
            self.shards[key] = {}
            path = self.file_for(root)
            if path is not None:
                try:
                    data = json.loads(path.read_text())
                except (OSError, ValueError):
                    data = None  # no cache yet, or a damaged one: it is only a cache
                if isinstance(data, dict) and data.get("version") == 1 and isinstance(data.get("files"), dict):
                    self.shards[key] = data["files"]
        return self.shards[key]

    def digest(self, path: Path, root: Path) -> str:
        entries = self._shard(root)
        st = path.stat()
        signature = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]
        key = str(path)
        known = entries.get(key)
        if isinstance(known, list) and known[:-1] == signature:
            return str(known[-1])
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        if time.time() - max(st.st_mtime, st.st_ctime) > RACY_S:
            entries[key] = [*signature, digest]
            self.dirty.add(str(root))
        return digest

    def save(self, root: Path) -> None:
        key = str(root)
        path = self.file_for(root)
        if key not in self.dirty or path is None:
            return
        self.dirty.discard(key)
        entries = self.shards[key]
        if len(entries) > CACHE_LIMIT:
            entries = self.shards[key] = dict(list(entries.items())[-CACHE_LIMIT // 2:])
        # Whole or not at all: readers never see half a cache; one that cannot be written costs a re-read.
        write_whole(path, json.dumps({"version": 1, "files": entries}).encode())


_DIGESTS = _Digests()


def use_cache(folder: Path | None) -> None:
    """Remember digests across processes in ``folder`` (the entry point chooses it; None: memory only)."""
    _DIGESTS.folder, _DIGESTS.shards, _DIGESTS.dirty = folder, {}, set()


def cache_file(root: Path) -> Path | None:
    """The file that remembers the digests of the pipeline folder ``root`` (None: memory only)."""
    return _DIGESTS.file_for(root)


def content_hash(files: Iterable[Path], root: Path) -> str:
    """``sha256:<hex>`` over (relative path, file digest) pairs in path order."""
    outer = hashlib.sha256()
    for path in sorted(files):
        rel = path.relative_to(root).as_posix()
        outer.update(f"{rel}\0{_DIGESTS.digest(path, root)}\n".encode())
    _DIGESTS.save(root)
    return "sha256:" + outer.hexdigest()
