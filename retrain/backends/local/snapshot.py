"""Published versions as immutable, content-addressed copies of the pipeline's files in the store.

A snapshot is staged in ``snapshots/.incoming-*`` and renamed into place, so it is whole or absent. The
staging folder is locked (``flock``) while its publish lives: the lock dies with the process, so any later
publish (or ``gc``) can tell a killed publish's leftover from one still being written, and removes it.
Each file of a snapshot is a hard link to its object (see ``objects.py``): versions that share files,
and steps that leave the code unchanged, cost one copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import BackendError
from ...pipeline.model import Pipeline
from .objects import intern_tree, is_no_space, remove_tree

STAGING_PREFIX = ".incoming-"
SNAPSHOT_MODE = 0o755  # a snapshot's folders, like its files (objects.py), are readable by everyone


def snapshot_dir(store: Path, content_hash: str) -> Path:
    return store / "snapshots" / content_hash.removeprefix("sha256:")[:32]


def _lock(folder: Path) -> int | None:
    """Open ``folder`` and take its lock without waiting; the fd holds it, None if another process does."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): leftovers are not detected
        return None
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def abandoned_staging(store: Path) -> list[Path]:
    """Staging folders no live publish holds (a killed publish's leftovers)."""
    out = []
    for folder in sorted((store / "snapshots").glob(STAGING_PREFIX + "*")):
        try:
            fd = _lock(folder)
        except OSError:
            continue
        if fd is not None:
            os.close(fd)
            out.append(folder)
    return out


def remove_leftovers(store: Path) -> list[Path]:
    """Remove staging folders whose publish is gone (killed, or its machine restarted); return them."""
    parent = store / "snapshots"
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for folder in parent.glob(STAGING_PREFIX + "*"):
        try:
            fd = _lock(folder)
        except OSError:
            continue  # vanished meanwhile: its publish finished
        if fd is None:
            continue  # a live publish holds it
        try:
            remove_tree(folder)
            removed.append(folder)
        finally:
            os.close(fd)
    return removed


def _staging(parent: Path) -> tuple[Path, int | None]:
    import tempfile  # only publishing stages a snapshot: not at the import every command pays

    for _ in range(5):
        folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent))
        # Another process's cleanup (remove_leftovers) may take it between mkdtemp and the lock: gone before
        # the lock (the open fails), or replaced by a folder of the same name (another inode). Either way,
        # make another.
        try:
            fd = _lock(folder)
        except FileNotFoundError:
            continue
        try:
            if fd is None or os.fstat(fd).st_ino == os.stat(folder).st_ino:
                # mkdtemp makes it 0700; the snapshot it becomes must be readable by whoever reads the store
                # (the runner's user, when a container wrote it as root).
                os.chmod(folder, SNAPSHOT_MODE)
                return folder, fd
        except FileNotFoundError:
            pass
        if fd is not None:
            os.close(fd)
    raise BackendError(f"could not stage a snapshot in {parent}: its staging folders keep disappearing.")


def save_snapshot(store: Path, pipeline: Pipeline) -> Path:
    """Copy the pipeline's files (relative to ``pipeline.root``) once per content; return the
    snapshot's pipeline file, relative to ``store``."""
    target = snapshot_dir(store, pipeline.content_hash)
    rel_pipeline = pipeline.path.relative_to(pipeline.root)
    remove_leftovers(store)
    if target.exists():
        try:  # used again: young, so a gc running now leaves it alone until the version or run names it
            os.utime(target)
        except OSError:
            pass
    else:
        import shutil  # publishing copies; a submit, which imports this module, does not

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp, fd = _staging(target.parent)
        try:
            for file in pipeline.files:
                dest = tmp / file.relative_to(pipeline.root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, dest)
            intern_tree(store, tmp)  # read-only, shared with earlier versions where the bytes match
            try:
                tmp.rename(target)
            except OSError:
                if not target.exists():
                    raise
                remove_tree(tmp)  # another process published the same content first
        except OSError as e:
            remove_tree(tmp)
            if is_no_space(e):
                raise BackendError(
                    f"the local store {store} is out of disk space: the snapshot of {pipeline.path.name} was not "
                    f"saved and nothing was published. Free space (retrain gc removes runs beyond retention), then "
                    f"publish again."
                ) from None
            raise BackendError(f"could not save the snapshot of {pipeline.path.name} in the local store {store}: "
                               f"{e.strerror or e}. Nothing was published.") from None
        except BaseException:  # interrupted (Ctrl-C, a stop signal): leave no staging folder either
            remove_tree(tmp)
            raise
        finally:
            if fd is not None:
                os.close(fd)
    return (target / rel_pipeline).relative_to(store)
