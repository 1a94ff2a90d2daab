"""``retrain validate``: the parameter file, the pipelines it names and the workflows' dispatch forms, checked
without touching a backend. It loads the parameter file's and the pipeline's rooms and the form check, nothing
else (tests/test_architecture.py holds it to that)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from ..boundary import repository_root
from ..config.records import Config
from ..errors import EXIT_OK, Problem
from .context import config_of


def form_warnings(config: Config) -> list[Problem]:
    """Where the workflows' dispatch forms and the pipelines disagree (warnings, never errors)."""
    from ..github.dispatch_form.drift import check_workflows

    pipelines = {n: p.pipeline for n, p in config.pipelines.items() if p.pipeline is not None}
    values = {n: p.parameters for n, p in config.pipelines.items()}
    return check_workflows(config.path, pipelines, repository_root(config.root), values=values)


def cmd_validate(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = config_of(args)
    warnings = [*config.warnings, *form_warnings(config)]
    if warnings:
        from ..escape import line  # a warning quotes files; run in a workflow, stderr is the job log

        for problem in warnings:
            print("\n".join(line(part) for part in f"warning: {problem}".split("\n")), file=sys.stderr)
    if args.json:
        from ..report.as_json import print_json

        print_json({
            "file": str(config.path),
            "valid": True,
            "warnings": [{"file": p.location.file if p.location else None, "line": p.location.line if p.location else None,
                          "message": p.message, "hint": p.hint} for p in warnings],
            "backend": config.backend.kind,
            "pipelines": {
                n: {"endpoint": p.endpoint, "version": p.version, "steps": list(p.pipeline.steps) if p.pipeline else None,
                    "parameters": p.parameters, "content_hash": p.pipeline.content_hash if p.pipeline else None}
                for n, p in config.pipelines.items()
            },
        })
        return EXIT_OK
    names = ", ".join(f"{n} ({len(p.pipeline.steps)} steps)" if p.pipeline else f"{n} (published from the designer)"
                      for n, p in config.pipelines.items())
    print(f"{args.file} is valid: backend {config.backend.kind}; pipelines: {names}.")
    return EXIT_OK
