"""Review a finished run: its comparison with the baseline, the gate, and moving an endpoint's default
(what comes before a run, publishing and drafts, is publish.py; the tags and the Review record, records.py).

``execute`` calls :func:`review` once a run has ended; ``retrain promote`` calls :func:`promote` to
move the default by hand after the same checks. Backends move a default with ``set_default`` and run a
pull request's pipeline with ``submit_draft``; a backend without them says so instead of pretending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..backends.base import Backend, Endpoint, Run, RunStatus
from .baseline import Comparison, compare, compare_safely, completed_runs, history, is_draft, pick_baseline
from ..config.records import PipelineConfig
from ..errors import NotFound, RetrainError, UsageError
from .gate import GateResult, evaluate
from .history import Mover, move_default, new_move
from .publish import check_compare_to, publish, submit_draft
from .records import DRAFT_TAG, GATE_TAG, VERDICT_TAG, Review


def judge(pc: PipelineConfig, run: Run, comparison: Comparison | None) -> GateResult | None:
    """The gate's verdict on ``run``; None when the pipeline has no gate."""
    if pc.gate is None:
        return None
    baseline = {r.name: r.baseline for r in comparison.rows if r.baseline is not None} if comparison and comparison.baseline_run else None
    if comparison is not None and comparison.unreadable:
        baseline = {}  # a baseline that could not be read is not "no baseline": comparing with it fails (gate.evaluate)
    where = str(pc.gate.location) if pc.gate.location else ""
    return evaluate(pc.gate, run.metrics, goals=pc.goals, baseline=baseline,
                    baseline_run=comparison.baseline_run if comparison else None, where=where)


def review(backend: Backend, pc: PipelineConfig, run: Run) -> Review:
    """Compare a completed run with its baseline, judge it by the gate, and read the trend."""
    if run.status is not RunStatus.COMPLETED:
        return Review()
    try:  # one listing for the baseline and the history (on Azure ML a request; locally up to 200 runs read)
        completed: list[Run] | None = completed_runs(backend, pc.name)
    except RetrainError:
        completed = None  # each reads it again, and says what it could not read in its own way
    comparison = compare_safely(backend, run, endpoint=pc.endpoint, compare_to=pc.compare_to, goals=pc.goals,
                                completed=completed if run.pipeline == pc.name else None)
    return Review(comparison, judge(pc, run, comparison), tuple(history(backend, pc.name, current=run, completed=completed)))


@dataclass(frozen=True)
class Settled:
    """A finished run's verdict after review: the gate may turn a completed run into a failure."""

    failed_gate: bool
    message: str
    review: Review
    promoted: bool


def settle(backend: Backend, pc: PipelineConfig, run: Run, message: str, *, candidate: int | None,
           mover: Mover | None = None) -> Settled:
    """Review a finished run; for a gated ``candidate`` version, promote it when the gate passes (the move
    recorded as ``mover``'s, kind ``gate``).

    Called when a followed run ends and, for runs submitted without waiting, by the scheduled sync.
    """
    checked = review(backend, pc, run)
    if candidate is None:
        return Settled(False, message, checked, False)
    stays = _default_text(backend, pc.endpoint)
    if run.status is not RunStatus.COMPLETED:
        _record_verdict(backend, run, "not-promoted")
        return Settled(False, f"{message} Version {candidate} was not promoted: {stays}.", checked, False)
    if checked.gate is not None and checked.gate.passed:
        move_default(backend, pc.endpoint, candidate,
                     new_move(pc.endpoint, candidate, "gate", mover, run_id=run.id, verdict="passed",
                              commit=run.tags.get("retrain.commit"), reason=checked.gate.summary()))
        _record_verdict(backend, run, "promoted")
        return Settled(False, f"{message} {checked.gate.summary().capitalize()}: version {candidate} is now the default.", checked, True)
    if checked.gate is not None:
        _record_verdict(backend, run, "failed")
        return Settled(True, f"{checked.gate.summary().capitalize()}. Version {candidate} was published but not promoted: {stays}.",
                       checked, False)
    return Settled(False, message, checked, False)


def _record_verdict(backend: Backend, run: Run, verdict: str, *, candidate: int | None = None) -> None:
    tagger = getattr(backend, "tag_run", None)
    if tagger is not None:  # a backend that cannot tag a run falls back on awaiting_verdict's other checks
        tagger(run.id, {VERDICT_TAG: verdict, **({GATE_TAG: str(candidate)} if candidate is not None else {})})


def awaiting_verdict(backend: Backend, run: Run) -> int | None:
    """The gated version a finished run was submitted to judge, when that has not been settled yet: no verdict
    recorded, and the version is still the endpoint's newest and not its default (a later version, or a
    promote by hand, settled it otherwise). Used by the syncs for runs submitted without waiting."""
    candidate = candidate_of(run)
    if candidate is None or not run.status.is_terminal or VERDICT_TAG in run.tags:
        return None
    try:
        endpoint = backend.endpoint(run.endpoint)
    except RetrainError:
        return None
    latest = endpoint.latest
    if latest is None or latest.number != candidate or endpoint.default_version == candidate:
        return None
    return candidate


def candidate_of(run: Run) -> int | None:
    """The gated version a run was submitted to judge (its ``retrain.gate`` tag), if any."""
    text = run.tags.get(GATE_TAG, "")
    return int(text) if text.isdigit() else None


def _default_text(backend: Backend, endpoint: str) -> str:
    try:
        default = backend.endpoint(endpoint).default_version
    except RetrainError:
        return "the default stays where it was"
    return f"the default stays at version {default}" if default is not None else "the endpoint has no default"


@dataclass(frozen=True)
class Promotion:
    endpoint: str
    version: int
    previous: int | None
    forced: bool
    run: Run | None  # the run the checks judged
    comparison: Comparison | None
    gate: GateResult | None


def promote(backend: Backend, pc: PipelineConfig, version: int, parameters: Mapping[str, object], *, force: bool,
            mover: Mover | None = None, reason: str = "") -> Promotion:
    """Move ``pc``'s endpoint default to ``version``: after the gate passes on its latest completed run
    with ``parameters`` (the file's values), or at once with ``force`` (which needs a ``reason``). The move
    is recorded as kind ``promote`` or ``force``."""
    endpoint = backend.endpoint(pc.endpoint)
    if endpoint.version(version) is None:
        listing = ", ".join(str(v.number) for v in endpoint.versions) or "none"
        raise NotFound(f"endpoint '{pc.endpoint}' has no version {version}. Its versions: {listing}.")
    previous = endpoint.default_version
    if force:
        if not reason.strip():
            raise UsageError("--force skips the gate and the comparison, so it needs a --reason: say why, e.g. "
                             f"retrain promote {pc.name} {version} --force --reason 'the baseline run was broken'. "
                             "The reason is recorded with the move (retrain history).")
        move_default(backend, pc.endpoint, version,
                     new_move(pc.endpoint, version, "force", mover, verdict="not checked", reason=reason.strip(),
                              commit=_commit_of(endpoint, version)))
        return Promotion(pc.endpoint, version, previous, True, None, None, None)
    runs = [r for r in backend.runs(pipeline=pc.name, status=RunStatus.COMPLETED, limit=200)
            if r.version == version and r.endpoint == pc.endpoint and not is_draft(r)]
    same = [r for r in runs if _same_values(r.parameters, parameters)]
    if not same:
        raise UsageError(f"version {version} of '{pc.endpoint}' has no completed run with the parameter file's values to check. "
                         f"Run it first (retrain submit {pc.name} --version {version}), or skip the checks with --force.")
    run = same[0]
    base, how = pick_baseline(backend, pipeline=pc.name, endpoint=pc.endpoint, compare_to=pc.compare_to,
                              parameters=run.parameters, exclude=run.id)
    if base is not None and base.version == version:
        base = None  # comparing a version with itself says nothing
    comparison = compare(run, base, pc.goals, how=how)
    gate = judge(pc, run, comparison)
    if gate is not None and not gate.passed:
        return Promotion(pc.endpoint, version, previous, False, run, comparison, gate)
    move_default(backend, pc.endpoint, version,
                 new_move(pc.endpoint, version, "promote", mover, run_id=run.id, reason=reason.strip(),
                          verdict="passed" if gate is not None else "no gate",
                          commit=_commit_of(endpoint, version) or run.tags.get("retrain.commit")))
    if gate is not None:  # the run that passed the gate is the new default's baseline (baseline.py)
        _record_verdict(backend, run, "promoted", candidate=version)
    return Promotion(pc.endpoint, version, previous, False, run, comparison, gate)


def _commit_of(endpoint: Endpoint, number: int) -> str | None:
    v = endpoint.version(number)
    return v.source_commit if v is not None else None


def _same_values(ran: Mapping[str, object], wanted: Mapping[str, object]) -> bool:
    return all(ran.get(k) == v for k, v in wanted.items())


__all__ = ["DRAFT_TAG", "GATE_TAG", "VERDICT_TAG", "Settled", "awaiting_verdict", "candidate_of", "settle", "Promotion", "Review", "check_compare_to", "judge", "promote", "publish", "review", "submit_draft"]
