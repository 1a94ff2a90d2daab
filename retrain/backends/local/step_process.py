"""One step's process: its folder laid out (private copies of code and inputs), ``bash -c`` in its own
process group inside the worker's session, waited for without reaping so whatever it left running in the
background ends with its group, and what it left stored by content; stopping every running step's group
(SIGTERM, a grace period, SIGKILL) when the run is canceled or the worker fails."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from .faults import KILL_GRACE_S
from .logs import log_tail
from .objects import intern_tree, materialize, prune_copies, remove_empty_folders, remove_tree, share_folder
from .prepare import Prepared
from .store import utcnow

LOG_TAIL_LINES = 15

class StepProcesses:
    """The Executor's step processes (a mixin: it uses the run's cancel flag and running processes)."""

    store_dir: Path
    bash: str
    cancel: threading.Event
    procs: dict[str, subprocess.Popen[bytes]]

    def _run_step(self, prep: Prepared) -> tuple[int, str, str]:
        """In a pool thread: lay out the folder, run the command, return (exit code, started, ended)."""
        started = utcnow()
        prep.folder.mkdir(parents=True, exist_ok=True)
        for path in prep.outputs.values():
            path.mkdir(parents=True, exist_ok=True)
        code = prep.step.component.code
        # Private copies (reflinks where the filesystem can), so a step cannot change the published
        # snapshot or an upstream step's stored outputs.
        if code is not None and code.is_dir():
            materialize(code, prep.workdir, ignore=("__pycache__",))
        else:
            prep.workdir.mkdir(parents=True, exist_ok=True)
            if code is not None:
                materialize(code, prep.workdir / code.name)
        for dest, source in prep.inputs.items():
            materialize(source, dest)
        (prep.folder / "command.txt").write_text(prep.command + "\n")
        with (prep.folder / "std_log.txt").open("wb") as log:
            if self.cancel.is_set():
                return -signal.SIGTERM, started, utcnow()
            # Its own process group (in the worker's session): a timeout or cancel signals the step and
            # everything it started, and a dead worker's steps can still be found by the session.
            proc = subprocess.Popen([self.bash, "-c", prep.command], cwd=prep.workdir, env=prep.env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, process_group=0)
            self.procs[prep.step.name] = proc
            # Wait without reaping, so the group id cannot be reused before what the step left running in
            # the background is ended with it (as its container would be on Azure).
            try:
                os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
                _signal_group(proc.pid, signal.SIGKILL)
            except ChildProcessError:  # a cancel reaped it already, after killing its group
                pass
            code_ = proc.wait()
            self.procs.pop(prep.step.name, None)
        self._settle(prep)
        return code_, started, utcnow()

    def _settle(self, prep: Prepared) -> None:
        """Store what the step left by content: drop its copies of inputs and unchanged code, intern the rest."""
        try:
            remove_tree(prep.folder / "inputs")
            code = prep.step.component.code
            if code is not None:
                prune_copies(prep.workdir, code if code.is_dir() else code.parent)
            remove_empty_folders(prep.folder, keep=("outputs",))  # outputs stay, even empty: they are the contract
            share_folder(self.store_dir, prep.folder / "outputs", intern_tree(self.store_dir, prep.folder))
        except OSError:
            pass  # the files stay as they are: correct, only not shared

    def stop_steps(self) -> None:
        """The run ends early (the worker failed): no step outlives it."""
        self.cancel.set()
        self._stop_children()

    def _stop_children(self) -> None:
        """SIGTERM to every running step's process group, a grace period, then SIGKILL to what is left:
        a step that ignores SIGTERM and the children it started are gone too."""
        procs = list(self.procs.values())
        for proc in procs:
            _signal_group(proc.pid, signal.SIGTERM)
        give_up = time.monotonic() + KILL_GRACE_S
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, give_up - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in procs:
            _signal_group(proc.pid, signal.SIGKILL)

    def _tail(self, log: Path) -> str:
        return log_tail(log, LOG_TAIL_LINES)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
