"""The verbs that do the work: ``retrain publish``, ``submit`` (and follow the run to its end), and ``sync``
(follow what was left running, and settle gated versions)."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Mapping

from ..backends.base import Run, RunStatus
from ..boundary import repository_root
from ..config.backend import make_backend
from ..config.version_pin import parse_version_option
from ..config.records import Config
from ..errors import EXIT_OK, EXIT_WORK_FAILED, UsageError
from ..flow.execute import execute, exit_code
from ..flow.plan import Plan, command_plan, parse_assignments
from ..report.as_json import print_json
from ..report.console import ConsoleReporter, render_runs
from ..review.history import actor_of
from .context import backend_of, config_of, progress_stream


def _commit(config: Config) -> str | None:
    """The checked-out commit, recorded with published versions (not used to key manual runs)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=config.root, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


# -- publish / submit -----------------------------------------------------------------------------


def _run_plan(args: argparse.Namespace, environ: Mapping[str, str], config: Config, plan: Plan, *, wait: bool = True) -> int:
    backend = make_backend(config, environ)
    reporter = ConsoleReporter(progress_stream(args))
    outcomes = execute(plan, config, backend, reporter, commit=None, wait=wait, force=getattr(args, "force", False),
                       repo_root=repository_root(config.root), actor=actor_of(environ))
    if args.json:
        from .review import review_json

        print_json([{"pipeline": o.item.pipeline, "conclusion": o.conclusion, "message": o.message,
                     "published": o.published, "run": o.run,
                     "review": review_json(o.review, draft=o.item.draft, candidate=o.candidate, promoted=o.promoted)}
                    for o in outcomes])
    return exit_code(outcomes)


def cmd_publish(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = config_of(args)
    plan = command_plan(config, args.pipeline, publish=True, submit=False, command="publish",
                        make_default=True if args.make_default else None)
    backend = make_backend(config, environ)
    reporter = ConsoleReporter(progress_stream(args))
    outcomes = execute(plan, config, backend, reporter, commit=_commit(config), actor=actor_of(environ))
    if args.json:
        from .review import review_json

        print_json([{"pipeline": o.item.pipeline, "endpoint": o.item.endpoint, "conclusion": o.conclusion,
                     "version": o.published.version.number if o.published else None,
                     "created": o.published.created if o.published else None, "message": o.message,
                     "run": o.run.id if o.run else None,
                     "review": review_json(o.review, candidate=o.candidate, promoted=o.promoted)}
                    for o in outcomes])
    return exit_code(outcomes)


def cmd_submit(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = config_of(args)
    version = parse_version_option(args.version, origin="--version") if args.version else None
    plan = command_plan(config, [args.pipeline] if args.pipeline else [], publish=False, submit=True,
                        command="submit", overrides=parse_assignments(args.set), version=version)
    if args.draft:
        if plan.items and any(config.pipelines[i.pipeline].pipeline is None for i in plan.items):
            raise UsageError("--draft runs the pipeline's definition in this checkout; a designer endpoint has none.")
        if version is not None:
            raise UsageError("--draft runs the pipeline as it is in this checkout, not a version: leave out --version.")
        plan = Plan(plan.event, tuple(type(i)(**{**i.__dict__, "draft": True}) for i in plan.items))
    if args.timeout:
        from ..pipeline.types import parse_duration

        try:
            seconds = parse_duration(args.timeout)
        except ValueError as e:
            raise UsageError(f"--timeout: {e}") from None
        plan = Plan(plan.event, tuple(type(i)(**{**i.__dict__, "timeout_s": seconds}) for i in plan.items))
    return _run_plan(args, environ, config, plan, wait=not args.no_wait)


# -- sync -----------------------------------------------------------------------------------------


def cmd_sync(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Show runs that have not finished; with --wait, follow each to its end."""
    from ..flow.follow import follow

    backend = backend_of(args, environ)
    active = [r for s in (RunStatus.QUEUED, RunStatus.RUNNING) for r in backend.runs(status=s, limit=100)]
    if not args.wait:
        if args.json:
            print_json(active)
        else:
            print(render_runs(active) if active else "every run has finished.")
        return EXIT_OK
    from ..review.history import Mover
    from ..review.promote import awaiting_verdict, settle

    config = config_of(args)
    finished: list[Run] = [follow(backend, run, timeout_s=args.timeout_s, on_change=lambda r: None).run for run in active]
    # Gated versions' runs submitted without waiting, whether they ended just now or before this sync:
    # judge each once, and promote the version if it passed.
    followed = {r.id for r in finished}
    ended = [r for r in backend.runs(limit=100) if r.status.is_terminal and r.id not in followed]
    gates_failed = False
    for run in [*finished, *reversed(ended)]:
        candidate = awaiting_verdict(backend, run)
        pc = config.pipelines.get(run.pipeline)
        if candidate is None or pc is None:
            continue
        settled = settle(backend, pc, run, f"run {run.id} ended {run.status.value}.", candidate=candidate,
                         mover=Mover(actor_of(environ), run.tags.get("retrain.commit")))
        gates_failed = gates_failed or settled.failed_gate
        if run.id not in followed:
            finished.append(run)
        if not args.json:
            print(f"{pc.name}: {settled.message}")
    if args.json:
        print_json(finished)
    else:
        print(render_runs(finished) if finished else "every run has finished.")
    failed = gates_failed or any(r.status is not RunStatus.COMPLETED for r in finished)
    return EXIT_WORK_FAILED if failed else EXIT_OK
