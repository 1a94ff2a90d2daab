"""Backends: where pipelines are published and run. See :mod:`retrain.backends.base`."""

from .base import (
    Backend,
    Endpoint,
    PublishResult,
    Run,
    RunStatus,
    StepResult,
    StepStatus,
    SubmitRequest,
    Version,
    VersionPin,
)

__all__ = [
    "Backend",
    "Endpoint",
    "PublishResult",
    "Run",
    "RunStatus",
    "StepResult",
    "StepStatus",
    "SubmitRequest",
    "Version",
    "VersionPin",
]
