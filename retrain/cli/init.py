"""``retrain init``: writes the parameter file and the workflow :mod:`.scaffold` plans, and says the next steps;
``init --update`` rewrites the workflows' dispatch forms from the pipeline, keeping the rest of each file."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from ..boundary import repository_root
from ..errors import EXIT_OK, UsageError
from ..pipeline.model import Literal
from .context import config_of


def cmd_init(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if args.update:
        return _init_update(args)
    from ..github.dispatch_form.fields import MAX_INPUTS
    from .scaffold import InitOptions, plan_init, write_atomically

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
    from .scaffold import write_atomically

    config = config_of(args)
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
