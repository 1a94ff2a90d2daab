"""The GitHub Action: read the inputs and the event, plan, execute, and report as check runs.

Secrets are masked before anything else is printed. A bad parameter file ends in a check run that
concludes ``action_required`` with annotations at its lines. When the token may not write checks (a
fork's pull request), that is said once and the job summary carries the report instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from .. import escape
from ..config.backend import make_backend
from ..config.load import load_config
from ..config.version_pin import parse_version_pin
from ..config.records import Config, LocalBackendConfig
from ..errors import InvalidFile, RetrainError, UsageError
from ..flow.event import Event
from ..flow.execute import Conclusion, execute, exit_code
from ..flow.plan import Plan, PipelinePlan, command_plan, make_plan
from ..flow.signals import STOP
from ..github.api import GitHubAPI, GitHubError, GitHubForbidden
from ..github.checks import Annotation, Checks, Output, work_key
from ..github.compare import compare
from ..github.workflow import Workflow
from ..review.history import actor_of
from .check_reporter import CHECK_SHA_TAG, PARAMETER_FILE_CHECK, CheckReporter
from .inputs import ActionInputs, mask_secrets
from .outputs import write_outputs
from .payload import event_from_payload_file
from .registry import with_registry


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
        write_outputs(workflow, None, [])
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
        write_outputs(workflow, None, [])
        return 0
    if inputs.command == "auto" and event.name == "schedule":
        # A schedule has nothing to plan: it completes the check runs of runs that ended since (sync).
        from .sync import sync  # a schedule's job, and command: sync

        return sync(config, inputs.backend_environ(environ), reporter, workflow)
    if inputs.command == "gc":
        from .gc import gc

        return gc(config, inputs.backend_environ(environ), workflow)
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
        from .sync import sync

        return sync(config, inputs.backend_environ(environ), reporter, workflow)
    if inputs.timeout_s is not None:
        plan = Plan(plan.event, tuple(PipelinePlan(**{**i.__dict__, "timeout_s": inputs.timeout_s}) for i in plan.items))
    if inputs.command == "plan":
        from ..report.console import render_plan

        workflow.out.write(render_plan(plan) + "\n")
        write_outputs(workflow, plan, [])
        return 0

    # A plan with nothing to do (a pull request) touches no backend: not even the local store's folder.
    needed = any(i.publish or i.submit for i in plan.items)
    backend = make_backend(config, inputs.backend_environ(environ)) if needed else None
    tags = {k: environ[v] for k, v in (("github.repository", "GITHUB_REPOSITORY"), ("github.run_id", "GITHUB_RUN_ID"),
                                       ("github.workflow", "GITHUB_WORKFLOW"), ("github.actor", "GITHUB_ACTOR")) if environ.get(v)}
    if head_sha:
        tags[CHECK_SHA_TAG] = head_sha  # where the check runs sit (a pull request's head): the sync looks there
    if backend is not None and isinstance(config.backend, LocalBackendConfig):
        backend = with_registry(backend, api, workflow, config, writes=event.name != "pull_request")
        if run_link and hasattr(backend, "push"):  # the run's folder goes to this workflow run's artifacts
            tags["retrain.outputs"] = run_link
    watcher = _StopWatcher(reporter)
    try:
        outcomes = execute(plan, config, backend, reporter,  # type: ignore[arg-type]
                           commit=commit, wait=inputs.wait, tags=tags, repo_root=workspace, actor=actor_of(environ))
    finally:
        watcher.close()
        write_outputs(workflow, plan, reporter.outcomes, reporter)
        flush = getattr(backend, "push", None)
        if flush is not None:
            flush("retrain: end of job")  # anything not sent yet (a run that ended after the last look)
            workflow.out.write(f"registry: {backend.writes} write(s) ({backend.requests} requests, {backend.seconds:.2f} s).\n")
    if event.name == "pull_request" and api is not None and event.number is not None:
        server = (environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
        _review_comment(api, event.number, reporter, workflow, key=inputs.parameter_file, commit=head_sha,
                        run_link=run_link, check_url=f"{server}/{repository}/runs/")
    return exit_code(outcomes)


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
