"""A workflow's dispatch form checked against the pipelines and the parameter file's values: warnings at the
workflow's lines where a field's name, type, options or default has drifted from what the file runs with.

A warning never stops validate (GitHub has the last word on a workflow); the fix is ``retrain init --update``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from ...errors import InvalidFile, Problem
from ...pipeline.model import Literal, Pipeline, Port
from .fields import MAX_INPUTS, FormInput, form_inputs, form_type, wire_line
from .records import ActionStep, WorkflowForm
from .workflow import read_form, steps_for, workflow_files


def sent(kind: str, default: object, options: Sequence[str] = ()) -> object:
    """What an untouched field sends: its default; with none, a checkbox sends false, a choice its first
    option, and any other field an empty value, which the action drops (the parameter file's value runs)."""
    if default is not None:
        return default
    if kind == "boolean":
        return False
    if kind == "choice" and options:
        return options[0]
    return None


def same_default(kind: str, expected: object, written: object) -> bool:
    """Whether an untouched field (sending ``written``, see :func:`sent`) runs ``expected``, the file's value."""
    if written is None or written == "":
        return True  # dropped by the action: the parameter file's value runs
    if expected is None:
        return False
    if kind == "boolean" or isinstance(expected, bool):
        return str(written).lower() == str(expected).lower()
    if kind == "number" and not isinstance(expected, str):
        try:
            return float(str(written)) == float(expected)  # type: ignore[arg-type]
        except ValueError:
            return False
    return str(written) == str(expected)


def shown_default(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else str(value)


HINT = "Run `retrain init --update` to rewrite the form from the pipeline."


def _declared(pipelines: Mapping[str, Pipeline], step: ActionStep) -> dict[str, tuple[str, Port]]:
    chosen = [step.pipeline] if step.pipeline in pipelines else list(pipelines)
    out: dict[str, tuple[str, Port]] = {}
    for name in chosen:
        for pname, port in pipelines[name].parameters.items():
            out.setdefault(pname, (name, port))
    return out


def _names(pipelines: Mapping[str, Pipeline], step: ActionStep) -> str:
    chosen = [step.pipeline] if step.pipeline in pipelines else list(pipelines)
    return " or ".join(f"'{n}'" for n in chosen)


def _expected(pipelines: Mapping[str, Pipeline], step: ActionStep, values: Mapping[str, Mapping[str, Literal]],
              repo_root: Path) -> dict[str, FormInput]:
    """The form the step's pipelines ask for, with the parameter file's values as defaults."""
    chosen = [step.pipeline] if step.pipeline in pipelines else list(pipelines)
    merged: dict[str, Literal] = {}
    for name in chosen:
        for k, v in (values.get(name) or {}).items():
            merged.setdefault(k, v)
    return {i.name: i for i in form_inputs([pipelines[n] for n in chosen], repo_root, merged)}


def _types_agree(port: Port, written: str, options: tuple[str, ...]) -> bool:
    want = form_type(port)
    if want == written:
        return True
    # A free-text field for a parameter with fixed values, or a choice for free text, still fits.
    return {want, written} == {"choice", "string"}


def check_form(form: WorkflowForm, steps: Sequence[ActionStep], pipelines: Mapping[str, Pipeline],
               values: Mapping[str, Mapping[str, Literal]] | None = None, *, repo_root: Path | None = None,
               file_name: str = "the parameter file") -> list[Problem]:
    """Warnings where the form and the pipelines disagree, at the workflow's lines. With ``values`` (per
    pipeline, the parameter file's values), also where a field's default is not the value the file runs with:
    an untouched form would then change it."""
    if not form.has_dispatch or not pipelines:
        return []
    problems: list[Problem] = []
    by_name = {i.name: i for i in form.inputs}
    for step in steps:
        declared = _declared(pipelines, step)
        which = _names(pipelines, step)
        wired_inputs = {inp: param for param, inp in step.wired.items()}
        expected = _expected(pipelines, step, values, repo_root) if values is not None and repo_root is not None else {}
        for item in form.inputs:
            param = wired_inputs.get(item.name)
            if param is None and item.name not in declared and (item.name in step.other_refs or item.name in form.other_refs):
                continue  # feeds version:, a run: step or the like, not a parameter
            target = param or item.name
            if target not in declared:
                what = f"sets parameter '{target}', which" if param and param != item.name else "has no parameter of that name:"
                problems.append(Problem(
                    f"the dispatch input '{item.name}' {what} pipeline {which} does not declare"
                    f"{'' if param and param != item.name else ' it'}.",
                    item.location, hint=f"Remove the input, or add the parameter to the pipeline. {HINT}"))
                continue
            owner, port = declared[target]
            if not _types_agree(port, item.type, item.options):
                problems.append(Problem(
                    f"the dispatch input '{item.name}' is of type {item.type}, but parameter '{target}' of pipeline "
                    f"'{owner}' is {port.type.value}.", item.type_location,
                    hint=f"Write type: {form_type(port)}. {HINT}"))
            elif item.type == "choice" and port.enum:
                extra = [o for o in item.options if o not in port.enum]
                if extra:
                    problems.append(Problem(
                        f"the dispatch input '{item.name}' offers {', '.join(repr(o) for o in extra)}, which parameter "
                        f"'{target}' does not allow (it takes {', '.join(port.enum)}).", item.type_location, hint=HINT))
            want = expected.get(target)
            sends = sent(item.type, item.default, item.options)
            if want is not None and _types_agree(port, item.type, item.options) and \
                    not same_default(want.type, want.default, sends):
                runs = "no value (the pipeline's default)" if want.default is None else shown_default(want.default)
                what = "defaults to" if item.default is not None else "has no default, so it sends"
                problems.append(Problem(
                    f"the dispatch input '{item.name}' {what} {shown_default(sends)}, but {file_name} runs "
                    f"with {runs}: a dispatch with the form untouched would run {shown_default(sends)}.",
                    item.default_location or item.location,
                    hint="Run `retrain init --update` to set the form's defaults to the parameter file's values."))
            if param is None:
                problems.append(Problem(
                    f"the dispatch input '{item.name}' is not passed to the action, so its value is ignored.",
                    item.location, hint=f"Add the line {wire_line(item.name)} to the step's parameters. {HINT}"))
        for param, inp in step.wired.items():
            if inp not in by_name:
                problems.append(Problem(
                    f"parameters reads inputs.{inp}, which the dispatch form does not have.", step.wired_location,
                    hint=HINT))
        covered = set(step.wired) | {i.name for i in form.inputs}
        full = len(form.inputs) >= MAX_INPUTS  # no room for another field: the rest run with the file's values
        for pname, (owner, _port) in declared.items():
            if pname not in covered and not full:
                problems.append(Problem(
                    f"parameter '{pname}' of pipeline '{owner}' has no input on the dispatch form "
                    "(fine if it is not meant to be set by hand).", form.form_location, hint=HINT))
    # One warning per place and message, even with several steps.
    seen: dict[tuple[object, str], Problem] = {}
    for p in problems:
        seen.setdefault((p.location, p.message), p)
    return list(seen.values())


# -- every workflow of a repository -------------------------------------------------------------------


def _display(path: Path, display_root: Path | None) -> str:
    base = (display_root or Path.cwd()).resolve()
    try:
        return str(path.resolve().relative_to(base))
    except ValueError:
        return str(path)


def check_workflows(config_path: Path, pipelines: Mapping[str, Pipeline], repo_root: Path,
                    *, display_root: Path | None = None,
                    values: Mapping[str, Mapping[str, Literal]] | None = None) -> list[Problem]:
    """Warnings for every workflow in ``.github/workflows`` whose retrain steps read this parameter file.

    A workflow that is not valid YAML is a warning too (GitHub will say more); it never stops validate.
    """
    problems: list[Problem] = []
    for path in workflow_files(repo_root):
        display = _display(path, display_root)
        try:
            form = read_form(path, display)
        except InvalidFile as e:
            problems.extend(e.problems)
            continue
        except (OSError, UnicodeDecodeError) as e:
            problems.append(Problem(f"cannot read {display}: {e}."))
            continue
        if form is None:
            continue
        steps = steps_for(form, repo_root, config_path)
        if steps:
            problems.extend(check_form(form, steps, pipelines, values, repo_root=repo_root,
                                       file_name=_display(config_path, display_root)))
    return problems
