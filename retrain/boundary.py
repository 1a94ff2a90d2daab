"""The repository is the boundary: every path a parameter file or pipeline names stays inside it.

A pipeline's files are copied into the store when it is published and uploaded to Azure ML; its data
is read by steps and uploaded too. So a path that leaves the repository (``../x``, ``/etc/passwd``, a
symlink that points out, ``code: /``) would publish or read whatever it names. Every such path is
resolved with symlinks followed and must stay under the repository root: the Git top level, or the
parameter file's folder when it is not in a Git work tree. Data that lives elsewhere is named on
purpose, by a URI: ``azureml://...``, ``https://...``, or ``file:///absolute/path`` for local data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

OUTSIDE_HINT = ("Keep it inside the repository; for data elsewhere give a URI: azureml://..., https://..., "
                "or file:///absolute/path for local data (docs/limits.md).")


def resolve(path: Path) -> Path:
    """``path`` absolute with symlinks followed; a symlink loop stays as written (absolute), so it is
    then reported as a file that does not exist instead of crashing (Python raises RuntimeError)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return Path(os.path.abspath(path))


def repository_root(start: Path) -> Path:
    """The Git top level at or above the folder ``start``, or ``start`` itself outside Git.

    The same walk Git does (a ``.git`` folder, or a ``.git`` file in a worktree or submodule), without
    running Git, which may not be installed where retrain validates.
    """
    start = resolve(start)
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def outside(path: Path, root: Path) -> Path | None:
    """``path`` resolved (symlinks followed) if it is not under ``root``; None when it is inside."""
    resolved = resolve(path)
    return None if resolved == root or resolved.is_relative_to(root) else resolved


def describe_outside(raw: str, resolved: Path, root: Path) -> str:
    """``'../x' is outside the repository /repo (it resolves to /x).``"""
    shown = "" if str(resolved) == raw else f" (it resolves to {resolved})"
    return f"{raw!r} is outside the repository {root}{shown}."


def escaping_links(folder: Path, root: Path, skip: frozenset[str]) -> Iterator[tuple[Path, str]]:
    """Symlinks under ``folder`` that leave ``root`` or loop: (link, what is wrong). Skipped folders are not walked."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in (*dirnames, *filenames):
            entry = Path(dirpath) / name
            if not entry.is_symlink():
                continue
            try:
                target = entry.resolve()
            except (RuntimeError, OSError):
                yield entry, "a symbolic link that loops back on itself"
                continue
            if not (target == root or target.is_relative_to(root)):
                yield entry, f"a link to {target}, outside the repository {root}"


class BadFileUri(ValueError):
    """A ``file:`` URI retrain cannot use; the message says what to write."""


def file_uri_path(uri: str) -> Path:
    """The local path a ``file://`` URI names: ``file:///data/x.csv`` -> ``/data/x.csv``.

    Only absolute local URIs: a host other than ``localhost`` would be another machine's disk.
    """
    from urllib.parse import unquote, urlsplit  # only for a file:// value: urllib.parse loads ipaddress, ~3 ms

    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise BadFileUri(f"{uri!r} names the host {parts.netloc!r}; a file:// URI here must be local: file:///absolute/path.")
    path = unquote(parts.path)
    if not path.startswith("/") or not uri.lower().startswith("file://"):
        raise BadFileUri(f"{uri!r} is not an absolute file URI; write file:///absolute/path.")
    if parts.query or parts.fragment:
        raise BadFileUri(f"{uri!r} has a query or fragment; write file:///absolute/path (escape '?' as %3F, '#' as %23).")
    return Path(os.path.normpath(path))
