"""``command: sync`` (and a schedule's job): settle what runs submitted with ``wait: false`` left open, and
complete their check runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .. import escape
from ..config.backend import make_backend
from ..config.records import Config, LocalBackendConfig
from ..errors import RetrainError
from ..flow.execute import Conclusion, Outcome, conclusion_of
from ..flow.follow import Ending
from ..flow.plan import command_plan
from ..github.api import GitHubError
from ..github.checks import CheckRun, Checks, NotOurCheck, Output
from ..github.workflow import Workflow
from ..report.markdown import render, title
from ..review.history import Mover, actor_of
from ..review.promote import VERDICT_TAG, awaiting_verdict, candidate_of, settle
from .check_reporter import CHECK_SHA_TAG, MAX_FOREIGN, CheckReporter, check_name
from .registry import with_registry


def sync(config: Config, environ: Mapping[str, str], reporter: CheckReporter, workflow: Workflow) -> int:
    """Settle what runs submitted with ``wait: false`` left open: judge each gated version whose run has ended
    (and promote it when it passed), with or without a token; complete the open check runs of ended runs."""
    backend = make_backend(config, environ)
    if isinstance(config.backend, LocalBackendConfig):  # what earlier jobs ran, and the verdicts this sync gives
        backend = with_registry(backend, reporter.checks.api if reporter.checks is not None else None, workflow, config)
    recent = backend.runs(limit=50)
    still_going = sum(1 for run in recent if not run.status.is_terminal)
    workflow.out.write(f"{len(recent)} recent run(s), {still_going} still going.\n")
    for run in reversed(recent):  # oldest first: a later version's verdict is the one that stands
        if not run.status.is_terminal or run.pipeline not in config.pipelines:
            continue
        name = check_name(run.pipeline)
        try:
            candidate = awaiting_verdict(backend, run)
            # The check run sits on the commit the job reported on: a pull request's head, not its merge commit.
            sha = run.tags.get(CHECK_SHA_TAG) or run.tags.get("retrain.commit")
            checks = reporter.checks.on(sha) if reporter.checks is not None and sha else None
            found = checks.find(name, run.key) if checks is not None else None  # one retrain made for this run
            if found is not None and found.status == "completed":
                found = None
            if found is None and candidate is None:
                continue
            conclusion, message = conclusion_of(run, Ending.FINISHED)
            # A gated version's run, submitted without waiting, is judged (and its version promoted) here, once.
            settled = settle(backend, config.pipelines[run.pipeline], run, message, candidate=candidate,
                             mover=Mover(actor_of(environ), run.tags.get("retrain.commit")))
            failed = settled.failed_gate or (candidate is None and run.tags.get(VERDICT_TAG) == "failed")
            conclusion = Conclusion.FAILURE if failed else conclusion
            if candidate is not None:
                workflow.out.write(escape.line(f"{name}: {settled.message}") + "\n")
            if found is None or checks is None:
                continue
            item = command_plan(config, [run.pipeline], publish=False, submit=True, command="sync").items[0]
            item = replace(item, draft=run.tags.get("retrain.draft") == "true")
            shown = candidate if candidate is not None else candidate_of(run)
            outcome = Outcome(item, None, run, conclusion, settled.message, review=settled.review,
                              candidate=shown, promoted=settled.promoted or run.tags.get(VERDICT_TAG) == "promoted")
            report = render(outcome, reporter.defaults(item), root=reporter.root, run_url=reporter.url(run))
            completed = _complete(checks, found, name, run.key, conclusion=conclusion.value, details_url=reporter.url(run),
                                  output=Output(title(outcome), report))
            if completed is None:
                workflow.warning(f"{name}: the open check run of run {run.id} belongs to another GitHub App; run the "
                                 "sync with the token that made it.", title="retrain")
                continue
            workflow.out.write(escape.line(f"{name}: completed check {completed} as {conclusion.value}") + "\n")
        except GitHubError as e:
            workflow.warning(str(e))
        except RetrainError as e:
            # One run that cannot be judged (its compare_to run removed, a backend refusal) is reported,
            # and the other runs' checks are still completed.
            workflow.warning(f"{name}: run {run.id}: {e}", title="retrain")
    flush = getattr(backend, "push", None)
    if flush is not None:  # runs of this store that ended since, and the verdicts given here
        flush("retrain: sync")
    return 0


def _complete(checks: Checks, found: CheckRun | None, name: str, key: str, *, conclusion: str, details_url: str | None,
              output: Output) -> int | None:
    """Update ``found``; when GitHub says another App made it, pass over that App's check runs and look again.
    The id of the check run updated, or None when every candidate was another App's."""
    for _ in range(MAX_FOREIGN):
        if found is None:
            return None
        try:
            checks.update(found.id, conclusion=conclusion, details_url=details_url, output=output)
            return found.id
        except NotOurCheck:
            checks.not_ours(found)
            found = checks.find(name, key)
    return None
