"""Typed records of a validated parameter file (``retrain.yml``). Loading lives in ``load.py``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Union

from ..errors import Location, Problem
from ..pipeline.model import Literal, Pipeline

if TYPE_CHECKING:  # types only: validate need not load the backend protocol, nor a file without a gate the gate's records
    from ..backends.base import VersionPin
    from .gate import Gate


class Trigger(str, Enum):
    """What can start a publish or a submit (the words of ``publish_on`` / ``submit_on``)."""

    MERGE = "merge"  # a push to the default branch that changes the pipeline or its parameters
    DATA = "data"  # a push to the default branch that changes a file matching ``data`` globs
    DISPATCH = "dispatch"  # workflow_dispatch, or a person running the CLI
    SCHEDULE = "schedule"  # a scheduled workflow
    PULL_REQUEST = "pull_request"  # a pull request that changes the pipeline: a draft run (submit_on only)


@dataclass(frozen=True)
class LocalBackendConfig:
    """The `backend:` block for the embedded local backend."""

    kind: str = "local"
    store: Path = Path(".retrain")  # absolute after loading
    # owner/name of the GitHub repository whose registry (refs/retrain/registry) `retrain pull` reads; the
    # action always uses the repository it runs in.
    registry: str | None = None


CLOUDS = ("public", "china", "usgov")


@dataclass(frozen=True)
class AzureBackendConfig:
    """``backend: {kind: azureml | azureml-v1, ...}``. Credentials never live in the file."""

    kind: str  # "azureml" (v2, ARM REST) or "azureml-v1" (designer pipeline endpoints)
    subscription_id: str
    resource_group: str
    workspace: str
    cloud: str = "public"
    arm_endpoint: str | None = None  # override for sovereign clouds and tests
    authority_host: str | None = None
    tenant_id: str | None = None  # may also come from action inputs / AZURE_TENANT_ID
    client_id: str | None = None
    compute: str | None = None  # default compute for pipeline jobs (v2)
    location: Location | None = field(default=None, compare=False)


BackendConfig = Union[LocalBackendConfig, AzureBackendConfig]


@dataclass(frozen=True)
class Retention:
    """``retention: {keep: N}``: the local store keeps a pipeline's newest N runs (and what versions need)."""

    keep: int
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PipelineConfig:
    """One entry of ``pipelines:``."""

    name: str
    definition: Path | None  # absolute; None for a v1 designer endpoint, whose pipeline lives in the service
    endpoint: str
    version: VersionPin
    experiment: str
    parameters: Mapping[str, Literal]  # coerced to the declared types; data paths absolute
    data: tuple[str, ...]  # globs, relative to the repository root
    publish_on: frozenset[Trigger]
    submit_on: frozenset[Trigger]
    make_default: bool
    timeout_s: float
    pipeline: Pipeline | None  # the loaded definition; None for a v1 designer endpoint
    location: Location | None = field(default=None, compare=False)
    retention: Retention | None = None  # this pipeline's own; None: the file's top-level one applies
    goals: Mapping[str, str] = field(default_factory=dict)  # metric -> "max" | "min" (unlisted: max)
    compare_to: str = "default"  # "default", "latest" or a run id: the baseline of every report
    gate: Gate | None = None  # the promote: block; None: publishing moves the default as make_default says
    compare_to_at: Location | None = field(default=None, compare=False)  # a run id is checked when work starts


@dataclass(frozen=True)
class Config:
    """A loaded, validated parameter file: its backend and its pipelines."""

    path: Path  # absolute path of the parameter file
    root: Path  # its folder: relative paths in the file are relative to this
    backend: BackendConfig
    pipelines: Mapping[str, PipelineConfig]
    # The boundary every path must stay in (docs/limits.md): the Git top level, or ``root`` outside Git.
    # None only for records built by hand; consumers fall back to ``root``.
    repo_root: Path | None = None
    retention: Retention | None = None  # top level: for every pipeline without its own
    warnings: tuple[Problem, ...] = ()  # what validate says at its line but that does not stop the work

    def retention_for(self, pipeline: str) -> Retention | None:
        own = self.pipelines[pipeline].retention if pipeline in self.pipelines else None
        return own or self.retention
