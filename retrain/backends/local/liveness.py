"""Whether a run's worker still runs, and ending the run when it does not: a worker that died (killed, out
of memory, the machine restarted) is noticed by the next look or the next command that opens the store,
its run ends failed with the reason, and the steps it left behind are killed with its session."""

from __future__ import annotations

import os
import signal
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..base import RunStatus, StepStatus
from .faults import WORKER_EXIT_DISK_FULL, StoreFull, disk_full_message, disk_nearly_full, is_disk_full, kill_session
from .launch import proc_start, reap
from .store import Store, parse_time, utcnow

# A run recorded but whose worker never reported its pid within this long is taken for dead.
UNSTARTED_GRACE = timedelta(seconds=60)


class Liveness:
    """LocalBackend's watch over workers (a mixin: it uses the backend's store)."""

    store: Store
    store_dir: Path

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _end(self, run_id: str, status: RunStatus, message: str, running_steps: StepStatus) -> None:
        now = utcnow()
        with self.store.write() as db:
            db.execute("UPDATE runs SET status = ?, ended = ?, message = ? WHERE id = ? AND status IN ('queued', 'running')",
                       (status.value, now, message, run_id))
            db.execute("UPDATE steps SET status = ?, ended = ? WHERE run_id = ? AND status = 'running'", (running_steps.value, now, run_id))
            db.execute("UPDATE steps SET status = 'not_run' WHERE run_id = ? AND status = 'queued'", (run_id,))

    def _worker_gone(self, row: sqlite3.Row) -> str | None:  # row: id, pid, pid_start, created
        """Why the worker of a queued or running run is no longer there, or None while it is."""
        pid = row["pid"]
        if pid is None:
            created = parse_time(row["created"])
            if created is not None and datetime.now(timezone.utc) - created > UNSTARTED_GRACE:
                return "its worker never started; submit it again."
            return None
        current = proc_start(pid)
        if current is not None and current == row["pid_start"]:
            return None  # (a worker that ended before its start time was read is gone, not alive)
        exit_status = reap(pid)
        kill_session(pid, row["id"])  # its steps, each in its own process group within the worker's session
        if exit_status == WORKER_EXIT_DISK_FULL or disk_nearly_full(self.store_dir):
            return disk_full_message(self.store_dir)
        how = ""
        if exit_status is not None and exit_status < 0:
            how = f" (killed by {signal.Signals(-exit_status).name})"
        elif exit_status:
            how = f" (exit status {exit_status}; see worker.log in the run folder)"
        return f"the process running it (pid {pid}) stopped unexpectedly{how}; submit it again."

    def _end_or_report(self, run_id: str, reason: str) -> None:
        try:
            self._end(run_id, RunStatus.FAILED, reason, StepStatus.FAILED)
        except Exception as e:
            if is_disk_full(e, self.store_dir):
                raise StoreFull(self.store_dir, f"Run {run_id} stopped and could not be recorded as failed yet; the next retrain "
                                                f"command that opens the store once there is space records it.") from None
            raise

    def _repair(self) -> None:
        """Runs left queued or running by a worker that died (killed, machine restarted) end as failed."""
        for row in self.store.all("SELECT id, pid, pid_start, created FROM runs WHERE status IN ('queued', 'running')"):
            reason = self._worker_gone(row)
            if reason is None:
                continue
            try:
                self._end(row["id"], RunStatus.FAILED, reason, StepStatus.FAILED)
            except Exception as e:  # noqa: BLE001 - a full disk: recorded by a later command, once there is space
                if not is_disk_full(e, self.store_dir):
                    raise
