"""Faults of the machine under the local backend, recognised and phrased once: a full disk, and the steps
a dead worker left running.

A full disk shows up as ``OSError`` (ENOSPC, EDQUOT; EFBIG past a file-size limit) from our own writes
and as SQLite's ``SQLITE_FULL`` ("database or disk is full") from the store's. Either way the user's
fix is the same: free space on the disk that holds the store.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
from pathlib import Path

from ...errors import BackendError

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
SQLITE_FULL = 13
SQLITE_IOERR = 10
# The worker's exit status when the disk filled up and it could not even record that: the process
# that started it reads the status and says why the run stopped.
WORKER_EXIT_DISK_FULL = 75
# Between SIGTERM and SIGKILL: long enough for a step to flush and clean up, short enough for a cancel.
KILL_GRACE_S = 3.0


def is_disk_full(exc: BaseException, folder: Path | None = None) -> bool:
    """Whether ``exc`` says the disk is full. SQLite reports some writes on a full disk as I/O errors (growing
    its shared-memory file: SQLITE_IOERR_SHMSIZE): with ``folder`` given, an I/O error there while its disk
    has (almost) no space left counts too."""
    if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
        return True
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        if (code is not None and code & 0xFF == SQLITE_FULL) or "disk is full" in str(exc):
            return True
        io_error = (code is not None and code & 0xFF == SQLITE_IOERR) or "disk I/O error" in str(exc)
        return io_error and folder is not None and disk_nearly_full(folder)
    return False


def disk_nearly_full(folder: Path, margin: int = 1 << 20) -> bool:
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < margin


def disk_full_message(store_dir: Path) -> str:
    return (f"the disk holding the local store {store_dir} is full. Free space on it (or move the store with "
            f"backend: {{kind: local, store: PATH}}), then submit the run again.")


class StoreFull(BackendError):
    """The store's disk is full: the work could not be done or recorded (exit 1)."""

    def __init__(self, store_dir: Path, detail: str = "") -> None:
        super().__init__(disk_full_message(store_dir) + (f" {detail}" if detail else ""))


def kill_session(sid: int, run_id: str) -> int:
    """SIGKILL what a dead worker left running (Linux, by ``/proc``): the processes of its session (each
    step has its own process group, all inside the worker's session) whose environment names the run, so a
    session that merely reuses the dead worker's number is never touched. Returns how many were signalled."""
    if sid <= 1 or sid == os.getsid(0):
        return 0  # never our own session, nor init's
    marker = f"RETRAIN_RUN_ID={run_id}".encode()
    killed = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if len(fields) <= 3 or fields[3] != str(sid):
                continue
            if marker not in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                continue
            os.kill(int(entry), signal.SIGKILL)
            killed += 1
        except (OSError, ValueError):
            continue  # gone meanwhile, or not ours to read
    return killed
