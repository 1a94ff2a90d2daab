"""The verbs that show what a backend holds: ``retrain status RUN`` (a run beside its baseline), ``runs``,
``endpoints``; and ``cancel``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from ..backends.base import Backend, Run, RunStatus
from ..config.backend import make_backend
from ..errors import EXIT_OK, EXIT_WORK_FAILED, RetrainError
from ..report.as_json import print_json
from ..report.console import print_logs, render_endpoint, render_endpoints, render_run, render_runs
from .context import backend_of, config_of


def _defaults(backend: Backend, run: Run) -> dict[str, object] | None:
    try:
        version = backend.endpoint(run.endpoint).version(run.version)
    except Exception:  # noqa: BLE001 - only decoration: the report is still right without it
        return None
    return dict(version.parameters) if version else None


def cmd_status(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if args.run is None:
        from .store import store_status

        return store_status(args, environ)
    from ..review.promote import Review, candidate_of, review
    from ..review.report import review_text

    config = config_of(args)
    backend = make_backend(config, environ)
    run = backend.run(args.run)
    pc = config.pipelines.get(run.pipeline)
    # A finished run is shown beside its baseline, as when it ended; drafts stay drafts. A baseline that cannot
    # be read (a compare_to run removed since) is said, and the run is still shown.
    unread = None
    try:
        checked = review(backend, pc, run) if pc is not None else Review()
    except RetrainError as e:
        checked, unread = Review(), f"baseline: could not be read ({e})"
    draft = run.tags.get("retrain.draft") == "true"
    if args.json:
        print_json(run)
    else:
        print(render_run(run, defaults=_defaults(backend, run), metrics=checked.comparison is None))
        extra = review_text(checked, draft=draft, candidate=candidate_of(run) is not None)
        if extra:
            print("\n" + extra)
        if unread:
            print("\n" + unread)
        if args.logs:
            print_logs(backend, run, sys.stdout)
    return EXIT_OK if run.status in (RunStatus.COMPLETED, RunStatus.QUEUED, RunStatus.RUNNING) else EXIT_WORK_FAILED


def cmd_cancel(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    backend = backend_of(args, environ)
    run = backend.cancel(args.run)
    if args.json:
        print_json(run)
    else:
        print(f"run {run.id}: {run.status.value}")
    return EXIT_OK


def cmd_runs(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if getattr(args, "compare", None):
        from .review import cmd_compare

        return cmd_compare(args, environ)
    backend = backend_of(args, environ)
    status = RunStatus(args.status) if args.status else None
    runs = backend.runs(pipeline=args.pipeline, status=status, limit=args.limit)
    for damaged in getattr(backend, "damaged", ()):
        print(f"warning: {damaged}", file=sys.stderr)
    if args.json:
        print_json(runs)
    else:
        print(render_runs(runs))
    return EXIT_OK


def cmd_endpoints(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    backend = backend_of(args, environ)
    if args.name:
        endpoint = backend.endpoint(args.name)
        print_json(endpoint) if args.json else print(render_endpoint(endpoint))
    else:
        endpoints = backend.endpoints()
        print_json(endpoints) if args.json else print(render_endpoints(endpoints))
    return EXIT_OK
