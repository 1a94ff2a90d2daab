"""``retrain plan``: what an event would do, per pipeline, and why; no backend is touched."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from ..boundary import repository_root
from ..config.version_pin import parse_version_option
from ..config.records import Config
from ..errors import EXIT_OK, UsageError
from ..flow.event import Event
from ..flow.plan import make_plan, parse_assignments
from ..report.as_json import print_json
from ..report.console import render_plan
from .context import config_of


def _event_from_args(args: argparse.Namespace, config: Config) -> Event:
    repo_root = repository_root(config.root)
    changed: tuple[str, ...] | None = None
    if args.changed is not None:
        rels = []
        for name in args.changed:
            # Typed paths are relative to the current folder; events list repository paths.
            absolute = (Path.cwd() / name).resolve()
            try:
                rels.append(absolute.relative_to(repo_root.resolve()).as_posix())
            except ValueError:
                raise UsageError(f"--changed {name}: it is outside the repository at {repo_root}.") from None
        changed = tuple(rels)
    if args.event_file:
        from ..action.payload import event_from_payload_file

        # Without --event, the payload says which event it is for.
        event = event_from_payload_file(args.event, Path(args.event_file))
        if changed is not None:
            event = Event(**{**event.__dict__, "changed_files": changed, "changed_files_complete": True})
        return event
    name = "dispatch" if args.event == "workflow_dispatch" else (args.event or "push")
    return Event(name=name, changed_files=changed)


def cmd_plan(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = config_of(args)
    event = _event_from_args(args, config)
    version = parse_version_option(args.version, origin="--version") if args.version else None
    plan = make_plan(config, event, only=args.pipeline or (), overrides=parse_assignments(args.set), version=version)
    if args.json:
        print_json(plan)
    else:
        print(render_plan(plan))
    return EXIT_OK
