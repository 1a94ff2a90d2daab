"""The verbs of the command line. Each takes parsed arguments and the environment, returns an exit code."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from ..backends.base import Backend, Run, RunStatus
from ..config.backend import make_backend
from ..config.load import load_config
from ..config.version_pin import parse_version_option
from ..config.records import Config
from ..report.console import ConsoleReporter, print_logs, render_endpoint, render_endpoints, render_plan, render_run, render_runs
from ..errors import EXIT_OK, EXIT_WORK_FAILED, Problem, RetrainError, UsageError
from ..flow.event import Event
from ..flow.execute import execute, exit_code
from ..review.history import actor_of
from ..metric_values import non_finite_word
from ..pipeline.model import Literal
from ..boundary import repository_root
from ..flow.plan import Plan, command_plan, make_plan


def to_json(value: Any) -> Any:
    """Dataclasses, enums, paths and datetimes as JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        # A loaded pipeline (a whole graph) is left out; a field named pipeline that holds its name stays.
        return {k: to_json(v) for k, v in asdict(value).items() if k != "pipeline" or isinstance(v, str)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime,)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [to_json(v) for v in value]
        return sorted(items) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, float) and not math.isfinite(value):
        return non_finite_word(value)  # JSON has no NaN: "NaN", "Infinity", "-Infinity"
    return value


def print_json(value: Any) -> None:
    print(json.dumps(to_json(value), indent=2, sort_keys=True))


def parse_assignments(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {pair!r} is not name=value. Write e.g. --set learning_rate=0.05.")
        out[name.strip()] = value
    return out


def _config(args: argparse.Namespace) -> Config:
    return load_config(Path(args.file))


def _progress_stream(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    # With --json, stdout is for the document; people still see progress on stderr.
    return sys.stderr if getattr(args, "json", False) else sys.stdout


def _commit(config: Config) -> str | None:
    """The checked-out commit, recorded with published versions (not used to key manual runs)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=config.root, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


# -- validate / plan ------------------------------------------------------------------------------


def form_warnings(config: Config) -> list[Problem]:
    """Where the workflows' dispatch forms and the pipelines disagree (warnings, never errors)."""
    from ..github.dispatch_form.drift import check_workflows

    pipelines = {n: p.pipeline for n, p in config.pipelines.items() if p.pipeline is not None}
    values = {n: p.parameters for n, p in config.pipelines.items()}
    return check_workflows(config.path, pipelines, repository_root(config.root), values=values)


def cmd_validate(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = _config(args)
    warnings = [*config.warnings, *form_warnings(config)]
    for problem in warnings:
        print(f"warning: {problem}", file=sys.stderr)
    if args.json:
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
    config = _config(args)
    event = _event_from_args(args, config)
    version = parse_version_option(args.version, origin="--version") if args.version else None
    plan = make_plan(config, event, only=args.pipeline or (), overrides=parse_assignments(args.set), version=version)
    if args.json:
        print_json(plan)
    else:
        print(render_plan(plan))
    return EXIT_OK


# -- publish / submit -----------------------------------------------------------------------------


def _run_plan(args: argparse.Namespace, environ: Mapping[str, str], config: Config, plan: Plan, *, wait: bool = True) -> int:
    backend = make_backend(config, environ)
    reporter = ConsoleReporter(_progress_stream(args))
    outcomes = execute(plan, config, backend, reporter, commit=None, wait=wait, force=getattr(args, "force", False),
                       repo_root=repository_root(config.root), actor=actor_of(environ))
    if args.json:
        from .review_verbs import review_json

        print_json([{"pipeline": o.item.pipeline, "conclusion": o.conclusion, "message": o.message,
                     "published": o.published, "run": o.run,
                     "review": review_json(o.review, draft=o.item.draft, candidate=o.candidate, promoted=o.promoted)}
                    for o in outcomes])
    return exit_code(outcomes)


def cmd_publish(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = _config(args)
    plan = command_plan(config, args.pipeline, publish=True, submit=False, command="publish",
                        make_default=True if args.make_default else None)
    backend = make_backend(config, environ)
    reporter = ConsoleReporter(_progress_stream(args))
    outcomes = execute(plan, config, backend, reporter, commit=_commit(config), actor=actor_of(environ))
    if args.json:
        from .review_verbs import review_json

        print_json([{"pipeline": o.item.pipeline, "endpoint": o.item.endpoint, "conclusion": o.conclusion,
                     "version": o.published.version.number if o.published else None,
                     "created": o.published.created if o.published else None, "message": o.message,
                     "run": o.run.id if o.run else None,
                     "review": review_json(o.review, candidate=o.candidate, promoted=o.promoted)}
                    for o in outcomes])
    return exit_code(outcomes)


def cmd_submit(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    config = _config(args)
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


# -- status / cancel / runs / endpoints / sync ------------------------------------------------------


def _backend(args: argparse.Namespace, environ: Mapping[str, str]) -> Backend:
    return make_backend(_config(args), environ)


def _defaults(backend: Backend, run: Run) -> dict[str, object] | None:
    try:
        version = backend.endpoint(run.endpoint).version(run.version)
    except Exception:  # noqa: BLE001 - only decoration: the report is still right without it
        return None
    return dict(version.parameters) if version else None


def cmd_status(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if args.run is None:
        return _store_status(args, environ)
    from ..review.promote import Review, candidate_of, review
    from ..review.report import review_text

    config = _config(args)
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
    backend = _backend(args, environ)
    run = backend.cancel(args.run)
    if args.json:
        print_json(run)
    else:
        print(f"run {run.id}: {run.status.value}")
    return EXIT_OK


def cmd_runs(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if getattr(args, "compare", None):
        from .review_verbs import cmd_compare

        return cmd_compare(args, environ)
    backend = _backend(args, environ)
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
    backend = _backend(args, environ)
    if args.name:
        endpoint = backend.endpoint(args.name)
        print_json(endpoint) if args.json else print(render_endpoint(endpoint))
    else:
        endpoints = backend.endpoints()
        print_json(endpoints) if args.json else print(render_endpoints(endpoints))
    return EXIT_OK


def cmd_sync(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Show runs that have not finished; with --wait, follow each to its end."""
    from ..flow.follow import follow

    backend = _backend(args, environ)
    active = [r for s in (RunStatus.QUEUED, RunStatus.RUNNING) for r in backend.runs(status=s, limit=100)]
    if not args.wait:
        if args.json:
            print_json(active)
        else:
            print(render_runs(active) if active else "every run has finished.")
        return EXIT_OK
    from ..review.history import Mover
    from ..review.promote import awaiting_verdict, settle

    config = _config(args)
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




# -- init -----------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if args.update:
        return _init_update(args)
    from ..github.dispatch_form.fields import MAX_INPUTS
    from .init import InitOptions, plan_init, write_atomically

    result = plan_init(InitOptions(
        parameter_file=(Path.cwd() / args.file).resolve(),
        definition=Path(args.definition) if args.definition else None,
        backend=args.backend, force=args.force, no_wait=args.no_wait, schedule=args.schedule, branch=args.branch,
    ))
    for written in result.files:
        write_atomically(written.path, written.text)
    cwd = Path.cwd()
    shown = [str(Path(os.path.relpath(w.path, cwd))) for w in result.files]
    params = len(result.pipeline.parameters)
    print(f"wrote {shown[0]}: pipeline '{result.name}' ({len(result.pipeline.steps)} steps, {params} parameters), "
          f"backend {args.backend}")
    sync = f", a schedule ({result.schedule}) that syncs" if result.schedule else ""
    print(f"wrote {shown[1]}: push, pull_request{sync} and a dispatch form with {params - len(result.left_out)} inputs")
    if result.left_out:
        print(f"  (GitHub allows {MAX_INPUTS} inputs on a form: {', '.join(result.left_out)} are not on it and run with "
              f"{shown[0]}'s values; the workflow's comment says how to set them)")
    print("\nnext steps:")
    step = 1
    if result.required:
        print(f"  {step}. give {', '.join(result.required)} a value in {shown[0]} (no default in the pipeline)")
        step += 1
    if args.backend == "azureml":
        print(f"  {step}. fill in subscription_id, resource_group and workspace in {shown[0]}")
        print(f"  {step + 1}. the one-time Azure setup (identity, federated credential, role, compute): docs/azure.md;")
        print("     then set the repository variables AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_SUBSCRIPTION_ID")
        step += 2
    else:
        print(f"  {step}. try it here: retrain -f {shown[0]} submit {result.name}")
        print("     (on GitHub the steps run in the action's container; see docs/github-action.md if they import packages)")
        step += 1
    print(f"  {step}. retrain -f {shown[0]} validate")
    print(f"  {step + 1}. git add {' '.join(shown)} && git commit -m 'Retrain with retrain' && git push")
    return EXIT_OK


def _init_update(args: argparse.Namespace) -> int:
    from ..github.dispatch_form.edit import update_form
    from ..github.dispatch_form.fields import MAX_INPUTS, fit_form, form_inputs
    from ..github.dispatch_form.workflow import read_form, steps_for, workflow_files
    from .init import write_atomically

    config = _config(args)
    repo_root = repository_root(config.root)
    updated = 0
    for path in workflow_files(repo_root):
        shown = str(Path(os.path.relpath(path, Path.cwd())))
        form = read_form(path, shown)
        if form is None or not form.has_dispatch:
            continue
        steps = steps_for(form, repo_root, config.path)
        if not steps:
            continue
        chosen = {s.pipeline for s in steps}
        names = [n for n in config.pipelines if None in chosen or n in chosen]
        pipelines = [config.pipelines[n].pipeline for n in names if config.pipelines[n].pipeline is not None]
        values: dict[str, Literal] = {}
        for n in names:
            for k, v in config.pipelines[n].parameters.items():
                values.setdefault(k, v)
        inputs, left_out = fit_form(form_inputs(pipelines, repo_root, values))  # type: ignore[arg-type]
        if left_out:
            print(f"{shown}: a form has room for {MAX_INPUTS} inputs: {', '.join(left_out)} keep the parameter file's values")
        text = path.read_bytes().decode("utf-8")  # as it is: no newline translation
        result = update_form(text, shown, inputs, config_path=config.path, repo_root=repo_root)
        updated += 1
        if result.text == text:
            print(f"{shown}: the form is in step with the pipeline; nothing to change")
            continue
        write_atomically(path, result.text)
        if result.changes:  # one line per field, saying what changed
            print(f"updated {shown}:")
            for line in result.changes:
                print(f"  {line}")
        else:
            print(f"updated {shown}: rewrote the wiring of the inputs to the action's parameters")
    if not updated:
        raise UsageError(f"no workflow in {repo_root / '.github' / 'workflows'} has a dispatch form for {args.file}. "
                         "Run `retrain init` to write one.")
    return EXIT_OK


def cmd_pull(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Read the repository's registry (what the action published and ran) into the local store."""
    from ..registry.command import pull

    config, backend, _ = _local_store(args, environ, "retrain pull")
    return pull(backend, repo=args.repo, configured=getattr(config.backend, "registry", None),
                root=repository_root(config.path.parent), environ=environ, as_json=args.json)


# -- the local store: size and gc -----------------------------------------------------------------


def _local_store(args: argparse.Namespace, environ: Mapping[str, str], what: str):  # type: ignore[no-untyped-def]
    """(config, local backend, retention policy); a usage error on other backends."""
    from ..backends.local import LocalBackend

    config = _config(args)
    if config.backend.kind != "local":  # checked before any credentials are looked for
        raise UsageError(f"{what} works on the local backend's store; {args.file} uses the {config.backend.kind} backend, "
                         f"whose service keeps its own runs. Give a run id to see one run.")
    backend = make_backend(config, environ)
    if not isinstance(backend, LocalBackend):
        raise UsageError(f"{what} works on the local backend's store only.")
    return config, backend, retention_policy(config)


def retention_policy(config: Config):  # type: ignore[no-untyped-def]
    """The parameter file's retention, with the runs ``compare_to`` names (gc must keep those)."""
    from ..backends.local.retention import RetentionPolicy

    keep = {name: r.keep for name in config.pipelines if (r := config.retention_for(name)) is not None}
    baselines = frozenset(p.compare_to for p in config.pipelines.values() if p.compare_to not in ("default", "latest"))
    return RetentionPolicy(keep=keep, default=config.retention.keep if config.retention else None, baselines=baselines)


def retention_words(config: Config) -> str:
    kinds = {f"keep {r.keep}" for n in config.pipelines if (r := config.retention_for(n)) is not None}
    if not kinds:
        return "no retention is set, so every run is kept"
    return f"retention: {', '.join(sorted(kinds))}"


def _store_status(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from ..backends.local.retention import describe, human_bytes, plural

    config, backend, policy = _local_store(args, environ, "retrain status with no run")
    used = backend.usage()
    plan = backend.plan_gc(policy)
    if args.json:
        print_json({"store": used, "gc": describe(plan)})
        return EXIT_OK
    print(f"local store {used.store}: {human_bytes(used.bytes)} in {used.files} files "
          f"({human_bytes(used.object_bytes)} stored once by content); {plural(used.runs, 'run')}, "
          f"{plural(used.versions, 'version')}.")
    if plan.frees_bytes or plan.remove_runs:
        print(f"retrain gc would free {human_bytes(plan.frees_bytes)}: {plural(len(plan.remove_runs), 'run')} "
              f"({retention_words(config)}), {plural(plan.unused_objects, 'unused file')}, "
              f"{plural(len(plan.orphan_folders), 'leftover folder')}.")
    else:
        print(f"retrain gc would free nothing ({retention_words(config)}).")
    return EXIT_OK


def cmd_gc(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from ..backends.local.retention import describe, human_bytes, plural

    config, backend, policy = _local_store(args, environ, "retrain gc")
    before = backend.usage()
    plan = backend.plan_gc(policy)
    if not args.dry_run:
        backend.gc(plan)
    after = before if args.dry_run else backend.usage()
    if args.json:
        print_json({**describe(plan), "dry_run": args.dry_run, "bytes_before": before.bytes, "bytes_after": after.bytes})
        return EXIT_OK
    verb = "would remove" if args.dry_run else "removed"
    for run_id in plan.remove_runs:
        print(f"{verb} run {run_id}")
    for folder in plan.orphan_folders:
        print(f"{verb} leftover {folder}")
    for folder in plan.remove_snapshots:
        print(f"{verb} draft snapshot {folder}")
    if args.dry_run:
        print(f"retrain gc would free {human_bytes(plan.frees_bytes)} of {human_bytes(before.bytes)}: "
              f"{plural(len(plan.remove_runs), 'run')}, {plural(plan.unused_objects, 'unused file')}; "
              f"{plural(plan.kept_runs, 'run')} kept "
              f"({retention_words(config)}).")
    else:
        print(f"freed {human_bytes(max(0, before.bytes - after.bytes))}: the store {after.store} holds "
              f"{human_bytes(after.bytes)}, {plural(after.runs, 'run')} ({retention_words(config)}).")
    return EXIT_OK


def cmd_promote(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from .review_verbs import cmd_promote as promote

    return promote(args, environ)


def cmd_history(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from .review_verbs import cmd_history as history

    return history(args, environ)


def cmd_rollback(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from .review_verbs import cmd_rollback as rollback

    return rollback(args, environ)
