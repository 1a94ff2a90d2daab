"""The content hash of a pipeline: the identity of a published version.

It covers the pipeline file, every component file and every file in every component's ``code``
folder, by path relative to their common folder and by bytes. Moving the whole project elsewhere
keeps the hash; changing one byte of a script changes it. Caches and run outputs are skipped.
"""

from __future__ import annotations

import hashlib
import os
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


def content_hash(files: Iterable[Path], root: Path) -> str:
    """``sha256:<hex>`` over (relative path, file digest) pairs in path order."""
    outer = hashlib.sha256()
    for path in sorted(files):
        rel = path.relative_to(root).as_posix()
        inner = hashlib.sha256(path.read_bytes()).hexdigest()
        outer.update(f"{rel}\0{inner}\n".encode())
    return "sha256:" + outer.hexdigest()
