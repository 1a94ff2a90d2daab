"""Carry out a plan: publish, submit (once per key), follow, and tell a reporter at each stage.

The CLI and the GitHub action both run plans through :func:`execute`; they differ only in their
:class:`Reporter` (console text, or check runs plus a job summary).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..backends.base import Backend, PublishResult, Run, RunStatus, SubmitRequest, VersionPin
from ..config.records import Config
from ..errors import EXIT_OK, EXIT_WORK_FAILED, Interrupted, NotFound, RetrainError
from ..pipeline.model import Literal
from .plan import Plan, PipelinePlan
from ..review.history import Mover
from ..review.publish import check_compare_to, publish, submit_draft
from ..review.records import DRAFT_TAG, GATE_TAG, VALUES_TAG, Review
from .signals import STOP

if TYPE_CHECKING:  # the follower loads once a run is submitted, while its first step starts (see _execute_one)
    from .follow import Ending


class Conclusion(str, Enum):
    """How a pipeline's work ended; the values are GitHub's check-run conclusions."""

    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    NEUTRAL = "neutral"  # the plan had nothing to do
    ACTION_REQUIRED = "action_required"  # the parameter file is wrong
    SKIPPED = "skipped"
    PENDING = "pending"  # submitted without waiting: not a conclusion yet (check stays in progress)

    @property
    def failed(self) -> bool:
        return self in (Conclusion.FAILURE, Conclusion.CANCELLED, Conclusion.TIMED_OUT, Conclusion.ACTION_REQUIRED)


@dataclass(frozen=True)
class Outcome:
    """One pipeline's work under a plan, as the reporters tell it."""

    item: PipelinePlan
    published: PublishResult | None
    run: Run | None
    conclusion: Conclusion
    message: str
    error: RetrainError | None = None  # the error behind a FAILURE, for the exit code
    review: Review = field(default_factory=Review)  # the baseline comparison, the gate's verdict, the trend
    candidate: int | None = None  # a gated version that becomes the default only if its run passes
    promoted: bool = False  # the gate passed and the default moved to ``candidate``


def exit_code(outcomes: list[Outcome]) -> int:
    """2 if an input was wrong (credentials, values), 1 if any work failed, else 0."""
    codes = [o.error.exit_code for o in outcomes if o.error is not None]
    codes += [EXIT_WORK_FAILED for o in outcomes if o.conclusion.failed]
    return max(codes, default=EXIT_OK)


class Reporter(Protocol):
    def started(self, item: PipelinePlan) -> None: ...
    def published(self, item: PipelinePlan, result: PublishResult) -> None: ...
    def submitted(self, item: PipelinePlan, run: Run, *, attached: bool) -> None: ...
    def progress(self, item: PipelinePlan, run: Run) -> None: ...
    def log(self, item: PipelinePlan, step: str, text: str) -> None: ...
    def finished(self, outcome: Outcome) -> None: ...
    def stopping(self, item: PipelinePlan, run: Run) -> None: ...  # a stop: before the backend's cancel


def portable(value: Literal, repo_root: Path | None) -> Literal:
    """Local paths inside the repository count by their repository-relative form, so the same
    commit checked out elsewhere gives the same key."""
    if isinstance(value, str) and repo_root is not None and value.startswith("/"):
        try:
            return Path(value).relative_to(repo_root).as_posix()
        except ValueError:
            return value
    return value


def run_key(
    *,
    commit: str | None,
    pipeline: str,
    endpoint: str,
    version: int,
    parameters: Mapping[str, Literal],
    repo_root: Path | None = None,
) -> str:
    """The idempotency key of a submit: same commit, pipeline, version and values => same run.

    Without a commit (a person at a terminal) every submit is new: re-running by hand means it.
    """
    body = {
        "commit": commit or f"manual-{os.urandom(16).hex()}",  # unique: never matches an earlier run
        "pipeline": pipeline,
        "endpoint": endpoint,
        "version": version,
        "parameters": {k: portable(v, repo_root) for k, v in sorted(parameters.items())},
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return f"rt-{digest[:24]}"


def resolve_version(backend: Backend, endpoint: str, pin: VersionPin) -> int:
    """A pin to a number, asking the backend only when the pin is a word."""
    if isinstance(pin, int):
        return pin
    ep = backend.endpoint(endpoint)
    if not ep.versions:
        raise NotFound(f"endpoint '{endpoint}' has no published version yet. Publish one first: retrain publish.")
    if pin == "latest" and ep.latest is not None:  # versions is not empty, so latest is set
        return ep.latest.number
    if ep.default_version is None:
        raise NotFound(f"endpoint '{endpoint}' has no default version. Pin a number, or publish with --make-default.")
    return ep.default_version


def conclusion_of(run: Run, ending: Ending) -> tuple[Conclusion, str]:
    from .follow import Ending

    if ending is Ending.TIMED_OUT:
        return Conclusion.TIMED_OUT, f"run {run.id} did not finish in time and was canceled."
    if ending is Ending.STOPPED:
        return Conclusion.CANCELLED, f"run {run.id} was canceled because retrain was asked to stop."
    if run.status is RunStatus.COMPLETED:
        return Conclusion.SUCCESS, f"run {run.id} completed."
    if run.status is RunStatus.CANCELED:
        return Conclusion.CANCELLED, run.message or f"run {run.id} was canceled."
    return Conclusion.FAILURE, run.message or f"run {run.id} failed."


def execute(
    plan: Plan,
    config: Config,
    backend: Backend,
    reporter: Reporter,
    *,
    commit: str | None,
    wait: bool = True,
    stop: threading.Event | None = None,
    force: bool = False,
    tags: Mapping[str, str] | None = None,
    repo_root: Path | None = None,
    poll_interval_s: float | None = None,
    actor: str | None = None,
) -> list[Outcome]:
    """Run every item of ``plan``; a failure in one pipeline does not stop the others. ``actor``: who the
    default moves this makes are recorded as (the GitHub actor, or the local user)."""
    stop = stop if stop is not None else STOP
    outcomes: list[Outcome] = []
    for item in plan.items:
        outcome = _execute_one(
            item, config, backend, reporter,
            commit=commit, wait=wait, stop=stop, force=force, tags=dict(tags or {}),
            repo_root=repo_root, poll_interval_s=poll_interval_s, mover=Mover(actor or "unknown", commit),
        )
        reporter.finished(outcome)
        outcomes.append(outcome)
        if outcome.conclusion is Conclusion.CANCELLED and stop.is_set():
            raise Interrupted("stopped by a signal; the run was canceled.")
    return outcomes


def _execute_one(
    item: PipelinePlan,
    config: Config,
    backend: Backend,
    reporter: Reporter,
    *,
    commit: str | None,
    wait: bool,
    stop: threading.Event,
    force: bool,
    tags: dict[str, str],
    repo_root: Path | None,
    poll_interval_s: float | None,
    mover: Mover | None = None,
) -> Outcome:
    if not (item.publish or item.submit):
        return Outcome(item, None, None, Conclusion.NEUTRAL, "; ".join(str(r) for r in item.reasons) or "nothing to do")
    reporter.started(item)
    published: PublishResult | None = None
    run: Run | None = None
    candidate: int | None = None
    try:
        pc = config.pipelines[item.pipeline]
        gated = pc.gate is not None
        if item.publish and pc.pipeline is not None:
            # With a gate the new version waits for its run: the default moves only if the run passes.
            published = publish(backend, pc.pipeline, endpoint=item.endpoint, make_default=item.make_default and not gated,
                                source_commit=commit, mover=mover)
            reporter.published(item, published)
            # Only a new version waits for a gate: an unchanged one that failed before stays as it is until
            # `retrain promote` (re-running its gate on every push would replace the runs of the default).
            if gated and published.created and not published.version.is_default:
                candidate = published.version.number
        if not item.submit and candidate is None:
            return Outcome(item, published, None, Conclusion.SUCCESS, _published_text(item, published))
        if stop.is_set():
            return Outcome(item, published, None, Conclusion.CANCELLED, "stopped before the run was submitted.", candidate=candidate)
        check_compare_to(backend, pc)

        if item.draft and pc.pipeline is not None:
            version = 0
            key = run_key(commit=commit, pipeline=item.pipeline, endpoint=f"{item.endpoint}#draft:{pc.pipeline.content_hash}",
                          version=0, parameters=item.parameters, repo_root=repo_root)
        else:
            try:
                version = candidate if candidate is not None else resolve_version(backend, item.endpoint, item.version)
            except NotFound:
                if isinstance(item.version, int) or published is not None or pc.pipeline is None:
                    raise
                # Nothing published yet (a new endpoint, or an empty local store on a fresh runner): a run
                # needs a version, and the one to run is the pipeline as it is in this commit.
                published = publish(backend, pc.pipeline, endpoint=item.endpoint, make_default=True, source_commit=commit,
                                    mover=mover)
                reporter.published(item, published)
                version = resolve_version(backend, item.endpoint, item.version)
            key = run_key(commit=commit, pipeline=item.pipeline, endpoint=item.endpoint, version=version,
                          parameters=item.parameters, repo_root=repo_root)
        earlier = backend.find_run(key)
        if earlier is not None:
            run = earlier
        else:
            run_tags = {**tags, "retrain.key": key, "retrain.pipeline": item.pipeline}
            if commit:
                run_tags["retrain.commit"] = commit
            if item.draft:
                run_tags[DRAFT_TAG] = "true"
            if candidate is not None:
                run_tags[GATE_TAG] = str(candidate)
            # Only a run with the parameter file's values can be a baseline (baseline.py): say which this is.
            run_tags[VALUES_TAG] = "file" if dict(item.parameters) == dict(pc.parameters) else "set"
            request = SubmitRequest(
                pipeline=item.pipeline, endpoint=item.endpoint, version=version,
                parameters=dict(item.parameters), experiment=item.experiment, key=key, tags=run_tags, force=force,
            )
            run = submit_draft(backend, pc.pipeline, request) if item.draft and pc.pipeline is not None else backend.submit(request)
        reporter.submitted(item, run, attached=earlier is not None)
        if not item.draft and run.version != version:
            return Outcome(item, published, run, Conclusion.FAILURE,
                           f"run {run.id} ran version {run.version} of '{item.endpoint}', not the pinned version {version}.")
        if not wait:
            return Outcome(item, published, run, Conclusion.PENDING, f"run {run.id} submitted; not waiting for it.", candidate=candidate)

        # The following and the judging load now, while the run is under way (the follower only waits), not before
        # the run starts.
        from ..review.promote import settle
        from .follow import follow

        current = item
        followed = follow(
            backend, run, timeout_s=item.timeout_s, stop=stop, interval_s=poll_interval_s,
            on_change=lambda r: reporter.progress(current, r),
            on_log=lambda step, text: reporter.log(current, step, text),
            on_stop=lambda r: reporter.stopping(current, r),
        )
        run = followed.run
        conclusion, message = conclusion_of(run, followed.ending)
        settled = settle(backend, pc, run, message, candidate=candidate, mover=mover)
        conclusion = Conclusion.FAILURE if settled.failed_gate else conclusion
        message, checked, promoted = settled.message, settled.review, settled.promoted
        return Outcome(item, published, run, conclusion, message, review=checked, candidate=candidate, promoted=promoted)
    except RetrainError as e:
        return Outcome(item, published, run, Conclusion.FAILURE, str(e), error=e, candidate=candidate)


def _published_text(item: PipelinePlan, result: PublishResult | None) -> str:
    if result is None:
        return "nothing to do"
    v = result.version
    if result.created:
        return f"published version {v.number} of '{item.endpoint}'" + (" (now the default)" if v.is_default else "")
    return f"'{item.endpoint}' unchanged: version {v.number} has the same content"
