"""The content hash of a pipeline: the identity of a published version.

It covers the pipeline file, every component file and every file in every component's ``code``
folder, by path relative to their common folder and by bytes. Moving the whole project elsewhere
keeps the hash; changing one byte of a script changes it. Caches and run outputs are skipped.

Each file's digest is remembered by what ``stat`` says of it (size, mtime and ctime in nanoseconds,
inode, device), in memory and, when the entry point names one, in a cache file shared by commands, so
``retrain runs`` and ``status`` stat the pipeline's files instead of reading them. Any write to a file
changes its ctime, so a stale digest is never used; a file written within the last two seconds is not
remembered at all (a second write in the same clock tick could keep its mtime, as Git's "racily clean"
entries can).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

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
CACHE_LIMIT = 20_000  # entries kept in the cache file; beyond it the file starts again


class _Digests:
    """File digests by stat signature: in memory, and in a JSON file when :func:`use_cache_file` names one."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.entries: dict[str, list[object]] = {}
        self.loaded = False
        self.dirty = False

    def _load(self) -> None:
        self.loaded = True
        if self.path is None:
            return
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return  # no cache yet, or a damaged one: it is only a cache
        if isinstance(data, dict) and data.get("version") == 1 and isinstance(data.get("files"), dict):
            self.entries = data["files"]

    def digest(self, path: Path) -> str:
        if not self.loaded:
            self._load()
        st = path.stat()
        signature = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]
        key = str(path)
        known = self.entries.get(key)
        if isinstance(known, list) and known[:-1] == signature:
            return str(known[-1])
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        if time.time() - max(st.st_mtime, st.st_ctime) > RACY_S:
            self.entries[key] = [*signature, digest]
            self.dirty = True
        return digest

    def save(self) -> None:
        if not self.dirty or self.path is None:
            return
        self.dirty = False
        if len(self.entries) > CACHE_LIMIT:
            self.entries = dict(list(self.entries.items())[-CACHE_LIMIT // 2:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".digests-", dir=self.path.parent)
            with os.fdopen(fd, "w") as f:
                json.dump({"version": 1, "files": self.entries}, f)
            os.replace(tmp, self.path)  # whole or not at all: readers never see half a cache
        except OSError:
            pass  # a cache that cannot be written only costs the next command a re-read


_DIGESTS = _Digests()


def use_cache_file(path: Path | None) -> None:
    """Remember digests across processes in ``path`` (the entry point chooses it; None: memory only)."""
    _DIGESTS.path, _DIGESTS.loaded, _DIGESTS.entries = path, False, {}


def file_digest(path: Path) -> str:
    return _DIGESTS.digest(path)


def content_hash(files: Iterable[Path], root: Path) -> str:
    """``sha256:<hex>`` over (relative path, file digest) pairs in path order."""
    outer = hashlib.sha256()
    for path in sorted(files):
        rel = path.relative_to(root).as_posix()
        outer.update(f"{rel}\0{file_digest(path)}\n".encode())
    _DIGESTS.save()
    return "sha256:" + outer.hexdigest()
