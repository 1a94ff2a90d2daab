"""What a GitHub job shows: one check run per pipeline, the job log's groups, the job summary.

The console's reporter (:mod:`retrain.report.console`) is its twin for a terminal; both print data through
:mod:`retrain.escape`, so nothing a step prints can drive the runner.

A check run always ends: the API client retries what is safe to repeat (:mod:`retrain.github.api`), a
progress update that still fails is skipped with one warning and never stops the final update, and the
final update is tried even when earlier ones failed. Only a 403 (the token may not write checks) turns
check runs off, and then the job summary carries the report; a 403 on a check run another GitHub App made
is not that: such a check run is left alone and retrain makes its own.

Check runs are named ``retrain / <pipeline>`` and ``retrain / parameter file``, never a job's name, and are
found again only by their ``external_id`` (see :mod:`retrain.github.checks`). On a stop (the runner's
SIGINT) every open check run is completed ``cancelled`` first, within :data:`STOP_BUDGET_S`, before the
backend is asked to cancel: the runner kills the job 10 s after its first signal.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from .. import escape
from ..backends.base import PublishResult, Run, StepStatus
from ..config.records import Config
from ..flow.execute import Conclusion, Outcome, portable
from ..github.api import GitHubError, GitHubForbidden
from ..github.checks import Annotation, CheckRun, Checks, NotOurCheck, Output, external_id, work_key
from ..github.workflow import Workflow
from ..flow.plan import PipelinePlan
from ..report.markdown import render, title

# Progress updates to a check run: no more often than this (GitHub rate-limits writes).
UPDATE_EVERY_S = 10.0
# How long completing the open check runs on a stop may take: well inside the 7.5 s between the runner's
# SIGINT and its SIGTERM, leaving room for the backend's cancel.
STOP_BUDGET_S = 2.5
PARAMETER_FILE_CHECK = "retrain / parameter file"
# Where a job's check runs sit (a pull request's head), tagged on its runs: the sync looks there.
CHECK_SHA_TAG = "retrain.check_sha"
# How many other Apps' check runs of the same name and key a look-up passes over before making its own.
MAX_FOREIGN = 3


def check_name(pipeline: str) -> str:
    return f"retrain / {pipeline}"


class CheckReporter:
    """Drives one check run per pipeline, writes the console log groups and the job summary."""

    def __init__(self, checks: Checks | None, workflow: Workflow, config: Config | None, root: Path | None = None,
                 *, run_link: str | None = None, commit: str | None = None) -> None:
        self.root = root
        self.commit = commit  # the commit the work is for (GITHUB_SHA): part of each check run's key
        self.checks = checks
        self.workflow = workflow
        self.config = config
        # A link a reviewer can open, for runs whose own link is a file on the runner (the local backend).
        self.run_link = run_link
        self.ids: dict[str, int] = {}
        self.outcomes: list[Outcome] = []
        self._last_update: dict[str, float] = {}
        self._last_signature: dict[str, tuple[object, ...]] = {}
        self._logs: dict[tuple[str, str], list[str]] = {}
        self._terminal: set[tuple[str, str]] = set()
        self._warned = False
        self._keys: dict[str, str] = {}  # check name -> work key
        self._runs: dict[str, str] = {}  # check name -> run key, once submitted
        self._open: set[str] = set()  # the check runs not completed yet
        self._stop_lock = threading.Lock()
        self._stopped = False

    def _say(self, text: str) -> None:
        self.workflow.out.write(escape.line(text) + "\n")
        self.workflow.out.flush()

    def url(self, run: Run | None) -> str | None:
        if run is None or not run.url:
            return None
        if run.url.startswith("file:") and self.run_link:
            return self.run_link
        return run.url

    # -- the Reporter protocol --------------------------------------------------------------------

    def started(self, item: PipelinePlan) -> None:
        self._say(f"{escape.value(item.pipeline)}: {item.action}")
        self._check(item, status="in_progress", output=Output(f"{item.pipeline}: {item.action}", _reasons(item)))

    def published(self, item: PipelinePlan, result: PublishResult) -> None:
        v = result.version
        text = f"published version {v.number}" if result.created else f"unchanged: version {v.number} has the same content"
        self._say(f"{escape.value(item.pipeline)}: {text} of endpoint {escape.value(item.endpoint)}")
        self._check(item, output=Output(f"{item.pipeline}: {text}", _reasons(item)))

    def submitted(self, item: PipelinePlan, run: Run, *, attached: bool) -> None:
        verb = "attached to the earlier run" if attached else "submitted run"
        self._say(escape.value(f"{item.pipeline}: {verb} {run.id} {'as a draft' if item.draft else f'on version {run.version}'} {self.url(run) or ''}".rstrip()))
        self._runs[check_name(item.pipeline)] = run.key
        self._check(item, details_url=self.url(run),
                    output=Output(f"{item.pipeline}: run {run.id} {run.status.value}", self._progress_text(item, run)))
        self._last_update[item.pipeline] = time.monotonic()

    def progress(self, item: PipelinePlan, run: Run) -> None:
        for step in run.steps:
            if step.status.is_terminal and (item.pipeline, step.name) not in self._terminal:
                self._terminal.add((item.pipeline, step.name))
                self._say(f"  {escape.value(step.name)}: {step.status.value.replace('_', ' ')}")
                self._flush_logs(item.pipeline, step.name)
        signature = (run.status, tuple(s.status for s in run.steps))
        now = time.monotonic()
        status_changed = self._last_signature.get(item.pipeline, (None,))[0] != run.status
        if signature != self._last_signature.get(item.pipeline) and (
            status_changed or now - self._last_update.get(item.pipeline, 0.0) >= UPDATE_EVERY_S
        ):
            self._check(item, output=Output(f"{item.pipeline}: run {run.id} {run.status.value}", self._progress_text(item, run)))
            self._last_update[item.pipeline] = now
        self._last_signature[item.pipeline] = signature

    def log(self, item: PipelinePlan, step: str, text: str) -> None:
        self._logs.setdefault((item.pipeline, step), []).append(text)
        if (item.pipeline, step) in self._terminal:
            self._flush_logs(item.pipeline, step)

    def finished(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        item = outcome.item
        for (pipeline, step) in list(self._logs):
            if pipeline == item.pipeline:
                self._flush_logs(pipeline, step)
        report = render(outcome, self.defaults(item), root=self.root, run_url=self.url(outcome.run))
        self.workflow.summary(report)
        first, _, rest = outcome.message.partition("\n")
        self._say(f"{escape.value(item.pipeline)}: {outcome.conclusion.value}: {escape.value(first)}")
        if rest.strip():
            self.workflow.out.write(escape.block(rest))  # a failure's log tail: shown, never interpreted
        if outcome.conclusion.failed:
            self.workflow.error(f"{item.pipeline}: {outcome.message}", title=f"retrain / {item.pipeline}")
        output = Output(title(outcome), report)
        run = outcome.run
        if run is not None:
            self._runs[check_name(item.pipeline)] = run.key
        if outcome.conclusion is Conclusion.PENDING:
            self._check(item, output=output, details_url=self.url(run), final=True)
            self._open.discard(check_name(item.pipeline))  # its run goes on: the scheduled sync completes it
        else:
            self._check(item, output=output, conclusion=outcome.conclusion.value, details_url=self.url(run), final=True)

    def stopping(self, item: PipelinePlan | None = None, run: Run | None = None) -> None:
        """A stop was asked for (the runner cancels the job): complete every open check run ``cancelled`` at
        once, each within a short budget, before anything else (the backend's cancel) is tried. Safe to call
        from a watcher thread and again from the main thread: the check runs are completed once."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            if self.checks is None:
                return
            # Perhaps on a watcher thread while the main one is inside a request: a session of its own.
            self._cancel_open(self.checks.detached(timeout=(1.0, STOP_BUDGET_S)), item, run)

    def _cancel_open(self, checks: Checks, item: PipelinePlan | None = None, run: Run | None = None) -> None:
        budget_each = STOP_BUDGET_S / max(1, len(self._open))
        for name in sorted(self._open):
            what = f"run {run.id}" if run is not None and item is not None and check_name(item.pipeline) == name else "its run"
            text = (f"The workflow run was cancelled. retrain completed this check run first, then asked the "
                    f"backend to cancel {what}.")
            try:
                checks.update(self.ids[name], conclusion=Conclusion.CANCELLED.value,
                              output=Output(f"{name.removeprefix('retrain / ')}: cancelled", text), budget_s=budget_each)
                self._open.discard(name)
            except GitHubError as e:
                self.workflow.warning(f"could not complete the check run {name} as cancelled: {e}", title="retrain")

    # -- helpers ----------------------------------------------------------------------------------

    def defaults(self, item: PipelinePlan) -> dict[str, object]:
        pc = self.config.pipelines.get(item.pipeline) if self.config is not None else None
        if pc is None or pc.pipeline is None:
            return {}
        return {n: p.default for n, p in pc.pipeline.parameters.items()}

    def _progress_text(self, item: PipelinePlan, run: Run) -> str:
        done = sum(1 for s in run.steps if s.status in (StepStatus.COMPLETED, StepStatus.REUSED))
        lines = [f"Run {run.id} {'(a draft)' if item.draft else f'on version {run.version}'}: {run.status.value}, {done} of {len(run.steps)} steps done.", ""]
        lines += [f"- `{s.name}`: {s.status.value.replace('_', ' ')}" for s in run.steps]
        return "\n".join(lines)

    def _flush_logs(self, pipeline: str, step: str) -> None:
        chunks = self._logs.pop((pipeline, step), [])
        if chunks:
            self.workflow.group(f"{pipeline} / {step}")
            self.workflow.out.write(escape.block("".join(chunks)))
            self.workflow.endgroup()

    def work_key(self, item: PipelinePlan) -> str | None:
        """The key of a pipeline's work on this commit: the check run's identity before there is a run."""
        if not self.commit:
            return None
        values = {k: portable(v, self.root) for k, v in sorted(item.parameters.items())}
        return work_key(self.commit, "pipeline", pipeline=item.pipeline, endpoint=item.endpoint,
                        version=str(item.version), draft=item.draft, parameters=values)

    def _check(self, item: PipelinePlan, *, status: str | None = None, output: Output | None = None,
               details_url: str | None = None, conclusion: str | None = None,
               annotations: tuple[Annotation, ...] = (), final: bool = False) -> None:
        name = check_name(item.pipeline)
        if name not in self._keys and (key := self.work_key(item)) is not None:
            self._keys[name] = key
        self.check(name, status=status, output=output, details_url=details_url, conclusion=conclusion,
                   annotations=annotations, final=final)

    def check(self, name: str, *, status: str | None = None, output: Output | None = None,
              details_url: str | None = None, conclusion: str | None = None, key: str | None = None,
              annotations: tuple[Annotation, ...] = (), final: bool = True) -> None:
        """Create or update the check run ``name`` of this job; ``key`` names its work (see ``work_key``)."""
        if self.checks is None:
            return
        if self._stopped and not final:
            return  # completed as cancelled: a progress update would only overwrite that news
        if key is not None:
            self._keys.setdefault(name, key)
        ext = external_id(self._keys.get(name), self._runs.get(name))
        try:
            check_id = self.ids.get(name)
            if check_id is None and ext is not None:
                # A re-run of the workflow updates the check run it made before instead of adding one. Until
                # this job has created a check run, its App is not known: a candidate GitHub refuses is
                # another App's, whose check runs are then passed over.
                for _ in range(MAX_FOREIGN):
                    found = self.checks.find(name, self._keys.get(name) or ext)
                    if found is None:
                        break
                    if self._take(found, name, status, output, details_url, ext, conclusion, annotations, final):
                        self._track(name, conclusion)
                        return
            if check_id is None:
                self.ids[name] = self.checks.create(
                    name, status=status or ("completed" if conclusion else "in_progress"),
                    output=output or Output(name, ""), details_url=details_url, external_id=ext,
                    conclusion=conclusion, annotations=annotations)
            else:
                self.checks.update(check_id, status=status, output=output, details_url=details_url,
                                   external_id=ext, conclusion=conclusion, annotations=annotations,
                                   patient=final, budget_s=self._budget())
            self._track(name, conclusion)
        except GitHubForbidden as e:
            self.workflow.warning(f"{e} The report is in the job summary instead.", title="retrain: no check runs")
            self.checks = None
        except GitHubError as e:
            # Retried already; a progress update is skipped (the next one, or the final one, carries its
            # content), and the final one failing is said plainly: the job summary has the report.
            if final:
                self.workflow.warning(f"could not complete the check run {name}: {e} The job summary has the report.",
                                      title="retrain")
            elif not self._warned:
                self._warned = True
                self.workflow.warning(f"could not update the check run {name}: {e} Later updates will try again.",
                                      title="retrain")

    def _take(self, found: CheckRun, name: str, status: str | None, output: Output | None, details_url: str | None,
              ext: str | None, conclusion: str | None, annotations: tuple[Annotation, ...], final: bool) -> bool:
        """Update the check run a look-up found; False when GitHub says another App made it (then it is left
        alone, and retrain makes its own)."""
        if self.checks is None:
            return False
        try:
            self.checks.update(found.id, status=status, output=output, details_url=details_url, external_id=ext,
                               conclusion=conclusion, annotations=annotations, patient=final, budget_s=self._budget())
        except NotOurCheck:
            self.checks.not_ours(found)
            return False
        self.ids[name] = found.id
        return True

    def _budget(self) -> float | None:
        """After a stop, every request must fit in what is left of the runner's budget."""
        return STOP_BUDGET_S if self._stopped else None

    def _track(self, name: str, conclusion: str | None) -> None:
        if conclusion is not None:
            self._open.discard(name)
            return
        self._open.add(name)
        if self._stopped and self.checks is not None:
            # Created while a stop completed the others (a request in flight then): completed now too.
            self._cancel_open(self.checks)


def _reasons(item: PipelinePlan) -> str:
    return "\n".join(f"- {r.rule}: {r.detail}" for r in item.reasons)
