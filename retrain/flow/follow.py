"""Follow a run to a terminal state: poll with a deadline, stream step logs, honour a stop request.

Time and sleeping are injected so a two-hour timeout is tested in milliseconds. Sleeping is
``stop.wait`` so a signal wakes the loop at once instead of after a poll interval.

On a stop the reporter hears it first (``on_stop``: the check run is completed ``cancelled`` at once), then
the backend is asked to cancel and given :data:`STOP_GRACE_S` to confirm: GitHub's runner sends SIGTERM
7.5 s after its SIGINT and kills 2.5 s later (actions/runner ``ProcessInvoker.cs``), so all of it must fit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ..backends.base import Backend, Run, StepStatus

# How long to wait for a backend to confirm a cancel before reporting what it last said: after a timeout,
# and after a stop signal (the check run already completed: what is left of the runner's 7.5 s).
CANCEL_GRACE_S = 15.0
STOP_GRACE_S = 4.0
# At a fixed pace, wait at least this many times as long as the last look took.
LOOK_SHARE = 20.0


class Ending(str, Enum):
    FINISHED = "finished"  # the run reached a terminal state by itself
    TIMED_OUT = "timed_out"  # the deadline passed; the run was canceled
    STOPPED = "stopped"  # a stop was requested (signal); the run was canceled


@dataclass(frozen=True)
class Followed:
    """A followed run as it was last seen, and why following it ended."""

    run: Run
    ending: Ending


def _signature(run: Run) -> tuple[object, ...]:
    return (run.status, tuple((s.name, s.status) for s in run.steps))


def follow(
    backend: Backend,
    run: Run,
    *,
    timeout_s: float,
    on_change: Callable[[Run], None],
    on_log: Callable[[str, str], None] | None = None,
    stop: threading.Event | None = None,
    interval_s: float | None = None,
    max_interval_s: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    on_stop: Callable[[Run], None] | None = None,
) -> Followed:
    """Poll ``backend`` until ``run`` ends, the deadline passes, or ``stop`` is set."""
    stop = stop or threading.Event()
    interval = interval_s if interval_s is not None else float(getattr(backend, "poll_interval", 5.0))
    # A backend whose look is cheap (the local store) is polled at a fixed pace, so the end of a run
    # shows at once; a remote one backs off while nothing changes.
    backoff = bool(getattr(backend, "poll_backoff", True))
    drain = bool(getattr(backend, "drain_logs", False))
    sleep_until_end = getattr(backend, "sleep_until_end", None) if not backoff else None
    deadline = clock() + timeout_s
    offsets: dict[str, int] = {}
    drained: set[str] = set()
    last: tuple[object, ...] | None = None
    quiet_polls = 0

    while True:
        look = time.perf_counter()
        run = backend.run(run.id)
        if on_log is not None:  # logs first, so a step's output shows before its "done" line
            _stream_logs(backend, run, on_log, offsets, drained, drain=drain)
        sig = _signature(run)
        if sig != last:
            on_change(run)
            last, quiet_polls = sig, 0
        else:
            quiet_polls += 1
        if run.status.is_terminal:
            return Followed(run, Ending.FINISHED)
        if stop.is_set():
            if on_stop is not None:
                on_stop(run)  # the check run first: the runner's budget may end before the backend confirms
            return Followed(_cancel(backend, run, on_change, clock, STOP_GRACE_S), Ending.STOPPED)
        if clock() >= deadline:
            return Followed(_cancel(backend, run, on_change, clock, CANCEL_GRACE_S), Ending.TIMED_OUT)
        # A run that has not changed for a while is polled less often (Azure throttles readers; its
        # client waits out any Retry-After itself), but never past the deadline.
        # A fixed pace never lets the follower take more than a twentieth of a core from the steps: a run of
        # thousands of steps, whose every look reads them all, is looked at less often.
        pace = interval * (1.5 ** min(quiet_polls, 8)) if backoff else max(interval, LOOK_SHARE * (time.perf_counter() - look))
        wait = min(pace, max_interval_s, max(deadline - clock(), 0.0))
        # A backend that can wake at the run's end (the local worker's exit) sleeps; a signal still
        # shows within one pace, as the loop looks at the stop flag after it.
        if sleep_until_end is None or not sleep_until_end(run.id, wait):
            stop.wait(wait)


def _stream_logs(
    backend: Backend, run: Run, on_log: Callable[[str, str], None], offsets: dict[str, int], drained: set[str],
    *, drain: bool = False,
) -> None:
    """New log text of each step that ran. With ``drain``, read chunk after chunk until caught up (each chunk
    handed on before the next is read, so memory stays one chunk however long the log)."""
    for step in run.steps:
        if step.name in drained or step.status in (StepStatus.QUEUED, StepStatus.NOT_RUN, StepStatus.REUSED):
            continue
        while True:
            before = offsets.get(step.name, 0)
            text, offsets[step.name] = backend.logs(run.id, step.name, before)
            if text:
                on_log(step.name, text)
            if not drain or offsets[step.name] == before:
                break
        if step.status.is_terminal:
            drained.add(step.name)


def _cancel(backend: Backend, run: Run, on_change: Callable[[Run], None], clock: Callable[[], float], grace_s: float) -> Run:
    run = backend.cancel(run.id)
    give_up = clock() + grace_s
    while not run.status.is_terminal and clock() < give_up:
        time.sleep(0.2)
        run = backend.run(run.id)
    on_change(run)
    return run
