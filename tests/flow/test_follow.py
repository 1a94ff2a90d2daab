"""Following a run: status changes reported once, logs streamed, deadline and stop cancel the run.

The backend here is a scripted stand-in for the protocol (no HTTP involved); the clock is injected so
a two-hour timeout takes no time.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timezone

from retrain.backends.base import Run, RunStatus, StepResult, StepStatus
from retrain.flow.follow import Ending, follow

T0 = datetime(2026, 11, 24, tzinfo=timezone.utc)


def make_run(status: RunStatus, steps: dict[str, StepStatus]) -> Run:
    return Run(
        id="r1", pipeline="p", endpoint="e", version=1, status=status, parameters={}, key="k", created=T0,
        steps=tuple(StepResult(n, s) for n, s in steps.items()),
    )


class Scripted:
    """Answers run() from a script of states, then repeats the last; records cancels."""

    poll_interval = 0.0

    def __init__(self, states: list[Run], logs: dict[str, list[str]] | None = None) -> None:
        self.states = states
        self.polls = 0
        self.canceled = 0
        self._logs = logs or {}

    def run(self, run_id: str) -> Run:
        state = self.states[min(self.polls, len(self.states) - 1)]
        self.polls += 1
        return state

    def cancel(self, run_id: str) -> Run:
        self.canceled += 1
        last = self.states[-1]
        done = replace(last, status=RunStatus.CANCELED)
        self.states.append(done)
        return done

    def logs(self, run_id: str, step: str, offset: int = 0) -> tuple[str, int]:
        chunks = self._logs.get(step, [])
        if offset < len(chunks):
            return chunks[offset], offset + 1
        return "", offset


class FakeClock:
    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_changes_are_reported_once_each_and_logs_streamed() -> None:
    q, r, c = RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.COMPLETED
    states = [
        make_run(q, {"a": StepStatus.QUEUED}),
        make_run(r, {"a": StepStatus.RUNNING}),
        make_run(r, {"a": StepStatus.RUNNING}),
        make_run(c, {"a": StepStatus.COMPLETED}),
    ]
    backend = Scripted(states, logs={"a": ["line 1\n", "line 2\n"]})
    seen: list[RunStatus] = []
    logged: list[str] = []
    result = follow(backend, states[0], timeout_s=60, on_change=lambda run: seen.append(run.status),  # type: ignore[arg-type]
                    on_log=lambda step, text: logged.append(f"{step}:{text}"), interval_s=0)
    assert result.ending is Ending.FINISHED
    assert result.run.status is RunStatus.COMPLETED
    assert seen == [q, r, c]
    assert logged == ["a:line 1\n", "a:line 2\n"]
    assert backend.canceled == 0


def test_a_deadline_cancels_the_run() -> None:
    running = make_run(RunStatus.RUNNING, {"a": StepStatus.RUNNING})
    backend = Scripted([running])
    clock = FakeClock(step=600.0)  # ten minutes pass per look at the clock
    result = follow(backend, running, timeout_s=2 * 3600, on_change=lambda run: None, interval_s=0, clock=clock)  # type: ignore[arg-type]
    assert result.ending is Ending.TIMED_OUT
    assert result.run.status is RunStatus.CANCELED
    assert backend.canceled == 1
    assert clock.now >= 2 * 3600


def test_a_stop_request_cancels_at_once() -> None:
    running = make_run(RunStatus.RUNNING, {"a": StepStatus.RUNNING})
    backend = Scripted([running])
    stop = threading.Event()
    stop.set()
    result = follow(backend, running, timeout_s=3600, on_change=lambda run: None, stop=stop, interval_s=10)  # type: ignore[arg-type]
    assert result.ending is Ending.STOPPED
    assert result.run.status is RunStatus.CANCELED
    assert backend.polls == 1  # one look; the cancel answer already says canceled


def test_a_run_that_finishes_at_the_deadline_is_not_canceled() -> None:
    done = make_run(RunStatus.FAILED, {"a": StepStatus.FAILED})
    backend = Scripted([done])
    result = follow(backend, done, timeout_s=0, on_change=lambda run: None, interval_s=0)  # type: ignore[arg-type]
    assert result.ending is Ending.FINISHED
    assert backend.canceled == 0


class RecordingStop:
    """A stop flag that is never set and records how long each wait asked for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def is_set(self) -> bool:
        return False

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return False


def quiet_then_done(polls: int) -> list[Run]:
    running = make_run(RunStatus.RUNNING, {"a": StepStatus.RUNNING})
    return [running] * polls + [make_run(RunStatus.COMPLETED, {"a": StepStatus.COMPLETED})]


def test_a_cheap_backend_is_polled_at_a_fixed_pace() -> None:
    backend = Scripted(quiet_then_done(12))
    backend.poll_interval = 0.02
    backend.poll_backoff = False  # type: ignore[attr-defined]
    stop = RecordingStop()
    result = follow(backend, backend.states[0], timeout_s=3600, on_change=lambda run: None, stop=stop)  # type: ignore[arg-type]
    assert result.run.status is RunStatus.COMPLETED
    # No back-off: each wait is the interval (longer only if a look itself took over 5 ms, which a busy
    # machine can cause now and then, so the median is what is checked).
    assert len(stop.waits) == 12 and min(stop.waits) == 0.02
    assert sorted(stop.waits)[6] == 0.02


def test_a_remote_backend_backs_off_while_nothing_changes_but_not_past_the_cap() -> None:
    backend = Scripted(quiet_then_done(12))
    backend.poll_interval = 5.0
    stop = RecordingStop()
    follow(backend, backend.states[0], timeout_s=24 * 3600, on_change=lambda run: None, stop=stop, max_interval_s=30.0)  # type: ignore[arg-type]
    assert stop.waits[0] == 5.0
    assert stop.waits[1:] == sorted(stop.waits[1:]) and stop.waits[1] > 5.0
    assert max(stop.waits) == 30.0


def test_a_stop_tells_the_reporter_before_the_backend_is_asked_to_cancel() -> None:
    running = make_run(RunStatus.RUNNING, {"a": StepStatus.RUNNING})
    backend = Scripted([running])
    order: list[str] = []
    stop = threading.Event()
    stop.set()

    def on_stop(run: Run) -> None:
        order.append(f"reporter (cancels so far: {backend.canceled})")

    result = follow(backend, running, timeout_s=3600, on_change=lambda run: None, stop=stop, interval_s=10,  # type: ignore[arg-type]
                    on_stop=on_stop)
    assert result.ending is Ending.STOPPED and backend.canceled == 1
    assert order == ["reporter (cancels so far: 0)"]


def test_a_backend_slow_to_confirm_is_given_what_is_left_of_the_runners_budget() -> None:
    # The runner sends SIGTERM 7.5 s after SIGINT: the check run is already completed by then, and the wait
    # for the backend's confirmation ends in time for the final report and the exit.
    from retrain.flow import follow as following
    from retrain.action.check_reporter import STOP_BUDGET_S

    assert STOP_BUDGET_S + following.STOP_GRACE_S < 7.5
    running = make_run(RunStatus.RUNNING, {"a": StepStatus.RUNNING})

    class NeverConfirms(Scripted):
        def cancel(self, run_id: str) -> Run:
            self.canceled += 1
            return running  # still running: the backend has not stopped it yet

    backend = NeverConfirms([running])
    clock = FakeClock(step=0.5)
    stop = threading.Event()
    stop.set()
    result = follow(backend, running, timeout_s=3600, on_change=lambda run: None, stop=stop, interval_s=0, clock=clock)  # type: ignore[arg-type]
    assert result.ending is Ending.STOPPED and result.run.status is RunStatus.RUNNING
    assert clock.now <= following.STOP_GRACE_S + 1.0
