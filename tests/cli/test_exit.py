"""How a command ends (retrain/cli/main.py ``exit_now``): without the interpreter's teardown, but with everything
an exit must still do: its code, the streams flushed, the atexit handlers run, a running thread waited for."""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

from ..paths import ROOT


# This tree's retrain, with buffered output, as a terminal-less run has unless told otherwise: what the exit must
# flush is there (this machine's environment sets PYTHONUNBUFFERED).
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, "PYTHONPATH": str(ROOT)}


def ended(body: str) -> subprocess.CompletedProcess[str]:
    script = "import atexit, sys, threading, time\nfrom retrain.cli.main import exit_now\n" + body
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=ENV)


def test_the_code_the_output_and_the_atexit_handlers_survive_the_quick_exit() -> None:
    done = ended("atexit.register(lambda: print('cleaned up'))\n"
                 "print('the report', end='')  # still in stdout's buffer (a pipe): only a flush writes it\n"
                 "sys.stderr.write('warning: kept')\n"
                 "exit_now(3)\n")
    assert done.returncode == 3
    assert done.stdout == "the reportcleaned up\n"
    assert done.stderr == "warning: kept"


def test_a_thread_still_running_is_waited_for() -> None:
    done = ended("threading.Thread(target=lambda: (time.sleep(0.3), print('thread finished'))).start()\n"
                 "exit_now(0)\n")
    assert (done.returncode, done.stdout) == (0, "thread finished\n")


def test_a_dropped_store_in_a_reference_cycle_is_closed_and_its_log_copied(tmp_path: Path) -> None:
    # The quick exit collects no garbage: a store nobody closed, kept alive only by a cycle, still closes its
    # connection, which copies the write-ahead log into the database and removes it (a later command on a full
    # disk needs that), and the record is in the database file itself.
    done = ended("from pathlib import Path\n"
                 "from retrain.backends.local.store import Store\n"
                 f"store = Store(Path({str(tmp_path)!r}))\n"
                 "with store.write() as db:\n"
                 "    db.execute(\"INSERT INTO meta(key, value) VALUES ('note', 'kept')\")\n"
                 "store.itself = store\n"
                 "del store\n"
                 "exit_now(0)\n")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["retrain.db"]
    conn = sqlite3.connect(tmp_path / "retrain.db")
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'note'").fetchone() == ("kept",)
    finally:
        conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["retrain.db"]  # our reader left no log behind either


def test_a_report_that_could_not_be_written_is_a_failure_said_on_stderr() -> None:
    # Output sent to a full disk: the quick exit's flush fails. The command must not end 0 as if the report had
    # arrived (the interpreter's own exit would not either), and says why on stderr.
    script = "import sys\nfrom retrain.cli.main import exit_now\nprint('the report')\nexit_now(0)\n"
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-c", script], stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=60, env=ENV)
    assert done.returncode == 1
    assert done.stderr == ("retrain: the output could not all be written: No space left on device. Free some space "
                           "where it goes, or send it elsewhere, and run the command again.\n")


def test_a_closed_output_keeps_the_commands_exit_code() -> None:
    # Started with stdout closed (`retrain ... >&-`): Python has no sys.stdout; the exit is the command's, no traceback.
    done = subprocess.run(["bash", "-c", f"exec {shlex.quote(sys.executable)} -c 'from retrain.cli.main import exit_now; exit_now(3)' >&-"],
                          capture_output=True, text=True, timeout=60, env=ENV)
    assert (done.returncode, done.stderr) == (3, "")
