"""``python -m retrain.backends.local.worker STORE RUN_ID``: execute one run, detached from the terminal.

The worker leads its own process group (the backend starts it in a new session), so a cancel from any
process signals the worker and every step at once. SIGTERM or SIGINT here means "cancel": the executor
stops the steps, marks them canceled and ends the run canceled.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from pathlib import Path
from types import FrameType

from .executor import Executor
from .faults import WORKER_EXIT_DISK_FULL, disk_full_message, is_disk_full
from .store import Store, utcnow


def main(argv: list[str]) -> int:
    store_dir, run_id = Path(argv[0]), argv[1]
    store = Store(store_dir)
    executor = Executor(store, store_dir, run_id, os.environ)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        executor.cancel.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        executor.execute()
    except Exception as e:  # noqa: BLE001 - the run must end with a reason, whatever happened
        full = is_disk_full(e)
        if full:
            message = disk_full_message(store_dir)
            print(f"retrain's local worker stopped: {type(e).__name__}: {e}", file=sys.stderr)
        else:
            message = f"retrain's local worker failed: {type(e).__name__}: {e}. See worker.log in the run folder."
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
            if full or is_disk_full(again):
                return WORKER_EXIT_DISK_FULL
            raise
        return 1
    finally:
        store.close()
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
