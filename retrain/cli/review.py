"""The review verbs: ``retrain promote``, ``history``, ``rollback`` and ``runs --compare``; the JSON of a run's review."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from ..config.backend import make_backend
from ..errors import EXIT_OK, EXIT_WORK_FAILED, UsageError
from ..review.history import Mover, actor_of
from ..review.records import Review
from ..report.as_json import print_json
from .context import config_of


def review_json(review: Review, *, draft: bool = False, candidate: int | None = None, promoted: bool = False) -> dict[str, Any]:
    """The ``--json`` (and action output) form of a run's review."""
    c, g = review.comparison, review.gate
    return {
        "draft": draft,
        "baseline_run": c.baseline_run if c else None,
        "baseline_version": c.baseline_version if c else None,
        "baseline_chosen": c.how if c else None,
        "differences": c.differences() if c else {},
        "gate": None if g is None else {
            "passed": g.passed,
            "checks": [{"condition": k.text, "metric": k.metric, "value": k.value, "threshold": k.threshold,
                        "passed": k.passed, "result": k.result, "why": k.why} for k in g.checks],
        },
        "candidate_version": candidate,
        "promoted": promoted,
    }


def cmd_promote(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from ..flow.plan import command_plan
    from ..review.promote import promote
    from ..review.report import comparison_text, gate_text

    config = config_of(args)
    item = command_plan(config, [args.pipeline], publish=False, submit=False, command="promote").items[0]
    pc = config.pipelines[args.pipeline]
    try:
        number = int(args.version)
    except ValueError:
        raise UsageError(f"the version is {args.version!r}; give a version number, as `retrain endpoints {pc.endpoint}` lists them.") from None
    if args.force and not args.reason.strip():
        raise UsageError(f"--force skips the gate and the comparison, so it needs a --reason: say why, e.g. retrain promote "
                         f"{pc.name} {number} --force --reason 'the baseline run was broken'. The reason is recorded with "
                         "the move (retrain history).")
    backend = make_backend(config, environ)
    result = promote(backend, pc, number, item.parameters, force=args.force, mover=Mover(actor_of(environ)),
                     reason=args.reason)
    moved = result.gate is None or result.gate.passed or result.forced
    if args.json:
        print_json({"endpoint": result.endpoint, "version": result.version, "previous_default": result.previous,
                    "promoted": moved, "forced": result.forced, "run": result.run.id if result.run else None,
                    "reason": args.reason.strip(),
                    **review_json(Review(result.comparison, result.gate))})
        return EXIT_OK if moved else EXIT_WORK_FAILED
    if result.forced:
        print(f"version {number} of {result.endpoint} is now the default (was {result.previous}); "
              "--force: the gate and the baseline comparison were NOT checked. Recorded with the reason given "
              f"(retrain history {pc.name}).")
        return EXIT_OK
    print(f"checked run {result.run.id if result.run else '-'} of version {number}")
    if result.comparison is not None:
        print(comparison_text(result.comparison))
    if result.gate is not None:
        print(gate_text(result.gate))
    if moved:
        print(f"version {number} of {result.endpoint} is now the default (was {result.previous}).")
        return EXIT_OK
    print(f"version {number} was not promoted: {result.gate.summary() if result.gate else ''}. "
          f"The default stays at version {result.previous}. (--force skips the checks.)")
    return EXIT_WORK_FAILED


def cmd_compare(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``retrain runs --compare A B``."""
    from ..review.report import compare_runs_text

    config = config_of(args)
    backend = make_backend(config, environ)
    a, b = (backend.run(r) for r in args.compare)
    pc = config.pipelines.get(b.pipeline) or config.pipelines.get(a.pipeline)
    goals = dict(pc.goals) if pc is not None else {}
    if args.json:
        from ..review.baseline import compare

        c = compare(b, a, goals)
        print_json({"a": a, "b": b, "differences": c.differences()})
    else:
        print(compare_runs_text(a, b, goals))
    return EXIT_OK


def cmd_history(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``retrain history PIPELINE``: the recorded moves of the pipeline's endpoint default, newest first."""
    from ..review.history import history_text, move_json, moves

    config = config_of(args)
    pc = _pipeline(config, args.pipeline)
    backend = make_backend(config, environ)
    recorded = moves(backend, pc.endpoint)
    current = backend.endpoint(pc.endpoint).default_version
    if args.json:
        print_json({"pipeline": pc.name, "endpoint": pc.endpoint, "default_version": current,
                    "moves": [move_json(m) for m in reversed(recorded)]})
    else:
        print(history_text(pc.endpoint, recorded, current))
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``retrain rollback PIPELINE``: the default back to the one before, recorded as kind ``rollback``."""
    from ..review.history import move_json, rollback

    config = config_of(args)
    pc = _pipeline(config, args.pipeline)
    backend = make_backend(config, environ)
    done = rollback(backend, pc.endpoint, Mover(actor_of(environ)), args.reason)
    if args.json:
        print_json({"pipeline": pc.name, "endpoint": done.endpoint, "previous_default": done.previous,
                    "version": done.version, "move": move_json(done.move)})
    else:
        print(f"version {done.version} of {done.endpoint} is the default again (was {done.previous}); "
              f"recorded as a rollback by {done.move.actor} (retrain history {pc.name}).")
    return EXIT_OK


def _pipeline(config: Any, name: str) -> Any:
    pc = config.pipelines.get(name)
    if pc is None:
        raise UsageError(f"{config.path.name} has no pipeline '{name}'. Its pipelines: {', '.join(config.pipelines)}.")
    return pc
