"""The backend protocol: what every place that runs pipelines offers, and the records it returns.

The core (commands, follow, the GitHub action) only talks to a :class:`Backend`; it never branches on
which one. Records are frozen dataclasses so reports cannot change what a backend said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol, Union, runtime_checkable

from ..errors import NotFound
from ..pipeline.model import Literal, Pipeline

# A pinned version as the parameter file or the command line gives it.
VersionPin = Union[int, str]  # 1, 2, ... or "default" or "latest"


class RunStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED)


class StepStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    REUSED = "reused"  # completed by reusing the outputs of an identical earlier step
    FAILED = "failed"
    CANCELED = "canceled"
    NOT_RUN = "not_run"  # an upstream step failed or the run was canceled before it started

    @property
    def is_terminal(self) -> bool:
        return self not in (StepStatus.QUEUED, StepStatus.RUNNING)


@dataclass(frozen=True)
class Version:
    """One published, immutable version of an endpoint."""

    endpoint: str
    number: int
    content_hash: str
    created: datetime
    is_default: bool = False
    source_commit: str | None = None
    parameters: Mapping[str, object] = field(default_factory=dict)  # name -> declared default
    url: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """A pipeline endpoint: its numbered versions and which one is the default."""

    name: str
    default_version: int | None
    versions: tuple[Version, ...]  # ascending by number
    url: str | None = None
    # What the service calls it, when that differs from the endpoint's name (Azure ML's pipeline component).
    backend_name: str | None = None

    def version(self, number: int) -> Version | None:
        return next((v for v in self.versions if v.number == number), None)

    @property
    def latest(self) -> Version | None:
        return self.versions[-1] if self.versions else None


@dataclass(frozen=True)
class PublishResult:
    """What a publish gave: the version (new, or the existing one of the same content)."""

    version: Version
    created: bool  # False: the content was unchanged and an existing version was returned
    default_moved: bool = False


@dataclass(frozen=True)
class DefaultMove:
    """One move of an endpoint's default version, as recorded: who moved it, when, from which commit, on what
    verdict and why. Recorded once and never changed (``retrain history`` lists them, ``retrain rollback`` reads them).

    Backends that move defaults offer, beside the protocol: ``set_default(endpoint, number, move)``, which records
    ``move`` (its ``from_version`` filled in with the default it replaced) with the move itself;
    ``record_default_move(move)`` for a move a publish made; and ``default_moves(endpoint)``, oldest first.
    """

    id: str  # a uuid4 hex
    endpoint: str
    from_version: int | None  # the default before the move (None: there was none)
    to_version: int
    kind: str  # publish, gate, promote, force, rollback
    actor: str  # the GitHub actor, or the local user
    at: datetime
    source_commit: str | None = None
    run_id: str | None = None  # the run whose verdict moved it (a gate, a promote's checked run)
    verdict: str | None = None  # passed, no gate, not checked; None where no run was judged
    reason: str = ""


@dataclass(frozen=True)
class SubmitRequest:
    """Everything a backend needs to start a retrain run, already validated."""

    pipeline: str  # the pipeline's name in the parameter file
    endpoint: str
    version: VersionPin
    parameters: Mapping[str, Literal]  # assignments; unassigned parameters take the version's defaults
    experiment: str
    key: str  # idempotency key: same key => the same run is returned, not a new one
    tags: Mapping[str, str] = field(default_factory=dict)
    force: bool = False  # do not reuse earlier step outputs


@dataclass(frozen=True)
class StepResult:
    """One step of a run as the backend reports it: its state, times, reuse and metrics."""

    name: str
    status: StepStatus
    started: datetime | None = None
    ended: datetime | None = None
    reused_from: str | None = None  # run id whose outputs were reused; RUN/STEP when a step of another name made them
    message: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    url: str | None = None

    @property
    def duration_s(self) -> float | None:
        if self.started and self.ended:
            return (self.ended - self.started).total_seconds()
        return None


@dataclass(frozen=True)
class Run:
    """A run of an endpoint version as the backend reports it: its state, values, steps and metrics."""

    id: str
    pipeline: str
    endpoint: str
    version: int
    status: RunStatus
    parameters: Mapping[str, Literal]  # every parameter's value as it ran, defaults included
    key: str
    created: datetime
    started: datetime | None = None
    ended: datetime | None = None
    steps: tuple[StepResult, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    url: str | None = None
    message: str = ""  # why it failed or was canceled
    tags: Mapping[str, str] = field(default_factory=dict)
    experiment: str = ""

    @property
    def duration_s(self) -> float | None:
        if self.started and self.ended:
            return (self.ended - self.started).total_seconds()
        return None


def pin_to_number(endpoint: Endpoint, pin: VersionPin) -> int:
    """A pin (number, "default", "latest") to a version number the endpoint has; NotFound lists them."""
    numbers = [v.number for v in endpoint.versions]
    if pin == "default":
        number = endpoint.default_version
    elif pin == "latest":
        number = numbers[-1] if numbers else None
    else:
        number = int(pin)
    if number is None or number not in numbers:
        listing = ", ".join(map(str, numbers)) or "none yet (run retrain publish)"
        raise NotFound(f"endpoint '{endpoint.name}' has no version {pin}. Its versions: {listing}.")
    return number


@runtime_checkable
class Backend(Protocol):
    """A place where pipelines are published and run."""

    kind: str

    def publish(
        self, pipeline: Pipeline, *, endpoint: str, make_default: bool, source_commit: str | None
    ) -> PublishResult:
        """Publish ``pipeline`` as a new version of ``endpoint`` unless its content is unchanged."""
        ...

    def endpoints(self) -> list[Endpoint]: ...

    def endpoint(self, name: str) -> Endpoint:
        """Raise :class:`~retrain.errors.NotFound` naming the endpoint when it does not exist."""
        ...

    def submit(self, request: SubmitRequest) -> Run:
        """Start a run, or return the existing run with the same ``request.key``."""
        ...

    def run(self, run_id: str) -> Run: ...

    def runs(
        self, *, pipeline: str | None = None, status: RunStatus | None = None, limit: int = 20
    ) -> list[Run]: ...

    def cancel(self, run_id: str) -> Run: ...

    def find_run(self, key: str) -> Run | None:
        """The run submitted with idempotency key ``key``, if any."""
        ...

    def logs(self, run_id: str, step: str, offset: int = 0) -> tuple[str, int]:
        """New log text of ``step`` from byte ``offset``; returns (text, next offset)."""
        ...
