"""Starting a run's worker process and knowing when it ended: forked from the submitter when that is safe,
else spawned with ``python -m retrain.backends.local.worker``; reaped so no zombie is left; and a follower
in the submitting process woken the moment a forked worker exits.

The worker runs in its own session (a cancel signals it and its steps together), so it survives the
terminal that submitted the run (docs/local-backend.md, "Runs").
"""

from __future__ import annotations

import gc
import os
import select
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ...pipeline.model import Pipeline
from ..base import Run
from .store import Store

# Workers started by this process. Kept so they are reaped when they end (no zombies) and so Python
# does not warn about a Popen object dropped while its process still runs: detached is on purpose.
_WORKERS: list[subprocess.Popen[bytes]] = []
# Workers forked by this process: pid -> exit status once reaped (None while it runs); also the exit
# status of spawned workers once their Popen object is dropped.
_FORKED: dict[int, int | None] = {}
# The read ends of forked workers' exit pipes, by pid (see WorkerLauncher._start_worker).
_EXIT_PIPES: dict[int, int] = {}


def proc_start(pid: int) -> str | None:
    """The start time of a live process (clock ticks since boot), None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        if sys.platform.startswith("linux"):
            return None
        try:  # elsewhere, only liveness can be checked
            os.kill(pid, 0)
        except OSError:
            return None
        return "alive"
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return fields[19]


class WorkerLauncher:
    """LocalBackend's part that starts workers (a mixin: it uses the backend's store and environment)."""

    store: Store
    store_dir: Path
    environ: dict[str, str]
    _seen: tuple[int, int] | None
    _cache: dict[str, tuple[Run, sqlite3.Row]]
    _worker_of: dict[str, int]  # run id -> pid of the worker this backend forked for it

    def _start_worker(self, run_id: str, log: Path, pipeline: Pipeline, record: Callable[[int | None], None]) -> int:
        """Start the run's worker in its own session (a cancel signals it and its steps together) and have
        ``record`` record the run, with the worker's pid where it is known by then; the worker's pid.

        Forked from this process when that is safe, so the worker starts in a millisecond with everything
        already imported; otherwise ``python -m retrain.backends.local.worker`` (about 0.1 s of imports).
        Safe means: no other thread (a fork copies only the caller's, with whatever locks others held), and
        no SQLite connection to this store open in this process at the fork, as SQLite asks: this backend's
        own is closed before it and opened again after, and then no file of the store may be open here at
        all. That is checked on the open files themselves, not on the backends we know of: a connection
        nobody closed (a dropped backend's, which lingers in a reference cycle with its statement cache
        until the garbage collector runs) still has SQLite's per-file records in this process, the child
        inherits them, and its own connection then uses descriptors it has closed: "disk I/O error".
        """
        reap_finished()
        if hasattr(os, "fork") and threading.active_count() == 1:
            self.store.close()
            if store_open_here(self.store.db_path):  # another connection: spawn, after opening ours again
                self.store = Store(self.store_dir)
                self._seen, self._cache = None, {}
            else:
                return self._fork_worker(run_id, log, pipeline, record)
        record(None)  # before the worker starts: it reads the run first thing
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "retrain.backends.local.worker", str(self.store_dir), run_id],
                env=self.environ, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for ended in [w for w in _WORKERS if w.poll() is not None]:  # reaped; keep only their exit status
            _WORKERS.remove(ended)
            _FORKED[ended.pid] = ended.returncode
        _WORKERS.append(proc)
        with self.store.write() as db:
            db.execute("UPDATE runs SET pid = ?, pid_start = ? WHERE id = ?", (proc.pid, proc_start(proc.pid), run_id))
        return proc.pid

    def _fork_worker(self, run_id: str, log: Path, pipeline: Pipeline, record: Callable[[int], None]) -> int:
        """Fork the run's worker, then record the run with its pid and tell the worker to start.

        This backend's connection is closed on entry and opened again here. The run is recorded after the
        fork, not before, for the sake of that close: SQLite checkpoints the write-ahead log into the
        database when its last connection closes, and syncs both to disk (3 to 12 ms on the development
        machine's disk, on every submit). Before the run is recorded, the log holds nothing to copy (opening
        the store only reads) and the close costs nothing. Recording the pid with the run also makes it one
        write instead of two, and the worker, which waits for the go, never queues for the write lock behind
        its submitter.
        """
        from .worker import GO, forked  # before the fork: the child runs nothing that can fail into our code

        sys.stdout.flush()
        sys.stderr.flush()
        # The worker holds the write end of a pipe it never writes to: its exit (after it recorded the
        # end of the run) is the read end's EOF, which wakes a follower in this process at once.
        ended, holds = os.pipe()  # both close-on-exec: the steps the worker starts never hold them
        wait_go, go = os.pipe()
        # Everything the worker inherits is the parent's: the worker must never finalize any of it. Garbage
        # the collector has not reached yet (another store's dropped connection) would be closed in the
        # worker by descriptor numbers that, after the worker closed the inherited files, name the worker's
        # own store or logs. So no collection between the fork and the freeze, and none of it after.
        collecting = gc.isenabled()
        gc.disable()
        try:
            pid = os.fork()
            if pid == 0:
                gc.freeze()
                if collecting:
                    gc.enable()
                os.close(ended)
                os.close(go)
                forked(self.store_dir, run_id, self.environ, log, pipeline, holds, wait_go)  # never returns
        except BaseException:  # no worker: the backend gets its connection back, and the error goes on
            os.close(ended)
            os.close(go)
            self.store = Store(self.store_dir)
            raise
        finally:
            if collecting:
                gc.enable()
            os.close(holds)
            os.close(wait_go)
            self._seen, self._cache = None, {}
        _FORKED[pid] = None  # reaped once it ends, whatever happens next
        try:
            self.store = Store(self.store_dir)
            record(pid)
        except BaseException:  # nothing recorded: the pipe closes without the go, and the worker ends unused
            os.close(go)
            os.close(ended)
            raise
        # The exit pipe is registered before the go: from here on the run is recorded, and whatever interrupts
        # this process, the pipe belongs to the run's follower (the run's next look reports a worker that never
        # started).
        _EXIT_PIPES[pid] = ended
        self._worker_of[run_id] = pid
        try:
            os.write(go, GO)
        except BrokenPipeError:
            pass  # the worker is already gone: the run's next look reports it, by the pid recorded with it
        finally:
            os.close(go)
        return pid

    def sleep_until_end(self, run_id: str, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking at once if the run's worker exits (a worker this process forked);
        False, without sleeping, when this process cannot tell (the caller then sleeps its own way)."""
        pid = self._worker_of.get(run_id)
        fd = _EXIT_PIPES.get(pid) if pid is not None else None
        if fd is None:
            return False
        readable, _, _ = select.select([fd], [], [], seconds)
        if readable:  # nothing is ever written: readable means EOF, the worker has exited
            close_exit_pipe(pid)  # type: ignore[arg-type]
        return True


def reap(pid: int) -> int | None:
    """The exit status of a worker this process started (None for another process's).

    Called once /proc says the worker is gone: a killed multi-threaded worker can still be reported by
    waitpid a moment later (its threads exit after its main one), so wait that moment, boundedly."""
    give_up = time.monotonic() + 1.0
    while True:
        proc = next((w for w in _WORKERS if w.pid == pid), None)
        if proc is not None:
            status = proc.poll()
        elif pid in _FORKED:
            reap_finished()
            status = _FORKED.get(pid)
        else:
            return None
        if status is not None or time.monotonic() >= give_up:
            return status
        time.sleep(0.005)


def store_open_here(db_path: Path) -> bool:
    """Whether this process holds any file of the SQLite database at ``db_path`` open (the database, its
    write-ahead log or its shared-memory index), whoever opened it; True when that cannot be told."""
    wanted: set[tuple[int, int]] = set()
    for path in (db_path, db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm")):
        try:
            st = os.stat(path)
        except OSError:
            continue
        wanted.add((st.st_dev, st.st_ino))
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            fds = [int(name) for name in os.listdir(listing)]
        except (OSError, ValueError):
            continue
        for fd in fds:
            try:
                st = os.fstat(fd)
            except OSError:  # the listing's own descriptor, closed by now
                continue
            if (st.st_dev, st.st_ino) in wanted:
                return True
        return False
    return True


def reap_finished() -> None:
    """Collect forked workers that ended (no zombies); keep their exit status as Popen.poll would."""
    for pid, status in list(_FORKED.items()):
        if status is not None:
            continue
        try:
            done, raw = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            _FORKED[pid] = 0
            continue
        if done:
            _FORKED[pid] = -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)
            close_exit_pipe(pid)


def close_exit_pipe(pid: int) -> None:
    fd = _EXIT_PIPES.pop(pid, None)
    if fd is not None:
        os.close(fd)
