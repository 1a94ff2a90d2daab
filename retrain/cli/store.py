"""The verbs of the local backend's store: ``retrain status`` with no run (its size, what gc would free),
``gc``, and ``pull`` (the repository's registry into the store)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from ..boundary import repository_root
from ..config.backend import make_backend
from ..config.records import Config
from ..errors import EXIT_OK, UsageError
from ..flow.retention import retention_policy, retention_words
from ..report.as_json import print_json
from .context import config_of


def _local_store(args: argparse.Namespace, environ: Mapping[str, str], what: str) -> tuple[Config, Any, Any]:
    """(config, local backend, retention policy); a usage error on other backends."""
    from ..backends.local import LocalBackend

    config = config_of(args)
    if config.backend.kind != "local":  # checked before any credentials are looked for
        raise UsageError(f"{what} works on the local backend's store; {args.file} uses the {config.backend.kind} backend, "
                         f"whose service keeps its own runs. Give a run id to see one run.")
    backend = make_backend(config, environ)
    if not isinstance(backend, LocalBackend):
        raise UsageError(f"{what} works on the local backend's store only.")
    return config, backend, retention_policy(config)


def store_status(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``retrain status`` with no run: the store's size, and what gc would free."""
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


def cmd_pull(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Read the repository's registry (what the action published and ran) into the local store."""
    from ..registry.command import pull

    config, backend, _ = _local_store(args, environ, "retrain pull")
    return pull(backend, repo=args.repo, configured=getattr(config.backend, "registry", None),
                root=repository_root(config.path.parent), environ=environ, as_json=args.json)
