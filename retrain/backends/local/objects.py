"""Files stored once by content: ``objects/<64 hex>[x]``, read-only, hard-linked into place.

Step outputs, logs and snapshots are *interned* when they are finished: each file is hashed and becomes a
hard link to the one object with that content (the ``x`` suffix marks an executable file, so a mode is part
of the identity). Identical files across runs and versions then cost one copy. An object's link count
says whether anything still uses it: an object with a single link (its own ``objects/`` entry) is garbage.

Folders cost a disk block each, so a step's finished outputs folder is stored once too, as ``trees/<id>/``
(its files links to the objects), and the run's folder links to it (see ``share_folder``).

Where a hard link is refused (a filesystem without them, or an object at its link limit) the file simply
stays a file of its own: correct, only not shared.

Objects are shared, so nothing a step runs may write to one. They are read-only, but permissions do not
stop root (steps in a container often run as root), so steps never receive a stored path: their inputs
and code are *materialized*, reflinked (copy-on-write, where the filesystem can) or copied, into the
step's own folder.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

OBJECTS = "objects"
_FICLONE = 0x40049409  # Linux ioctl: make dst share src's extents (btrfs, xfs, bcachefs, ...)


def object_root(store_dir: Path) -> Path:
    return store_dir / OBJECTS


EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()  # a step's empty log, a marker file: no need to open them


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def object_path(store_dir: Path, digest: str, executable: bool) -> Path:
    # One flat folder: ext4, xfs and btrfs index large folders, and fan-out folders would cost a block each.
    return object_root(store_dir) / (digest + ("x" if executable else ""))


def _read_only(path: Path, mode: int) -> None:
    os.chmod(path, 0o555 if mode & 0o111 else 0o444)


def intern_file(store_dir: Path, path: Path) -> Path | None:
    """Replace ``path`` by a hard link to the object with its content; return the object, None if not shared.

    Safe against a concurrent intern of the same content and against ``gc`` removing the object meanwhile.
    """
    st = path.lstat()
    if not stat.S_ISREG(st.st_mode):
        return None
    executable = bool(st.st_mode & 0o111)
    obj = object_path(store_dir, file_digest(path) if st.st_size else EMPTY_DIGEST, executable)
    if st.st_nlink > 1 and obj.exists() and obj.stat().st_ino == st.st_ino:
        return obj  # already the object (a reused output, a second intern)
    _read_only(path, st.st_mode)
    for _ in range(3):
        try:
            os.link(path, obj)  # the first of its content: this file becomes the object
            return obj
        except FileExistsError:
            pass
        except FileNotFoundError:
            if obj.parent.is_dir() or not path.exists():
                return None  # the file itself is gone
            obj.parent.mkdir(parents=True, exist_ok=True)  # the store's first object: not a mkdir every file
            continue
        except OSError:
            return None  # no hard links here: the file stays a file of its own
        tmp = path.with_name(f".link-{os.urandom(4).hex()}")
        try:
            os.link(obj, tmp)
        except FileNotFoundError:
            continue  # gc removed the object between the two calls: make it again
        except OSError:
            return None  # e.g. EMLINK: the object has as many links as the filesystem allows
        os.replace(tmp, path)
        return obj
    return None


def intern_tree(store_dir: Path, folder: Path, *, tidy: bool = False, keep: tuple[str, ...] = ()) -> dict[Path, Path | None]:
    """Intern every regular file below ``folder`` (symbolic links are left as they are); file -> object.

    With ``tidy``, the empty folders below ``folder`` are removed in the same walk (a folder costs a disk
    block), except ``keep`` (names of folders directly in ``folder``) and what is below them."""
    found: dict[Path, Path | None] = {}
    if not folder.exists() or folder.is_symlink():
        return found
    kept = tuple(os.path.join(folder, k) for k in keep)
    for dirpath, dirnames, files in os.walk(folder, topdown=False):
        here = Path(dirpath)
        for name in files:
            path = here / name
            found[path] = intern_file(store_dir, path)
        if not tidy:
            continue
        for name in dirnames:
            sub = os.path.join(dirpath, name)
            if any(sub == k or sub.startswith(k + os.sep) for k in kept):
                continue
            try:
                os.rmdir(sub)
            except OSError:
                pass  # not empty (or a link): kept
    return found


# -- folders stored once: trees/<32 hex>/ -------------------------------------------------------------
# A folder costs a disk block however little it holds, so a run whose output folders are the same as an
# earlier run's would still cost a block per folder. Such a folder is replaced by a short relative symbolic
# link (short enough to live in its inode) to ``trees/<id>``, one folder per distinct content whose files
# are links to the objects.

TREES = "trees"
TREE_YOUNG_S = 60.0  # gc leaves younger trees alone: a step may be about to link to one


def tree_root(store_dir: Path) -> Path:
    return store_dir / TREES


def share_folder(store_dir: Path, folder: Path, objects: dict[Path, Path | None]) -> bool:
    """Replace ``folder``, whose files ``intern_tree`` returned, by a link to its tree; return whether it did."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    listing: list[str] = []
    entries: list[tuple[str, Path | None]] = []
    for dirpath, dirnames, files in os.walk(folder):
        dirnames.sort()
        here = Path(dirpath)
        rel = here.relative_to(folder).as_posix()
        listing.append(f"d {rel}")
        entries.append((rel, None))
        for name in sorted(files):
            obj = objects.get(here / name)
            if obj is None:
                return False  # a file that is not stored by content (or not a file): keep the folder
            listing.append(f"f {rel}/{name} {obj.name}")
            entries.append((f"{rel}/{name}", obj))
        for name in dirnames:
            if (here / name).is_symlink():
                return False
    tree = tree_root(store_dir) / hashlib.sha256("\n".join(listing).encode()).hexdigest()[:32]
    if not tree.exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        tmp = tree.parent / f".incoming-{os.urandom(4).hex()}"
        try:
            for rel, obj in entries:
                if obj is None:
                    (tmp / rel).mkdir(parents=True, exist_ok=True)
                else:
                    os.link(obj, tmp / rel)
            tmp.rename(tree)
        except OSError:
            remove_tree(tmp)
            if not tree.exists():
                return False
    os.utime(tree)  # fresh: gc will not take it while this link is being made
    link = folder.with_name(f".{folder.name}-{os.urandom(4).hex()}")
    link.symlink_to(os.path.relpath(tree, folder.parent), target_is_directory=True)
    old = folder.with_name(f".{folder.name}-old-{os.urandom(4).hex()}")
    folder.rename(old)
    link.rename(folder)
    try:  # what the walk found, deepest first: no second walk of the folder to remove it
        for rel, obj in reversed(entries):
            if obj is None:
                os.rmdir(old / rel)
            else:
                os.unlink(old / rel)
    except OSError:
        remove_tree(old)
    return True


def linked_trees(store_dir: Path, run_folders: Iterator[Path] | list[Path]) -> set[str]:
    """Names of the trees the given run folders link to."""
    found: set[str] = set()
    for run in run_folders:
        steps = run / "steps"
        if not steps.is_dir():
            continue
        for step in steps.iterdir():
            outputs = step / "outputs"
            if outputs.is_symlink():
                found.add(Path(os.readlink(outputs)).name)
    return found


def clone_file(src: Path, dst: Path) -> None:
    """A private, writable copy of ``src``: a reflink where the filesystem can, else a byte copy; its
    times kept. Each file opened once (a step's inputs are often many small files)."""
    s = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(s)
        mode = 0o755 if st.st_mode & 0o111 else 0o644
        d = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        try:
            if st.st_size:
                _clone_bytes(s, d)
            os.fchmod(d, mode)  # whatever the umask
            os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(d)
    finally:
        os.close(s)


def _clone_bytes(s: int, d: int) -> None:
    try:
        import fcntl

        fcntl.ioctl(d, _FICLONE, s)
        return
    except (ImportError, OSError):
        pass
    try:
        while os.sendfile(d, s, None, 1 << 30) > 0:  # in the kernel, as shutil.copyfile does
            pass
        return
    except OSError:
        pass
    while block := os.read(s, 1 << 20):
        view = memoryview(block)
        while view:  # a write may take less than it is given
            view = view[os.write(d, view):]


def materialize(src: Path, dst: Path, *, ignore: tuple[str, ...] = ()) -> None:
    """Copy a file or a folder (following nothing outside it) into ``dst`` as private, writable files."""
    if src.is_dir():
        dst.mkdir(parents=True, exist_ok=True)
        _copy_folder(src, dst, ignore)
    elif src.is_file():
        dst.parent.mkdir(parents=True, exist_ok=True)
        clone_file(src, dst)


def _copy_folder(src: Path, dst: Path, ignore: tuple[str, ...]) -> None:
    """``src``'s content into the folder ``dst`` (made): what a folder listing says of each entry (its type)
    is all that is asked, not a stat each."""
    with os.scandir(src) as entries:
        for entry in entries:
            if entry.name in ignore:
                continue
            target = dst / entry.name
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), target)
            elif entry.is_dir(follow_symlinks=False):
                target.mkdir(exist_ok=True)
                _copy_folder(Path(entry.path), target, ignore)
            elif entry.is_file(follow_symlinks=False):
                clone_file(Path(entry.path), target)


def prune_copies(folder: Path, original: Path) -> None:
    """Remove from ``folder`` what is an unchanged copy of ``original`` (same relative path, same bytes)
    and Python's caches, then the folders left empty: a step's working folder keeps only what the step
    added or changed there; the code itself is in the version's snapshot."""
    if not folder.is_dir():
        return
    import filecmp  # only a step with code comes here: not at the import every command pays

    for dirpath, dirnames, files in os.walk(folder, topdown=False):
        here = Path(dirpath)
        for name in files:
            path = here / name
            twin = original / path.relative_to(folder)
            if "__pycache__" in path.parts or (
                not path.is_symlink() and twin.is_file() and filecmp.cmp(path, twin, shallow=False)
            ):
                path.unlink()
        for name in dirnames:
            try:
                (here / name).rmdir()
            except OSError:
                pass  # not empty (or a link): kept
    try:
        folder.rmdir()
    except OSError:
        pass


def remove_tree(path: Path) -> None:
    """Remove a file or a folder; a folder a step made read-only is made writable first."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
        return
    if not path.exists():
        return
    import shutil  # here: a run's first step starts sooner without it (with it come bz2, lzma and zlib, about 2.5 ms)

    try:
        shutil.rmtree(path)
    except PermissionError:
        for dirpath, _, _ in os.walk(path):
            os.chmod(dirpath, 0o755)
        shutil.rmtree(path)


def iter_objects(store_dir: Path) -> Iterator[tuple[Path, os.stat_result]]:
    root = object_root(store_dir)
    if not root.is_dir():
        return
    for entry in os.scandir(root):
        if entry.name.startswith("."):
            continue
        try:
            yield Path(entry.path), entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue


def is_no_space(error: OSError) -> bool:
    return error.errno in (errno.ENOSPC, errno.EDQUOT)
