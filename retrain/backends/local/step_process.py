"""One step's process: its folder laid out (private copies of code and inputs), ``bash -c`` (or the one
program a plain command names, see ``direct.py``) in its own process group inside the worker's session,
waited for without reaping so whatever it left running in the background ends with its group, and what it
left stored by content; stopping every running step's group (SIGTERM, a grace period, SIGKILL) when the run
is canceled or the worker fails."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from .direct import environment, find_program, plain_words, probe, probe_key
from .faults import KILL_GRACE_S
from .logs import log_tail
from .objects import intern_tree, materialize, prune_copies, remove_tree, share_folder
from .prepare import Prepared
from .store import Store, utcnow

LOG_TAIL_LINES = 15

class StepProcesses:
    """The Executor's step processes (a mixin: it uses the run's cancel flag and running processes)."""

    store_dir: Path
    bash: str
    environ: dict[str, str]
    cancel: threading.Event
    procs: dict[str, subprocess.Popen[bytes]]
    store: Store
    # Whether this bash runs a plain command as direct.py assumes: the store's record of its answer, else
    # asked when a step first could use it (and that answer recorded at the end of the run).
    _plain_bash: bool | None = None
    _asked_bash: bool | None = None
    _probing = threading.Lock()

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
            proc = self._start_plain(prep, log)
            if proc is None:
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

    def _start_plain(self, prep: Prepared, log: object) -> subprocess.Popen[bytes] | None:
        """The step's program started as ``bash -c`` would start it, without bash; None where that is not
        known to be the same (see direct.py), or the program did not start: bash then runs the command."""
        argv = plain_words(prep.command)
        if argv is None:
            return None
        program = find_program(argv[0], prep.env.get("PATH", ""))
        if program is None:
            return None  # bash says it is not found, as ever
        env = environment(prep.env, os.path.realpath(prep.workdir), program)
        if env is None:
            return None
        with self._probing:
            if self._plain_bash is None:
                self._asked_bash = probe(self.bash, self.environ)
                self._plain_bash = bool(self._asked_bash)
        if not self._plain_bash:
            return None
        try:
            return subprocess.Popen(argv, executable=program, cwd=prep.workdir, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, process_group=0)  # type: ignore[arg-type]
        except OSError:
            return None  # not executable, a script without #!, ...: bash runs it (or says why it cannot)

    def _recall_bash(self) -> None:
        """Main thread, before the steps: bash's answer as the store recorded it, if it did."""
        key = probe_key(self.bash)
        row = self.store.one("SELECT value FROM meta WHERE key = ?", key) if key else None
        if row is not None:
            self._plain_bash = row["value"] == "yes"

    def _record_bash(self) -> None:
        """Main thread, after the steps: the answer bash gave during this run, for the next runs."""
        key = probe_key(self.bash)
        if self._asked_bash is not None and key:
            self.store.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                                    (key, "yes" if self._asked_bash else "no"))

    def _settle(self, prep: Prepared) -> None:
        """Store what the step left by content: drop its copies of inputs and unchanged code, intern the rest."""
        try:
            remove_tree(prep.folder / "inputs")
            code = prep.step.component.code
            if code is not None:
                prune_copies(prep.workdir, code if code.is_dir() else code.parent)
            # Empty folders go (outputs stay, even empty: they are the contract), in the walk that interns.
            stored = intern_tree(self.store_dir, prep.folder, tidy=True, keep=("outputs",))
            share_folder(self.store_dir, prep.folder / "outputs", stored)
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
