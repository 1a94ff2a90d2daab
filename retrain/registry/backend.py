"""The local backend with its changes sent to the registry as they happen: after a publish (which claims
the version's number before any run uses it), a submit, a default move, a verdict, and a run's end.

A registry that cannot be written (a read-only token, GitHub down, the ref busy) never fails the work: it
is said once, and the records stay in the local store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..backends.base import DefaultMove, PublishResult, Run, SubmitRequest, pin_to_number
from ..errors import BackendError, RetrainError
from ..github.gitdb import ReadOnly
from . import Registry, Report

WRITE_HINT = ("Give the job `permissions: contents: write` (a pull request's token, a fork's above all, can only read). "
              "This job's versions and runs stay in its local store; the work itself goes on.")


class Replicated:
    """Delegates to the local backend; pushes after each change."""

    def __init__(self, backend: Any, registry: Registry, say: Callable[[str, str], None],
                 stopped: Callable[[], bool] = lambda: False) -> None:
        self._backend, self._registry, self._say = backend, registry, say  # say(level, message)
        # Once the job is asked to stop, nothing waits on GitHub: the runner's budget for a cancel is seconds.
        self._stopped = stopped
        self._watched: set[str] = set()  # runs submitted here whose end is still to be sent
        self._said: set[str] = set()
        self.writes = self.requests = 0  # what the writes cost this job, for its log
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    # -- changes ------------------------------------------------------------------------------------

    def publish(self, pipeline: Any, *, endpoint: str, make_default: bool, source_commit: str | None) -> PublishResult:
        result: PublishResult = self._backend.publish(pipeline, endpoint=endpoint, make_default=make_default,
                                                      source_commit=source_commit)
        if not result.created and not result.default_moved:
            return result
        self.push(f"retrain: publish {endpoint}")
        # The push may have given the version another number (another job took ours first): read it back.
        current = next((v for v in self._backend.endpoint(endpoint).versions if v.content_hash == result.version.content_hash),
                       result.version)
        return PublishResult(version=current, created=result.created, default_moved=result.default_moved)

    def submit(self, request: SubmitRequest) -> Run:
        try:  # a version another job published: its snapshot comes from the registry, now that it is needed
            number = pin_to_number(self._backend.endpoint(request.endpoint), request.version)
            self._registry.fetch_snapshot(request.endpoint, number)
        except ReadOnly:
            pass
        except BackendError as e:
            self._once("warning", f"the snapshot of {request.endpoint} version {request.version} could not be read "
                                  f"from the registry {self._registry.remote.ref}: {e}")
        except RetrainError:
            pass  # no such endpoint or version: the backend's submit says so
        run: Run = self._backend.submit(request)
        self._submitted(run)
        return run

    def submit_draft(self, pipeline: Any, request: SubmitRequest) -> Run:
        run: Run = self._backend.submit_draft(pipeline, request)
        self._submitted(run)
        return run

    def set_default(self, endpoint: str, number: int, move: DefaultMove | None = None) -> None:
        if move is None:
            self._backend.set_default(endpoint, number)
        else:  # the move's record (retrain history) travels with it
            self._backend.set_default(endpoint, number, move)
        self.push(f"retrain: default of {endpoint} is {number}")

    def record_default_move(self, move: DefaultMove) -> None:
        self._backend.record_default_move(move)
        self.push(f"retrain: default of {move.endpoint} moved to {move.to_version} ({move.kind})")

    def tag_run(self, run_id: str, tags: Mapping[str, str]) -> None:
        self._backend.tag_run(run_id, tags)
        self.push(f"retrain: verdict on {run_id}")

    def cancel(self, run_id: str) -> Run:
        run: Run = self._backend.cancel(run_id)
        self.push(f"retrain: cancel {run_id}")
        return run

    def run(self, run_id: str) -> Run:
        run: Run = self._backend.run(run_id)
        if run_id in self._watched and run.status.is_terminal:
            self._watched.discard(run_id)
            self.push(f"retrain: run {run_id} {run.status.value}")
        return run

    def _submitted(self, run: Run) -> None:
        if not run.status.is_terminal:
            self._watched.add(run.id)
        self.push(f"retrain: submit {run.id}")

    # -- sending ------------------------------------------------------------------------------------

    def push(self, message: str = "retrain: record") -> Report | None:
        if self._stopped():
            self._once("warning", f"the job was stopped: its last records were not written to the registry "
                                  f"{self._registry.remote.ref}; they stay in its local store.")
            return None
        try:
            report = self._registry.push(message)
        except ReadOnly:
            self._once("warning", f"the registry {self._registry.remote.ref} cannot be written: GitHub answered 403, the "
                                  f"token may read the repository's contents but not write them. {WRITE_HINT}")
            return None
        except BackendError as e:  # GitHub unreachable or refusing, the ref busy
            self._once("warning", f"the registry {self._registry.remote.ref} was not written: {e} The records stay in "
                                  "this job's local store and go with its next write.")
            return None
        self.requests += report.requests
        self.seconds += report.seconds
        self.writes += 1 if report.sent else 0
        for problem in report.problems:
            self._once("warning", f"registry: {problem}")
        return report

    def _once(self, level: str, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            self._say(level, message)
