"""Execute one run, detached from the terminal: forked by the submitting process (:func:`forked`), or
``python -m retrain.backends.local.worker STORE RUN_ID`` (:func:`main`).

The worker leads its own session; each step runs in its own process group inside it. SIGTERM or SIGINT
here means "cancel": the executor stops every step's group (SIGTERM, a grace period, SIGKILL), marks them
canceled and ends the run canceled. A failure ends the run failed with the reason; when the disk is too
full to record even that, the exit status (:data:`~.faults.WORKER_EXIT_DISK_FULL`) says so to the process
that started it.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import NoReturn

from ...pipeline.model import Pipeline
from .executor import Executor
from .faults import WORKER_EXIT_DISK_FULL, disk_full_message, is_disk_full
from .store import Store, utcnow


# What the submitter writes to a forked worker once the run is recorded (see forked).
GO = b"1"


def main(argv: list[str]) -> int:
    return work(Path(argv[0]), argv[1], os.environ)


def forked(store_dir: Path, run_id: str, environ: Mapping[str, str], log: Path, pipeline: Pipeline, keep_fd: int,
           go_fd: int) -> NoReturn:
    """The worker as a fork of the process that submitted the run (see LocalBackend._start_worker): its own
    session, its output in ``log``, no other file of the parent's held open (as a spawned worker, started
    with close_fds, holds none: a caller waiting for the end of the submitter's output must not wait for
    the run), ``keep_fd`` (the exit pipe) kept, none of the parent's objects finalized here (the collector
    never sees them: frozen at the fork), and an exit that runs none of the parent's clean-up.

    The parent records the run (with this process's pid) after the fork: the worker starts on the byte it
    then writes to ``go_fd``, and ends without doing anything when the pipe closes without it (the record
    failed: a full disk, an interrupted submit)."""
    code = 1
    try:
        os.setsid()
        # Told to start before making any file: a run that could not be recorded leaves nothing behind.
        if os.read(go_fd, 1) != GO:
            os._exit(0)
        os.close(go_fd)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(null)
        os.closerange(3, keep_fd)
        os.closerange(keep_fd + 1, max(keep_fd + 1, os.sysconf("SC_OPEN_MAX")))
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the process ends with os._exit
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        code = work(store_dir, run_id, environ, pipeline)
    except BaseException:  # noqa: BLE001 - whatever happens, never return into the parent's code
        import traceback  # only a crash needs it: every submit imports this module before its fork

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def work(store_dir: Path, run_id: str, environ: Mapping[str, str], pipeline: Pipeline | None = None) -> int:
    store = Store(store_dir)
    executor = Executor(store, store_dir, run_id, environ, pipeline)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        executor.cancel.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        executor.execute()
    except Exception as e:  # noqa: BLE001 - the run must end with a reason, whatever happened
        full = is_disk_full(e, store_dir)
        if full:
            message = disk_full_message(store_dir)
            print(f"retrain's local worker stopped: {type(e).__name__}: {e}", file=sys.stderr)
        else:
            message = f"retrain's local worker failed: {type(e).__name__}: {e}. See worker.log in the run folder."
            import traceback

            traceback.print_exc()
        executor.stop_steps()
        try:
            with store.write() as db:
                db.execute(
                    "UPDATE runs SET status = 'failed', ended = ?, message = ? WHERE id = ? AND status IN ('queued', 'running')",
                    (utcnow(), message, run_id),
                )
                db.execute("UPDATE steps SET status = 'not_run' WHERE run_id = ? AND status IN ('queued', 'running')", (run_id,))
        except Exception as again:  # noqa: BLE001 - nowhere left to record it: the exit status says why
            if full or is_disk_full(again, store_dir):
                return WORKER_EXIT_DISK_FULL
            raise
        return 1
    finally:
        store.close()
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
