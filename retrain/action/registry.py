"""The local backend's registry in a job: the repository's ``refs/retrain/registry`` pulled into the local store
first, and the backend wrapped so that what the job records is sent back."""

from __future__ import annotations

from typing import Any

from .. import escape
from ..config.records import Config
from ..github.api import GitHubAPI, GitHubError
from ..github.workflow import Workflow


def with_registry(backend: Any, api: GitHubAPI | None, workflow: Workflow, config: Config, *, writes: bool = True) -> Any:
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
