"""The GitHub Action: read the inputs and the event, plan, execute, and report as check runs.

Secrets are masked before anything else is printed. A bad parameter file ends in a check run that
concludes ``action_required`` with annotations at its lines. When the token may not write checks (a
fork's pull request), that is said once and the job summary carries the report instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .backends.base import PublishResult, Run, StepStatus
from .backends.factory import make_backend
from .commands import parse_assignments, to_json
from .config import load_config, parse_version_pin
from .config_model import Config
from .errors import InvalidFile, RetrainError, UsageError
from .event import Event
from .execute import Conclusion, Outcome, execute, exit_code
from .github.api import GitHubAPI, GitHubError, GitHubForbidden
from .github.checks import Annotation, Checks, Output
from .github.event import event_from_payload_file
from .github.workflow import Workflow
from .pipeline.types import parse_duration
from .plan import Plan, PipelinePlan, command_plan, make_plan
from .report import render, title

COMMANDS = ("auto", "validate", "plan", "publish", "submit", "sync")
SECRET_INPUTS = ("github-token", "azure-client-secret", "azure-client-certificate")
# Progress updates to a check run: no more often than this (GitHub rate-limits writes).
UPDATE_EVERY_S = 10.0


def read_input(environ: Mapping[str, str], name: str, default: str = "") -> str:
    """GitHub keeps hyphens in input variables (INPUT_PARAMETER-FILE); accept the underscore form too."""
    key = f"INPUT_{name.upper()}"
    value = environ.get(key)
    if value is None:
        value = environ.get(key.replace("-", "_"))
    return (value if value is not None else default).strip()


@dataclass(frozen=True)
class ActionInputs:
    parameter_file: str
    command: str
    pipeline: str
    version: str
    parameters: Mapping[str, str]
    wait: bool
    timeout_s: float | None
    github_token: str = field(repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "ActionInputs":
        command = read_input(environ, "command", "auto") or "auto"
        if command not in COMMANDS:
            raise UsageError(f"the command input is {command!r}; use one of {', '.join(COMMANDS)}.")
        wait_text = read_input(environ, "wait", "true").lower() or "true"
        if wait_text not in ("true", "false"):
            raise UsageError(f"the wait input is {wait_text!r}; use true or false.")
        timeout_text = read_input(environ, "timeout")
        try:
            timeout = parse_duration(timeout_text) if timeout_text else None
        except ValueError as e:
            raise UsageError(f"the timeout input: {e}") from None
        version = read_input(environ, "version")
        if version:
            try:
                parse_version_pin(version)
            except ValueError as e:
                raise UsageError(f"the version input: {e}") from None
        lines = [line for line in read_input(environ, "parameters").splitlines() if line.strip() and not line.strip().startswith("#")]
        try:
            parameters = parse_assignments([line.strip() for line in lines])
        except UsageError as e:
            raise UsageError(f"the parameters input: {e}".replace("--set ", "")) from None
        # `name=${{ inputs.name }}` is empty on a push, or when a form field is left empty: the file's value stays.
        parameters = {name: value for name, value in parameters.items() if value.strip()}
        return cls(
            parameter_file=read_input(environ, "parameter-file", "retrain.yml") or "retrain.yml",
            command=command, pipeline=read_input(environ, "pipeline"), version=version,
            parameters=parameters, wait=wait_text == "true", timeout_s=timeout,
            github_token=read_input(environ, "github-token") or environ.get("GITHUB_TOKEN", ""),
        )


def mask_secrets(environ: Mapping[str, str], workflow: Workflow) -> None:
    for name in SECRET_INPUTS:
        value = read_input(environ, name)
        if value:
            workflow.mask(value)
    for name in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GITHUB_TOKEN"):
        if environ.get(name):
            workflow.mask(environ[name])


class CheckReporter:
    """Drives one check run per pipeline, writes the console log groups and the job summary."""

    def __init__(self, checks: Checks | None, workflow: Workflow, config: Config | None, root: Path | None = None) -> None:
        self.root = root
        self.checks = checks
        self.workflow = workflow
        self.config = config
        self.ids: dict[str, int] = {}
        self.outcomes: list[Outcome] = []
        self._last_update: dict[str, float] = {}
        self._last_signature: dict[str, tuple[object, ...]] = {}
        self._logs: dict[tuple[str, str], list[str]] = {}
        self._terminal: set[tuple[str, str]] = set()

    # -- the Reporter protocol --------------------------------------------------------------------

    def started(self, item: PipelinePlan) -> None:
        self.workflow.out.write(f"{item.pipeline}: {item.action}\n")
        self._check(item, status="in_progress", output=Output(f"{item.pipeline}: {item.action}", _reasons(item)))

    def published(self, item: PipelinePlan, result: PublishResult) -> None:
        v = result.version
        text = f"published version {v.number}" if result.created else f"unchanged: version {v.number} has the same content"
        self.workflow.out.write(f"{item.pipeline}: {text} of endpoint {item.endpoint}\n")
        self._check(item, output=Output(f"{item.pipeline}: {text}", _reasons(item)))

    def submitted(self, item: PipelinePlan, run: Run, *, attached: bool) -> None:
        verb = "attached to the earlier run" if attached else "submitted run"
        self.workflow.out.write(f"{item.pipeline}: {verb} {run.id} on version {run.version} {run.url or ''}\n")
        self._check(item, details_url=run.url, external_id=run.key,
                    output=Output(f"{item.pipeline}: run {run.id} {run.status.value}", self._progress_text(item, run)))
        self._last_update[item.pipeline] = time.monotonic()

    def progress(self, item: PipelinePlan, run: Run) -> None:
        for step in run.steps:
            if step.status.is_terminal and (item.pipeline, step.name) not in self._terminal:
                self._terminal.add((item.pipeline, step.name))
                self.workflow.out.write(f"  {step.name}: {step.status.value.replace('_', ' ')}\n")
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
        report = render(outcome, self.defaults(item), root=self.root)
        self.workflow.summary(report)
        self.workflow.out.write(f"{item.pipeline}: {outcome.conclusion.value}: {outcome.message}\n")
        if outcome.conclusion.failed:
            self.workflow.error(f"{item.pipeline}: {outcome.message}", title=f"retrain / {item.pipeline}")
        output = Output(title(outcome), report)
        run = outcome.run
        if outcome.conclusion is Conclusion.PENDING:
            self._check(item, output=output, details_url=run.url if run else None, external_id=run.key if run else None)
        else:
            self._check(item, output=output, conclusion=outcome.conclusion.value,
                        details_url=run.url if run else None, external_id=run.key if run else None)

    # -- helpers ----------------------------------------------------------------------------------

    def defaults(self, item: PipelinePlan) -> dict[str, object]:
        pc = self.config.pipelines.get(item.pipeline) if self.config is not None else None
        if pc is None or pc.pipeline is None:
            return {}
        return {n: p.default for n, p in pc.pipeline.parameters.items()}

    def _progress_text(self, item: PipelinePlan, run: Run) -> str:
        done = sum(1 for s in run.steps if s.status in (StepStatus.COMPLETED, StepStatus.REUSED))
        lines = [f"Run {run.id} on version {run.version}: {run.status.value}, {done} of {len(run.steps)} steps done.", ""]
        lines += [f"- `{s.name}`: {s.status.value.replace('_', ' ')}" for s in run.steps]
        return "\n".join(lines)

    def _flush_logs(self, pipeline: str, step: str) -> None:
        chunks = self._logs.pop((pipeline, step), [])
        if chunks:
            self.workflow.group(f"{pipeline} / {step}")
            self.workflow.out.write("".join(chunks).rstrip("\n") + "\n")
            self.workflow.endgroup()

    def _check(self, item: PipelinePlan, *, status: str | None = None, output: Output | None = None,
               details_url: str | None = None, external_id: str | None = None, conclusion: str | None = None,
               annotations: tuple[Annotation, ...] = ()) -> None:
        self.check(f"retrain / {item.pipeline}", status=status, output=output, details_url=details_url,
                   external_id=external_id, conclusion=conclusion, annotations=annotations)

    def check(self, name: str, *, status: str | None = None, output: Output | None = None,
              details_url: str | None = None, external_id: str | None = None, conclusion: str | None = None,
              annotations: tuple[Annotation, ...] = ()) -> None:
        if self.checks is None:
            return
        try:
            check_id = self.ids.get(name)
            if check_id is None:
                # A re-run of the workflow updates the check run it made before instead of adding one.
                found = self.checks.find(name)
                check_id = found.id if found else None
            if check_id is None:
                self.ids[name] = self.checks.create(
                    name, status=status or ("completed" if conclusion else "in_progress"),
                    output=output or Output(name, ""), details_url=details_url, external_id=external_id,
                    conclusion=conclusion, annotations=annotations)
            else:
                self.ids[name] = check_id
                self.checks.update(check_id, status=status, output=output, details_url=details_url,
                                   external_id=external_id, conclusion=conclusion, annotations=annotations)
        except GitHubForbidden as e:
            self.workflow.warning(f"{e} The report is in the job summary instead.", title="retrain: no check runs")
            self.checks = None
        except GitHubError as e:
            self.workflow.warning(f"could not update the check run: {e} The job summary has the report.", title="retrain")
            self.checks = None


def _reasons(item: PipelinePlan) -> str:
    return "\n".join(f"- {r.rule}: {r.detail}" for r in item.reasons)


def _complete_changes(event: Event, api: GitHubAPI | None, workflow: Workflow) -> Event:
    """Ask the compare API for the changed files when the push payload could not tell them all."""
    if event.name not in ("push", "pull_request") or api is None or not event.before or not event.sha:
        return event
    if event.changed_files is not None and event.changed_files_complete:
        return event
    if event.before.strip("0") == "":
        return event  # a new branch: nothing to compare with
    try:
        data = api.request("GET", f"/compare/{event.before}...{event.sha}")
    except GitHubError as e:
        workflow.warning(f"could not list the push's changed files ({e}); planning as if every file changed.")
        return event
    files = tuple(f["filename"] for f in data.get("files", []))
    # The compare API lists at most 300 files; past that we still do not know them all.
    complete = len(files) < 300
    return Event(**{**event.__dict__, "changed_files": files, "changed_files_complete": complete})


def _outputs(workflow: Workflow, plan: Plan | None, outcomes: list[Outcome]) -> None:
    published = next((o.published for o in outcomes if o.published and o.published.created), None)
    ran = next((o for o in outcomes if o.run is not None), None)
    first = ran or (outcomes[0] if outcomes else None)
    workflow.set_output("published-version", str(published.version.number) if published else "")
    workflow.set_output("version", str(ran.run.version) if ran and ran.run else "")
    workflow.set_output("run-id", ran.run.id if ran and ran.run else "")
    workflow.set_output("run-url", (ran.run.url or "") if ran and ran.run else "")
    workflow.set_output("status", first.conclusion.value if first else "neutral")
    workflow.set_output("metrics", json.dumps(dict(ran.run.metrics) if ran and ran.run else {}, sort_keys=True))
    _review_outputs(workflow, ran)
    if plan is not None:
        workflow.set_output("plan", json.dumps(to_json(plan), sort_keys=True))


def _review_outputs(workflow: Workflow, ran: Outcome | None) -> None:
    """``baseline-run-id``, ``gate`` (passed, failed or empty) and ``metric-differences`` (JSON)."""
    comparison = ran.review.comparison if ran else None
    gate = ran.review.gate if ran else None
    workflow.set_output("baseline-run-id", (comparison.baseline_run or "") if comparison else "")
    workflow.set_output("gate", "" if gate is None else "passed" if gate.passed else "failed")
    workflow.set_output("metric-differences", json.dumps(comparison.differences() if comparison else {}, sort_keys=True))


def main(environ: Mapping[str, str]) -> int:
    workflow = Workflow.from_environ(environ)
    mask_secrets(environ, workflow)  # before anything else is printed
    try:
        return _run(environ, workflow)
    except RetrainError as e:
        workflow.error(str(e), title="retrain")
        raise


def _run(environ: Mapping[str, str], workflow: Workflow) -> int:
    inputs = ActionInputs.from_environ(environ)
    workspace = Path(environ.get("GITHUB_WORKSPACE") or Path.cwd())
    event_name = environ.get("GITHUB_EVENT_NAME", "")
    event_path = environ.get("GITHUB_EVENT_PATH", "")
    if not event_name or not event_path:
        raise UsageError("GITHUB_EVENT_NAME and GITHUB_EVENT_PATH are not set: run retrain this way only inside GitHub Actions.")
    event = event_from_payload_file(event_name, Path(event_path))
    repository = environ.get("GITHUB_REPOSITORY") or event.repository or ""
    api = GitHubAPI(environ.get("GITHUB_API_URL", "https://api.github.com"), repository, inputs.github_token) \
        if inputs.github_token and repository else None
    if api is None:
        workflow.warning("no github-token: results go to the job summary only.", title="retrain")
    commit = environ.get("GITHUB_SHA") or event.sha
    head_sha = event.sha if event.name == "pull_request" and event.sha else commit
    checks = Checks(api, head_sha) if api is not None and head_sha else None

    param_file = workspace / inputs.parameter_file
    reporter = CheckReporter(checks, workflow, None, workspace.resolve())
    try:
        config = load_config(param_file, display_root=workspace)
    except InvalidFile as e:
        return _bad_parameter_file(e, reporter, workflow, inputs)
    reporter.config = config

    if event.name == "pull_request" or inputs.command in ("validate", "plan"):
        _form_warnings(config, workspace, workflow)

    only = [inputs.pipeline] if inputs.pipeline else []
    version = parse_version_pin(inputs.version) if inputs.version else None
    if inputs.command == "validate":
        workflow.out.write(f"{inputs.parameter_file} is valid: {', '.join(config.pipelines)}.\n")
        _outputs(workflow, None, [])
        return 0
    if inputs.command in ("auto", "plan"):
        event = _complete_changes(event, api, workflow)
        plan = make_plan(config, event, repo_root=workspace, only=only, overrides=inputs.parameters, version=version,
                         origin="the action's parameters input")
    elif inputs.command == "publish":
        plan = command_plan(config, only, publish=True, submit=False, command="publish")
    elif inputs.command == "submit":
        plan = command_plan(config, only, publish=False, submit=True, command="submit", overrides=inputs.parameters, version=version,
                            origin="the action's parameters input")
    else:  # sync
        return _sync(config, environ, reporter, workflow)
    if inputs.timeout_s is not None:
        plan = Plan(plan.event, tuple(PipelinePlan(**{**i.__dict__, "timeout_s": inputs.timeout_s}) for i in plan.items))
    if inputs.command == "plan":
        from .console import render_plan

        workflow.out.write(render_plan(plan) + "\n")
        _outputs(workflow, plan, [])
        return 0

    # A plan with nothing to do (a pull request) touches no backend: not even the local store's folder.
    needed = any(i.publish or i.submit for i in plan.items)
    backend = make_backend(config, environ) if needed else None
    tags = {k: environ[v] for k, v in (("github.repository", "GITHUB_REPOSITORY"), ("github.run_id", "GITHUB_RUN_ID"),
                                       ("github.workflow", "GITHUB_WORKFLOW"), ("github.actor", "GITHUB_ACTOR")) if environ.get(v)}
    try:
        outcomes = execute(plan, config, backend, reporter,  # type: ignore[arg-type]
                           commit=commit, wait=inputs.wait, tags=tags, repo_root=workspace)
    finally:
        _outputs(workflow, plan, reporter.outcomes)
    return exit_code(outcomes)


def _form_warnings(config: Config, workspace: Path, workflow: Workflow) -> None:
    """Annotate the workflow files where a dispatch form and the pipelines disagree."""
    from .github.dispatch_form import check_workflows

    pipelines = {n: p.pipeline for n, p in config.pipelines.items() if p.pipeline is not None}
    for problem in check_workflows(config.path, pipelines, workspace, display_root=workspace):
        loc = problem.location
        text = f"{problem.message} {problem.hint}".strip()
        workflow.command("warning", text, file=loc.file if loc else None,
                         line=loc.line if loc else None, col=loc.column if loc else None, title="retrain: dispatch form")


def _bad_parameter_file(error: InvalidFile, reporter: CheckReporter, workflow: Workflow, inputs: ActionInputs) -> int:
    annotations = []
    for problem in error.problems:
        workflow.annotate(problem)
        loc = problem.location
        if loc is not None:
            text = f"{'at ' + problem.key + ': ' if problem.key_path else ''}{problem.message} {problem.hint}".strip()
            annotations.append(Annotation(workflow.relative(loc.file), loc.line, loc.line, text, title="retrain",
                                          start_column=loc.column))
    summary = "### ⚠️ The parameter file needs a fix\n\n```\n" + str(error) + "\n```\n"
    workflow.summary(summary)
    reporter.check("retrain", output=Output(f"{inputs.parameter_file}: {len(error.problems)} problem(s)", summary),
                   conclusion=Conclusion.ACTION_REQUIRED.value, annotations=tuple(annotations))
    workflow.set_output("status", Conclusion.ACTION_REQUIRED.value)
    return error.exit_code


def _sync(config: Config, environ: Mapping[str, str], reporter: CheckReporter, workflow: Workflow) -> int:
    """Complete the check runs of runs submitted with ``wait: false`` that have ended since."""
    from .execute import conclusion_of
    from .follow import Ending

    backend = make_backend(config, environ)
    recent = backend.runs(limit=50)
    still_going = sum(1 for run in recent if not run.status.is_terminal)
    workflow.out.write(f"{len(recent)} recent run(s), {still_going} still going.\n")
    if reporter.checks is None:
        return 0
    for run in recent:
        commit = run.tags.get("retrain.commit")
        if not run.status.is_terminal or not commit or run.pipeline not in config.pipelines:
            continue
        checks = Checks(reporter.checks.api, commit)  # the check run lives on the run's commit
        name = f"retrain / {run.pipeline}"
        try:
            found = checks.find(name, external_id=run.key)
            if found is None or found.status == "completed":
                continue
            conclusion, message = conclusion_of(run, Ending.FINISHED)
            item = command_plan(config, [run.pipeline], publish=False, submit=True, command="sync").items[0]
            outcome = Outcome(item, None, run, conclusion, message)
            checks.update(found.id, conclusion=conclusion.value, output=Output(title(outcome), render(outcome, reporter.defaults(item), root=reporter.root)))
            workflow.out.write(f"{name}: completed check {found.id} as {conclusion.value}\n")
        except GitHubError as e:
            workflow.warning(str(e))
    return 0
