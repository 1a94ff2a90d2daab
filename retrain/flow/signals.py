"""Turn SIGINT/SIGTERM into a polite stop, once.

GitHub's runner cancels a workflow with SIGINT, then SIGTERM 7.5 s later, then kills 2.5 s after that
(actions/runner ``ProcessInvoker.cs``). The first signal sets :data:`STOP`; in the action a watcher thread
completes the open check runs ``cancelled`` at once, and the follow loop, woken at once, then asks the backend
to cancel, waits briefly for it to confirm, reports and exits 130, all before the SIGTERM. A second signal
means "now": it raises KeyboardInterrupt wherever the program is. The flag is process-wide because signals
are.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP = threading.Event()


@contextmanager
def stop_on_signals(notify: Callable[[str], None] | None = None) -> Iterator[threading.Event]:
    """Install the handlers for the duration of a command (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield STOP
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if STOP.is_set():
            raise KeyboardInterrupt
        STOP.set()
        if notify is not None:
            name = signal.Signals(signum).name
            notify(f"{name} received: stopping and canceling the run (send it again to quit at once).")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield STOP
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def stderr_notify(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
