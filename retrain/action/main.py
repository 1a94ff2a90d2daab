"""The GitHub Action: read the inputs and the event, plan, execute, and report as check runs.

Secrets are masked before anything else is printed. A bad parameter file ends in a check run that
concludes ``action_required`` with annotations at its lines. When the token may not write checks (a
fork's pull request), that is said once and the job summary carries the report instead.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import escape
from ..config.backend import make_backend
from .check_reporter import MAX_FOREIGN, PARAMETER_FILE_CHECK, CheckReporter, check_name
from ..cli.commands import parse_assignments, to_json
from ..config.load import load_config
from ..config.version_pin import parse_version_pin
from ..config.records import Config, LocalBackendConfig
from ..errors import InvalidFile, RetrainError, UsageError
from ..flow.event import Event
from ..flow.execute import Conclusion, Outcome, execute, exit_code
from ..github.api import GitHubAPI, GitHubError, GitHubForbidden
from ..github.checks import Annotation, CheckRun, Checks, NotOurCheck, Output, work_key
from ..github.compare import compare
from .payload import event_from_payload_file
from ..github.workflow import Workflow
from ..review.history import actor_of
from ..pipeline.types import parse_duration
from ..flow.plan import Plan, PipelinePlan, command_plan, make_plan
from ..report.markdown import render, title
from ..flow.signals import STOP

COMMANDS = ("auto", "validate", "plan", "publish", "submit", "sync", "gc")
# Every input action.yml declares; read_input refuses any other name (tests compare both ways).
INPUTS = ("parameter-file", "command", "pipeline", "version", "parameters", "wait", "timeout", "github-token",
          "azure-client-id", "azure-tenant-id", "azure-subscription-id", "azure-client-secret", "azure-client-certificate")
SECRET_INPUTS = ("github-token", "azure-client-secret", "azure-client-certificate")
# The Azure inputs reach the backend as the AZURE_* variables it reads; an input wins over a variable.
AZURE_VARIABLES = {"azure-client-id": "AZURE_CLIENT_ID", "azure-tenant-id": "AZURE_TENANT_ID",
                   "azure-subscription-id": "AZURE_SUBSCRIPTION_ID", "azure-client-secret": "AZURE_CLIENT_SECRET",
                   "azure-client-certificate": "AZURE_CLIENT_CERTIFICATE"}


def read_input(environ: Mapping[str, str], name: str, default: str = "") -> str:
    """GitHub keeps hyphens in input variables (INPUT_PARAMETER-FILE); accept the underscore form too.

    The one place that reads ``INPUT_*``: everything below the action gets typed values or ``AZURE_*``.
    """
    if name not in INPUTS:
        raise LookupError(f"the action read the input {name!r}, which action.yml does not declare.")
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
    azure: Mapping[str, str] = field(default_factory=dict, repr=False)  # AZURE_* variable -> input value

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
            azure={variable: value for name, variable in AZURE_VARIABLES.items() if (value := read_input(environ, name))},
        )

    def backend_environ(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The environment a backend sees: no INPUT_* (read here, once), the Azure inputs as AZURE_*."""
        return {**{k: v for k, v in environ.items() if not k.startswith("INPUT_")}, **self.azure}


def mask_secrets(environ: Mapping[str, str], workflow: Workflow) -> None:
    for name in SECRET_INPUTS:
        value = read_input(environ, name)
        if value:
            workflow.mask(value)
    for name in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GITHUB_TOKEN"):
        if environ.get(name):
            workflow.mask(environ[name])


def _complete_changes(event: Event, api: GitHubAPI | None, workflow: Workflow) -> Event:
    """A push's changed files from the compare API: Actions' push payloads do not list them. A pull request's
    too (base...head), when a pipeline may run it as a draft."""
    if event.name == "pull_request":
        if api is None or not event.before or not event.sha or event.from_fork or event.changed_files is not None:
            return event
        try:
            changes = compare(api, event.before, event.sha)
        except GitHubError as e:
            workflow.warning(f"could not list the pull request's changed files ({e}); planning as if every file changed.", title="retrain")
            return replace(event, changes_note="the compare API could not be asked")
        return replace(event, changed_files=changes.files, changed_files_complete=changes.complete, changes_note=changes.note)
    if event.name != "push" or event.changed_files_complete or event.deleted or event.tag is not None or not event.sha:
        return event
    if api is None:
        return replace(event, changes_note="no github-token to ask the compare API")
    # A new branch has no "before": compare it with the default branch it most likely started from.
    base = event.default_branch if event.new_branch else event.before
    if event.new_branch and event.branch == event.default_branch:
        return replace(event, changes_note="a new default branch has nothing to compare with")
    if not base:
        return replace(event, changes_note="the payload names nothing to compare with")
    try:
        changes = compare(api, base, event.sha)
    except GitHubError as e:
        workflow.warning(f"could not list the push's changed files ({e}); planning as if every file changed.", title="retrain")
        return replace(event, changes_note="the compare API could not be asked")
    return replace(event, changed_files=changes.files, changed_files_complete=changes.complete, changes_note=changes.note)


def _outputs(workflow: Workflow, plan: Plan | None, outcomes: list[Outcome], reporter: CheckReporter | None = None) -> None:
    published = next((o.published for o in outcomes if o.published and o.published.created), None)
    ran = next((o for o in outcomes if o.run is not None), None)
    first = ran or (outcomes[0] if outcomes else None)
    workflow.set_output("published-version", str(published.version.number) if published else "")
    # A pull request's draft is not a version: `version` and `gate` stay empty (its gate is only a preview),
    # and `draft` says what the run was.
    draft = ran is not None and ran.item.draft
    workflow.set_output("version", str(ran.run.version) if ran and ran.run and not draft else "")
    workflow.set_output("draft", "true" if draft else "")
    workflow.set_output("run-id", ran.run.id if ran and ran.run else "")
    url = (reporter.url(ran.run) if reporter else ran.run.url) if ran and ran.run else None
    workflow.set_output("run-url", url or "")
    workflow.set_output("outputs-dir", _outputs_dir(workflow, ran.run) if ran and ran.run else "")
    workflow.set_output("status", first.conclusion.value if first else "neutral")
    workflow.set_output("metrics", json.dumps(to_json(dict(ran.run.metrics)) if ran and ran.run else {}, sort_keys=True))
    _review_outputs(workflow, ran)
    if plan is not None:
        workflow.set_output("plan", json.dumps(to_json(plan), sort_keys=True))


def _outputs_dir(workflow: Workflow, run: Any) -> str:
    """A local run's folder (its steps' outputs and logs), for actions/upload-artifact; empty on a cloud backend."""
    url = str(run.url or "")
    if not url.startswith("file://"):
        return ""
    from urllib.parse import unquote, urlparse

    return workflow.relative(unquote(urlparse(url).path))


def _review_outputs(workflow: Workflow, ran: Outcome | None) -> None:
    """``baseline-run-id``, ``gate`` (passed, failed or empty) and ``metric-differences`` (JSON)."""
    comparison = ran.review.comparison if ran else None
    gate = ran.review.gate if ran else None
    workflow.set_output("baseline-run-id", (comparison.baseline_run or "") if comparison else "")
    # Only a gated candidate's run has a verdict; on a draft or any other run the gate is a preview.
    previewed = gate is None or ran is None or ran.item.draft or ran.candidate is None
    workflow.set_output("gate", "" if previewed else "passed" if gate.passed else "failed")  # type: ignore[union-attr]
    workflow.set_output("metric-differences", json.dumps(comparison.differences() if comparison else {}, sort_keys=True))


def readable_by_all() -> None:
    """What the action writes into the workspace (the local store, its logs and outputs, the workers' files)
    is readable by the runner's user: the container runs as root, the workspace belongs to the runner's user
    (uid 1001 on hosted runners), and actions/cache saves it with tar as that user. So no read or search bit
    is masked, whatever umask the container was given; write bits stay as they were."""
    os.umask(os.umask(0) & ~0o055)


def main(environ: Mapping[str, str]) -> int:
    readable_by_all()  # before anything is created: every file and folder gets its modes at creation
    workflow = Workflow.from_environ(environ)
    mask_secrets(environ, workflow)  # before anything else is printed
    try:
        return _run(environ, workflow)
    except RetrainError as e:
        # Said once, as an annotation whose message is escaped: an error quoting a value (an input, a
        # payload's key) cannot start a line of its own in the log, as the raw text on stderr could.
        workflow.error(str(e), title="retrain")
        return e.exit_code


def _run(environ: Mapping[str, str], workflow: Workflow) -> int:
    inputs = ActionInputs.from_environ(environ)
    workspace = Path(environ.get("GITHUB_WORKSPACE") or Path.cwd())
    event_name = environ.get("GITHUB_EVENT_NAME", "")
    event_path = environ.get("GITHUB_EVENT_PATH", "")
    if not event_name or not event_path:
        raise UsageError("GITHUB_EVENT_NAME and GITHUB_EVENT_PATH are not set: run retrain this way only inside GitHub Actions.")
    event = event_from_payload_file(event_name, Path(event_path))
    if event.deleted:
        # Deleting a branch or a tag leaves no commit to work on: no plan, no check run.
        workflow.out.write(escape.line(f"nothing to do: the push deleted {event.ref or 'a ref'}.") + "\n")
        _outputs(workflow, None, [])
        return 0
    repository = environ.get("GITHUB_REPOSITORY") or event.repository or ""
    api = GitHubAPI(environ.get("GITHUB_API_URL", "https://api.github.com"), repository, inputs.github_token) \
        if inputs.github_token and repository else None
    if api is None:
        workflow.warning("no github-token: results go to the job summary only.", title="retrain")
    commit = environ.get("GITHUB_SHA") or event.sha
    head_sha = event.sha if event.name == "pull_request" and event.sha else commit
    checks = Checks(api, head_sha) if api is not None and head_sha else None

    param_file = workspace / inputs.parameter_file
    run_link = None
    if environ.get("GITHUB_RUN_ID") and repository:
        server = environ.get("GITHUB_SERVER_URL") or "https://github.com"
        run_link = f"{server.rstrip('/')}/{repository}/actions/runs/{environ['GITHUB_RUN_ID']}"
    reporter = CheckReporter(checks, workflow, None, workspace.resolve(), run_link=run_link, commit=commit)
    try:
        config = load_config(param_file, display_root=workspace)
    except InvalidFile as e:
        return _bad_parameter_file(e, reporter, workflow, inputs, commit)
    reporter.config = config

    if event.name == "pull_request" or inputs.command in ("validate", "plan"):
        _form_warnings(config, workspace, workflow)

    only = [inputs.pipeline] if inputs.pipeline else []
    version = parse_version_pin(inputs.version) if inputs.version else None
    if inputs.command == "validate":
        workflow.out.write(escape.line(f"{inputs.parameter_file} is valid: {', '.join(config.pipelines)}.") + "\n")
        _outputs(workflow, None, [])
        return 0
    if inputs.command == "auto" and event.name == "schedule":
        # A schedule has nothing to plan: it completes the check runs of runs that ended since (sync).
        return _sync(config, inputs.backend_environ(environ), reporter, workflow)
    if inputs.command == "gc":
        return _gc(config, inputs.backend_environ(environ), workflow)
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
        return _sync(config, inputs.backend_environ(environ), reporter, workflow)
    if inputs.timeout_s is not None:
        plan = Plan(plan.event, tuple(PipelinePlan(**{**i.__dict__, "timeout_s": inputs.timeout_s}) for i in plan.items))
    if inputs.command == "plan":
        from ..report.console import render_plan

        workflow.out.write(render_plan(plan) + "\n")
        _outputs(workflow, plan, [])
        return 0

    # A plan with nothing to do (a pull request) touches no backend: not even the local store's folder.
    needed = any(i.publish or i.submit for i in plan.items)
    backend = make_backend(config, inputs.backend_environ(environ)) if needed else None
    tags = {k: environ[v] for k, v in (("github.repository", "GITHUB_REPOSITORY"), ("github.run_id", "GITHUB_RUN_ID"),
                                       ("github.workflow", "GITHUB_WORKFLOW"), ("github.actor", "GITHUB_ACTOR")) if environ.get(v)}
    if head_sha:
        tags[CHECK_SHA_TAG] = head_sha  # where the check runs sit (a pull request's head): the sync looks there
    if backend is not None and isinstance(config.backend, LocalBackendConfig):
        backend = _registry(backend, api, workflow, config, writes=event.name != "pull_request")
        if run_link and hasattr(backend, "push"):  # the run's folder goes to this workflow run's artifacts
            tags["retrain.outputs"] = run_link
    watcher = _StopWatcher(reporter)
    try:
        outcomes = execute(plan, config, backend, reporter,  # type: ignore[arg-type]
                           commit=commit, wait=inputs.wait, tags=tags, repo_root=workspace, actor=actor_of(environ))
    finally:
        watcher.close()
        _outputs(workflow, plan, reporter.outcomes, reporter)
        flush = getattr(backend, "push", None)
        if flush is not None:
            flush("retrain: end of job")  # anything not sent yet (a run that ended after the last look)
            workflow.out.write(f"registry: {backend.writes} write(s) ({backend.requests} requests, {backend.seconds:.2f} s).\n")
    if event.name == "pull_request" and api is not None and event.number is not None:
        server = (environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
        _review_comment(api, event.number, reporter, workflow, key=inputs.parameter_file, commit=head_sha,
                        run_link=run_link, check_url=f"{server}/{repository}/runs/")
    return exit_code(outcomes)


CHECK_SHA_TAG = "retrain.check_sha"


class _StopWatcher:
    """Completes the open check runs ``cancelled`` the moment a stop signal arrives, wherever the main thread
    is (a publish, a submit, a request to GitHub being retried): the runner kills the job 10 s after its first
    signal. The follow loop, which then asks the backend to cancel, waits for this to finish first."""

    def __init__(self, reporter: CheckReporter) -> None:
        self._done = threading.Event()

        def watch() -> None:
            while not self._done.is_set():
                if STOP.wait(0.05):
                    reporter.stopping()
                    return

        self._thread = threading.Thread(target=watch, name="retrain-stop-watcher", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=5.0)  # a stop's updates are bounded (check_reporter.STOP_BUDGET_S)


def _review_comment(api: GitHubAPI, number: int, reporter: CheckReporter, workflow: Workflow, *, key: str,
                    commit: str | None, run_link: str | None, check_url: str) -> None:
    """The pull request's sticky comment with each pipeline's comparison, gate and trend, beside its check run.
    A token that may not comment: said once, and the job summary (which has the same report) carries it."""
    from ..github.comments import StickyComment
    from ..report.markdown import comment_body

    sticky = StickyComment(api, number, key)
    ran = [o for o in reporter.outcomes if o.run is not None]
    try:
        if not ran and sticky.find() is None:
            return  # nothing ran and nothing was said before: no comment
        links = {p.removeprefix("retrain / "): f"{check_url}{i}" for p, i in reporter.ids.items()}
        text = comment_body(reporter.outcomes, commit=commit, run_link=run_link, check_links=links)
        posted = sticky.post(text)
    except GitHubForbidden:
        workflow.warning(f"could not comment on pull request #{number}: the token may not comment (GitHub answered 403). "
                         "Give the workflow `permissions: pull-requests: write` (a pull request from a fork never gets it). "
                         "The comparison is in the job summary instead.", title="retrain: no pull request comment")
        workflow.summary(f"> [!NOTE]\n> retrain could not comment on pull request #{number}: the token may not comment "
                         "(give the workflow `permissions: pull-requests: write`). The comparison is here instead.\n")
        return
    except GitHubError as e:
        workflow.warning(f"could not comment on pull request #{number}: {e} The job summary has the comparison.", title="retrain")
        return
    verb = "commented on" if posted.created else "updated the comment on"
    workflow.out.write(escape.line(f"{verb} pull request #{number}: {posted.url}") + "\n")


def _registry(backend: Any, api: GitHubAPI | None, workflow: Workflow, config: Config, *, writes: bool = True) -> Any:
    """Pull the repository's registry into the local store and return the backend that sends its changes back;
    a pull request's job only reads it (its token can only read, and a draft is no version)."""
    from ..github.gitdb import GitDB
    from ..registry import Registry
    from ..registry.backend import Replicated

    store = workflow.relative(str(config.backend.store))
    if api is None:
        workflow.notice(
            f"no github-token: the local backend's registry (the repository's refs/retrain/registry) cannot be read, so "
            f"this job starts from the local store at {store} alone; on a hosted runner that is empty: versions start at "
            f"1 and earlier runs are not known. Pass github-token (docs/local-backend.md, the registry).",
            title="retrain: no registry")
        return backend
    registry = Registry(lambda: backend.store, GitDB(api))
    try:
        report = registry.pull(snapshots=False)  # a run's snapshot is fetched when the run needs it
    except GitHubError as e:
        workflow.warning(f"the registry {registry.remote.ref} could not be read ({e}); this job starts from the local store "
                         f"at {store} alone.", title="retrain: registry")
        return backend
    for problem in dict.fromkeys(report.problems):
        workflow.warning(f"registry: {problem}", title="retrain: registry")
    head = registry.head
    where = f"{registry.remote.ref} at {head.commit[:12]}" if head else f"{registry.remote.ref} (none yet: the first write makes it)"
    workflow.out.write(escape.line(f"registry: {where}; {report.imported} record(s) taken into {store} "
                                   f"({report.requests} requests, {report.seconds:.2f} s).") + "\n")
    if not writes:
        return backend

    def say(level: str, message: str) -> None:
        (workflow.warning if level == "warning" else workflow.notice)(message, title="retrain: registry")

    from ..flow.signals import STOP

    return Replicated(backend, registry, say, stopped=STOP.is_set)


def _form_warnings(config: Config, workspace: Path, workflow: Workflow) -> None:
    """Annotate the workflow files where a dispatch form and the pipelines disagree."""
    from ..github.dispatch_form.drift import check_workflows

    pipelines = {n: p.pipeline for n, p in config.pipelines.items() if p.pipeline is not None}
    values = {n: p.parameters for n, p in config.pipelines.items()}
    for problem in check_workflows(config.path, pipelines, workspace, display_root=workspace, values=values):
        loc = problem.location
        text = f"{problem.message} {problem.hint}".strip()
        workflow.command("warning", text, file=loc.file if loc else None,
                         line=loc.line if loc else None, col=loc.column if loc else None, title="retrain: dispatch form")


def _bad_parameter_file(error: InvalidFile, reporter: CheckReporter, workflow: Workflow, inputs: ActionInputs,
                        commit: str | None) -> int:
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
    # Its own name (never the job's: templates name the job `retrain`) and key: found again only by these.
    key = work_key(commit, "parameter file", file=inputs.parameter_file) if commit else None
    reporter.check(PARAMETER_FILE_CHECK, output=Output(f"{inputs.parameter_file}: {len(error.problems)} problem(s)", summary),
                   conclusion=Conclusion.ACTION_REQUIRED.value, annotations=tuple(annotations), key=key)
    workflow.set_output("status", Conclusion.ACTION_REQUIRED.value)
    return error.exit_code


def _sync(config: Config, environ: Mapping[str, str], reporter: CheckReporter, workflow: Workflow) -> int:
    """Settle what runs submitted with ``wait: false`` left open: judge each gated version whose run has ended
    (and promote it when it passed), with or without a token; complete the open check runs of ended runs."""
    from ..flow.execute import conclusion_of
    from ..flow.follow import Ending
    from ..review.history import Mover, actor_of
    from ..review.promote import VERDICT_TAG, awaiting_verdict, candidate_of, settle

    backend = make_backend(config, environ)
    if isinstance(config.backend, LocalBackendConfig):  # what earlier jobs ran, and the verdicts this sync gives
        backend = _registry(backend, reporter.checks.api if reporter.checks is not None else None, workflow, config)
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


def _gc(config: Config, environ: Mapping[str, str], workflow: Workflow) -> int:
    """``retrain gc`` inside the action's container: the store's files are written by the container (as root),
    so a plain ``run:`` step on the runner could not remove them."""
    from ..backends.local import LocalBackend
    from ..backends.local.retention import human_bytes, plural
    from ..cli.commands import retention_policy, retention_words

    if not isinstance(config.backend, LocalBackendConfig):
        raise UsageError(f"the gc command works on the local backend's store; {config.path.name} uses the "
                         f"{config.backend.kind} backend, whose service keeps its own runs.")
    if not config.backend.store.exists():
        workflow.out.write(escape.line(f"nothing to collect: there is no local store at {workflow.relative(str(config.backend.store))}.") + "\n")
        _outputs(workflow, None, [])
        return 0
    backend = make_backend(config, environ)
    if not isinstance(backend, LocalBackend):
        raise UsageError("the gc command works on the local backend's store only.")
    before = backend.usage()
    plan = backend.plan_gc(retention_policy(config))
    backend.gc(plan)
    after = backend.usage()
    workflow.out.write(escape.line(
        f"retrain gc freed {human_bytes(max(0, before.bytes - after.bytes))}: removed {plural(len(plan.remove_runs), 'run')} "
        f"and {plural(len(plan.remove_snapshots), 'draft snapshot')}; the store holds {human_bytes(after.bytes)}, "
        f"{plural(after.runs, 'run')} ({retention_words(config)}).") + "\n")
    _outputs(workflow, None, [])
    return 0
