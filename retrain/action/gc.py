"""``command: gc``: the local store collected by the parameter file's retention, inside the action's container."""

from __future__ import annotations

from collections.abc import Mapping

from .. import escape
from ..config.backend import make_backend
from ..config.records import Config, LocalBackendConfig
from ..errors import UsageError
from ..flow.retention import retention_policy, retention_words
from ..github.workflow import Workflow
from .outputs import write_outputs


def gc(config: Config, environ: Mapping[str, str], workflow: Workflow) -> int:
    """``retrain gc`` inside the action's container: the store's files are written by the container (as root),
    so a plain ``run:`` step on the runner could not remove them."""
    from ..backends.local import LocalBackend
    from ..backends.local.retention import human_bytes, plural

    if not isinstance(config.backend, LocalBackendConfig):
        raise UsageError(f"the gc command works on the local backend's store; {config.path.name} uses the "
                         f"{config.backend.kind} backend, whose service keeps its own runs.")
    if not config.backend.store.exists():
        workflow.out.write(escape.line(f"nothing to collect: there is no local store at {workflow.relative(str(config.backend.store))}.") + "\n")
        write_outputs(workflow, None, [])
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
    write_outputs(workflow, None, [])
    return 0
