"""The review's part before a run: a ``compare_to`` checked before anything runs, a publish's default move
recorded, a pull request's pipeline submitted as a draft.

Apart from the judging (promote.py) so that publishing and submitting do not load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import NotFound, UsageError
from .history import Mover, new_move

if TYPE_CHECKING:
    from ..backends.base import Backend, PublishResult, Run, SubmitRequest
    from ..config.records import PipelineConfig
    from ..pipeline.model import Pipeline


def check_compare_to(backend: Backend, pc: PipelineConfig) -> None:
    """A ``compare_to`` run id must exist before anything runs: a wrong id is bad input (exit 2)."""
    if pc.compare_to in ("default", "latest"):
        return
    try:
        backend.run(pc.compare_to)
    except NotFound:
        at = pc.compare_to_at or pc.location
        where = f"{at}: " if at else ""
        raise NotFound(f"{where}at pipelines.{pc.name}.compare_to: there is no run '{pc.compare_to}'. "
                       "Name a run that `retrain runs` lists, or write compare_to: default.") from None


def publish(backend: Backend, pipeline: Pipeline, *, endpoint: str, make_default: bool, source_commit: str | None,
            mover: Mover | None = None, reason: str = "") -> PublishResult:
    """``backend.publish``, and the default move it made (the endpoint's first version, or ``make_default``)
    recorded as kind ``publish``."""
    before = _default_or_none(backend, endpoint)
    result = backend.publish(pipeline, endpoint=endpoint, make_default=make_default, source_commit=source_commit)
    number = result.version.number
    record = getattr(backend, "record_default_move", None)
    if record is not None and result.version.is_default and before != number:
        why = reason or ("the endpoint's first version" if before is None else "published as the default (ungated)")
        record(new_move(endpoint, number, "publish", mover, from_version=before, commit=source_commit, reason=why))
    return result


def _default_or_none(backend: Backend, endpoint: str) -> int | None:
    try:
        return backend.endpoint(endpoint).default_version
    except NotFound:
        return None


def submit_draft(backend: Backend, pipeline: Pipeline, request: SubmitRequest) -> Run:
    submit = getattr(backend, "submit_draft", None)
    if submit is None:
        raise UsageError(f"the {backend.kind} backend cannot run drafts; run pull requests' pipelines on local or azureml.")
    return submit(pipeline, request)  # type: ignore[no-any-return]
