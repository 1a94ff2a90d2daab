"""The ``workflow_dispatch`` form of a workflow that uses the retrain action, kept in step with the pipeline.

Three jobs: the form a pipeline asks for (one input per parameter, typed from the pipeline), what a
workflow file's form holds (read with ``yaml.compose`` so every input keeps its line), and a rewrite of
the form's ``inputs:`` block and of the action's ``parameters`` wiring that edits only those lines and
leaves every other byte of the file (comments included) as it was. Re-dumping the YAML would lose the
comments, the quoting and the order the user chose.

The wiring is one ``name=${{ inputs.name }}`` line per input in the action's ``parameters`` input; on a
push or a schedule ``inputs`` is empty, and the action drops ``name=`` lines with no value, so an empty
field keeps the parameter file's value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import InvalidFile, Location, Problem, UsageError
from ..pipeline.model import InputType, Literal, Pipeline, Port
from ..pipeline.types import is_uri

# owner/retrain@ref (also owner/retrain/sub/folder@ref): a step that runs the retrain action.
ACTION_USES = re.compile(r"^[A-Za-z0-9_.-]+/retrain(?:/[^@]*)?@\S+$")
WIRE_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*\$\{\{\s*(?:github\.event\.)?inputs\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}\s*$")
WIRE_FORMAT = re.compile(r"format\(\s*'([A-Za-z_][A-Za-z0-9_.-]*)=\{0\}'\s*,\s*(?:github\.event\.)?inputs\.([A-Za-z_][A-Za-z0-9_-]*)\s*\)")
INPUT_REF = re.compile(r"(?:github\.event\.)?inputs\.([A-Za-z_][A-Za-z0-9_-]*)")
MAX_INPUTS = 25  # GitHub's limit for one workflow_dispatch form
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# -- the form a pipeline asks for -------------------------------------------------------------------


@dataclass(frozen=True)
class FormInput:
    """One input of the dispatch form, as it is written under ``workflow_dispatch: inputs:``."""

    name: str
    type: str  # boolean, number, choice or string
    description: str
    default: Literal | None = None
    options: tuple[str, ...] = ()


def form_type(port: Port) -> str:
    """The dispatch input type for a pipeline parameter."""
    if port.type is InputType.BOOLEAN:
        return "boolean"
    if port.type in (InputType.INTEGER, InputType.NUMBER):
        return "number"
    if port.enum:
        return "choice"
    return "string"


def repo_path(value: str, repo_root: Path) -> str | None:
    """A data default (absolute after loading) as the repository names it; None when outside it."""
    if is_uri(value):
        return value
    try:
        return Path(value).resolve().relative_to(repo_root.resolve()).as_posix()
    except ValueError:
        return None


def form_inputs(pipelines: Iterable[Pipeline], repo_root: Path,
                values: Mapping[str, Literal] | None = None) -> tuple[FormInput, ...]:
    """One input per parameter of the pipelines (the first pipeline that declares a name types it).

    A field's default is ``values[name]`` (the parameter file's value, what an untouched form runs with)
    when given, else the pipeline's default.
    """
    out: dict[str, FormInput] = {}
    for pipeline in pipelines:
        for name, port in pipeline.parameters.items():
            if name in out:
                continue
            kind = form_type(port)
            default: Literal | None = (values or {}).get(name, port.default)
            if port.type.is_data and isinstance(default, str):
                default = repo_path(default, repo_root)
            if kind == "choice" and default is not None and str(default) not in (port.enum or ()):
                default = None
            if kind == "choice" and default is not None:
                default = str(default)
            out[name] = FormInput(name, kind, _description(port), default,
                                  tuple(port.enum or ()) if kind == "choice" else ())
    return tuple(out.values())


def _description(port: Port) -> str:
    """The pipeline's description, else the name in words; with the range when the pipeline sets one."""
    text = " ".join(port.description.split()) or port.name.replace("_", " ")
    if port.type in (InputType.INTEGER, InputType.NUMBER) and (port.min is not None or port.max is not None):
        def show(v: float) -> str:
            return str(int(v)) if float(v).is_integer() else repr(v)
        bounds = " to ".join(show(v) for v in (port.min, port.max) if v is not None)
        which = "from " if port.max is None else "up to " if port.min is None else ""
        text += f" ({which}{bounds})"
    return text


def fit_form(inputs: Sequence[FormInput]) -> tuple[tuple[FormInput, ...], tuple[str, ...]]:
    """The inputs that fit on one form, and the names left out (they keep the parameter file's values)."""
    return tuple(inputs[:MAX_INPUTS]), tuple(i.name for i in inputs[MAX_INPUTS:])


def _scalar(value: Literal) -> str:
    """A YAML scalar every parser reads the same way (YAML 1.1 or 1.2): strings always quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return json.dumps(str(value))
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"  # YAML 1.1 wants a dot in a float
        return text
    return json.dumps(str(value), ensure_ascii=False)


def render_inputs(inputs: Sequence[FormInput], indent: int, step: int = 2) -> list[str]:
    """The lines of the mapping under ``inputs:``, each key at column ``indent``."""
    pad, inner = " " * indent, " " * (indent + step)
    lines: list[str] = []
    for item in inputs:
        lines.append(f"{pad}{item.name}:")
        lines.append(f"{inner}description: {_scalar(item.description)}")
        lines.append(f"{inner}type: {item.type}")
        if item.default is not None:
            lines.append(f"{inner}default: {_scalar(item.default)}")
        if item.options:
            lines.append(f"{inner}options:")
            lines += [f"{inner}{' ' * step}- {_scalar(o)}" for o in item.options]
    return lines


def wire_line(name: str) -> str:
    return f"{name}=${{{{ inputs.{name} }}}}"


# -- what a workflow file holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchInput:
    name: str
    type: str  # as written; GitHub's default is string
    options: tuple[str, ...]
    location: Location  # the input's key
    type_location: Location  # its type: value, else the key


@dataclass(frozen=True)
class ActionStep:
    """A step that runs the retrain action, and what its ``with:`` does with the form."""

    location: Location
    parameter_file: str
    pipeline: str | None  # a literal pipeline: input; None for every pipeline (or an expression)
    wired: Mapping[str, str]  # parameter name -> the dispatch input it takes its value from
    wired_location: Location  # the parameters: key (or the step)
    other_refs: frozenset[str]  # inputs used by other with: keys (version, pipeline, ...): not parameters


@dataclass(frozen=True)
class WorkflowForm:
    path: Path
    display: str
    has_dispatch: bool
    inputs: tuple[DispatchInput, ...]
    form_location: Location  # inputs: (or workflow_dispatch:, or on:) for "no input" warnings
    steps: tuple[ActionStep, ...]
    other_refs: frozenset[str] = frozenset()  # inputs the file uses outside the retrain steps' parameters


def _loc(display: str, mark: yaml.Mark) -> Location:
    return Location(display, mark.line + 1, mark.column + 1)


def _compose(text: str, display: str) -> yaml.Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = _loc(display, mark) if mark else Location(display, 1, 1)
        raise InvalidFile([Problem(f"YAML syntax error: {(e.problem or e.context or 'not valid YAML').strip()}.", loc)],
                          what=f"workflow {display}") from None
    finally:
        loader.dispose()


def _get(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for knode, vnode in node.value:
        if isinstance(knode, yaml.ScalarNode) and knode.value == key:
            return knode, vnode
    return None


def _text(node: yaml.Node | None) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def read_form(path: Path, display: str) -> WorkflowForm | None:
    """The dispatch form and the retrain steps of a workflow; None when no step uses the action."""
    text = path.read_text(encoding="utf-8")
    root = _compose(text, display)
    if root is None:
        return None
    steps = tuple(_action_steps(root, display))
    if not steps:
        return None
    on = _get(root, "on")
    has_dispatch, inputs, form_loc = False, [], _loc(display, root.start_mark)
    if on is not None:
        form_loc = _loc(display, on[0].start_mark)
        on_value = on[1]
        if isinstance(on_value, yaml.ScalarNode):
            has_dispatch = on_value.value == "workflow_dispatch"
        elif isinstance(on_value, yaml.SequenceNode):
            has_dispatch = any(_text(n) == "workflow_dispatch" for n in on_value.value)
        wd = _get(on_value, "workflow_dispatch")
        if wd is not None:
            has_dispatch = True
            form_loc = _loc(display, wd[0].start_mark)
            found = _get(wd[1], "inputs")
            if found is not None:
                form_loc = _loc(display, found[0].start_mark)
                if isinstance(found[1], yaml.MappingNode):
                    for knode, vnode in found[1].value:
                        typ = _get(vnode, "type")
                        opts = _get(vnode, "options")
                        options = tuple(str(n.value) for n in opts[1].value if isinstance(n, yaml.ScalarNode)) \
                            if opts and isinstance(opts[1], yaml.SequenceNode) else ()
                        inputs.append(DispatchInput(
                            str(knode.value), (_text(typ[1]) or "string") if typ else "string", options,
                            _loc(display, knode.start_mark), _loc(display, typ[1].start_mark) if typ else _loc(display, knode.start_mark)))
    return WorkflowForm(path, display, has_dispatch, tuple(inputs), form_loc, steps, _refs_outside(text, root))


def _parameters_spans(root: yaml.Node) -> list[tuple[int, int]]:
    """0-based line ranges [start, end) of the retrain steps' ``parameters:`` entries."""
    spans = []
    for step in _step_nodes(root):
        with_ = _get(step, "with")
        found = _get(with_[1], "parameters") if with_ is not None else None
        if found is not None:
            spans.append((found[0].start_mark.line, _last_line(found[1], found[0]) + 1))
    return spans


def _refs_outside(text: str, root: yaml.Node) -> frozenset[str]:
    """Inputs the workflow reads anywhere but in the retrain steps' parameters (a version: field, a run: step)."""
    spans = _parameters_spans(root)
    refs: set[str] = set()
    for i, line in enumerate(text.splitlines()):
        if not any(a <= i < b for a, b in spans):
            refs.update(INPUT_REF.findall(line))
    return frozenset(refs)


def _step_nodes(root: yaml.Node) -> Iterable[yaml.MappingNode]:
    jobs = _get(root, "jobs")
    if jobs is None or not isinstance(jobs[1], yaml.MappingNode):
        return
    for _, job in jobs[1].value:
        steps = _get(job, "steps")
        if steps is None or not isinstance(steps[1], yaml.SequenceNode):
            continue
        for step in steps[1].value:
            uses = _get(step, "uses")
            if uses is not None and ACTION_USES.match(_text(uses[1]) or ""):
                yield step  # type: ignore[misc]


def _action_steps(root: yaml.Node, display: str) -> Iterable[ActionStep]:
    for step in _step_nodes(root):
        with_ = _get(step, "with")
        values: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        if with_ is not None and isinstance(with_[1], yaml.MappingNode):
            values = {str(k.value): (k, v) for k, v in with_[1].value if isinstance(k, yaml.ScalarNode)}
        wired: dict[str, str] = {}
        wired_loc = _loc(display, step.start_mark)
        if "parameters" in values:
            knode, vnode = values["parameters"]
            wired_loc = _loc(display, knode.start_mark)
            for line in (_text(vnode) or "").splitlines():
                m = WIRE_LINE.match(line)
                if m:
                    wired[m.group(1)] = m.group(2)
                for m in WIRE_FORMAT.finditer(line):
                    wired[m.group(1)] = m.group(2)
        other: set[str] = set()
        for key, (_, vnode) in values.items():
            if key != "parameters":
                other.update(INPUT_REF.findall(_text(vnode) or ""))
        pipeline = _text(values["pipeline"][1]) if "pipeline" in values else None
        yield ActionStep(
            location=_loc(display, step.start_mark),
            parameter_file=(_text(values["parameter-file"][1]) if "parameter-file" in values else None) or "retrain.yml",
            pipeline=pipeline if pipeline and "${{" not in pipeline else None,
            wired=wired, wired_location=wired_loc, other_refs=frozenset(other),
        )


def workflow_files(repo_root: Path) -> list[Path]:
    folder = repo_root / ".github" / "workflows"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())


def steps_for(form: WorkflowForm, repo_root: Path, config_path: Path) -> list[ActionStep]:
    """The workflow's retrain steps that read this parameter file."""
    out = []
    for step in form.steps:
        if "${{" in step.parameter_file or (repo_root / step.parameter_file).resolve() == config_path.resolve():
            out.append(step)
    return out


# -- the check --------------------------------------------------------------------------------------

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


def _types_agree(port: Port, written: str, options: tuple[str, ...]) -> bool:
    want = form_type(port)
    if want == written:
        return True
    # A free-text field for a parameter with fixed values, or a choice for free text, still fits.
    return {want, written} == {"choice", "string"}


def check_form(form: WorkflowForm, steps: Sequence[ActionStep], pipelines: Mapping[str, Pipeline]) -> list[Problem]:
    """Warnings where the form and the pipelines disagree, at the workflow's lines."""
    if not form.has_dispatch or not pipelines:
        return []
    problems: list[Problem] = []
    by_name = {i.name: i for i in form.inputs}
    for step in steps:
        declared = _declared(pipelines, step)
        which = _names(pipelines, step)
        wired_inputs = {inp: param for param, inp in step.wired.items()}
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
        for pname, (owner, _port) in declared.items():
            if pname not in covered:
                problems.append(Problem(
                    f"parameter '{pname}' of pipeline '{owner}' has no input on the dispatch form "
                    "(fine if it is not meant to be set by hand).", form.form_location, hint=HINT))
    # One warning per place and message, even with several steps.
    seen: dict[tuple[object, str], Problem] = {}
    for p in problems:
        seen.setdefault((p.location, p.message), p)
    return list(seen.values())


# -- the line-precise rewrite -----------------------------------------------------------------------


def _last_line(node: yaml.Node, key: yaml.Node | None = None) -> int:
    """0-based index of the last line that belongs to ``node`` (its trailing comments do not)."""
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        k, v = node.value[-1]
        return _last_line(v, k)
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1])
    if isinstance(node, yaml.ScalarNode):
        if node.value == "" and not node.style and key is not None:
            return key.end_mark.line  # an empty value: its mark may point at the next token
        if node.style in ("|", ">"):
            end = node.end_mark
            return end.line - 1 if end.column == 0 else end.line
    return node.end_mark.line


@dataclass(frozen=True)
class _Edit:
    start: int  # first line replaced (0-based)
    end: int  # one past the last line replaced; start == end inserts
    lines: tuple[str, ...]


@dataclass(frozen=True)
class UpdateResult:
    text: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    retyped: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.retyped)


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" "))]


def _step_width(mapping: yaml.MappingNode, default: int = 2) -> int:
    """The indentation step the file uses, read from the first nested block mapping."""
    for k, v in mapping.value:
        if isinstance(v, yaml.MappingNode) and v.value and not v.flow_style:
            width = v.value[0][0].start_mark.column - k.start_mark.column
            if width > 0:
                return width
    return default


def update_form(text: str, display: str, inputs: Sequence[FormInput], *, config_path: Path, repo_root: Path) -> UpdateResult:
    """Rewrite the form's inputs and the retrain steps' wiring; every other line stays as it was."""
    root = _compose(text, display)
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    on = _get(root, "on")
    wd = _get(on[1], "workflow_dispatch") if on is not None else None
    if wd is None or (isinstance(on[1], yaml.MappingNode) and on[1].flow_style):  # type: ignore[index]
        raise UsageError(f"{display} has no `workflow_dispatch:` key under a block `on:` mapping, so there is no form "
                         "to update. Add `workflow_dispatch:` under `on:` and run `retrain init --update` again.")
    wd_key, wd_value = wd
    step_w = _step_width(on[1]) if isinstance(on[1], yaml.MappingNode) else 2  # type: ignore[index]
    edits: list[_Edit] = []
    old: dict[str, str] = {}

    found = _get(wd_value, "inputs")
    if found is not None and isinstance(found[1], yaml.MappingNode):
        for knode, vnode in found[1].value:
            typ = _get(vnode, "type")
            old[str(knode.value)] = (_text(typ[1]) or "string") if typ else "string"
    if found is not None and isinstance(found[1], yaml.MappingNode) and found[1].value and not found[1].flow_style:
        first = found[1].value[0][0]
        indent = first.start_mark.column
        width = _step_width(found[1], step_w)
        # Inputs that feed something else (version:, a run: step) are the user's: they stay as written.
        used = _refs_outside(text, root) - {i.name for i in inputs}  # type: ignore[arg-type]
        items = found[1].value
        keep: list[str] = []
        for n, (knode, vnode) in enumerate(items):
            if str(knode.value) in used:
                end = items[n + 1][0].start_mark.line if n + 1 < len(items) else _last_line(vnode, knode) + 1
                keep += [ln.rstrip("\r\n") for ln in lines[knode.start_mark.line:end]]
                old.pop(str(knode.value), None)
        edits.append(_Edit(first.start_mark.line, _last_line(found[1]) + 1,
                           (*render_inputs(inputs, indent, width), *keep)))
    elif found is not None:  # inputs: {} or an empty inputs:
        key = found[0]
        if not _indent_of(lines[key.start_mark.line]) == lines[key.start_mark.line][: key.start_mark.column]:
            raise UsageError(f"{display}:{key.start_mark.line + 1}: write the form's inputs in block style to update them.")
        col = key.start_mark.column
        edits.append(_Edit(key.start_mark.line, _last_line(found[1], key) + 1,
                           (f"{' ' * col}inputs:", *render_inputs(inputs, col + step_w, step_w))))
    elif isinstance(wd_value, yaml.MappingNode) and wd_value.value and not wd_value.flow_style:
        col = wd_value.value[0][0].start_mark.column
        edits.append(_Edit(_last_line(wd_value) + 1, _last_line(wd_value) + 1,
                           (f"{' ' * col}inputs:", *render_inputs(inputs, col + step_w, step_w))))
    elif isinstance(wd_value, yaml.ScalarNode) and wd_value.value == "" and not wd_value.style:
        # `workflow_dispatch:` with nothing after it: the line (and a comment on it) stays, the form goes below.
        col = wd_key.start_mark.column
        at = wd_key.start_mark.line + 1
        edits.append(_Edit(at, at, (f"{' ' * (col + step_w)}inputs:", *render_inputs(inputs, col + 2 * step_w, step_w))))
    else:  # workflow_dispatch: ~ or {}
        line = lines[wd_key.start_mark.line]
        prefix = line[: wd_key.start_mark.column]
        if prefix.strip():
            raise UsageError(f"{display}:{wd_key.start_mark.line + 1}: write `on:` in block style to update the form.")
        col = wd_key.start_mark.column
        edits.append(_Edit(wd_key.start_mark.line, _last_line(wd_value, wd_key) + 1,
                           (f"{prefix}workflow_dispatch:", f"{' ' * (col + step_w)}inputs:",
                            *render_inputs(inputs, col + 2 * step_w, step_w))))

    for step in _step_nodes(root):  # type: ignore[arg-type]
        edits.extend(_wiring_edits(step, lines, display, inputs, config_path, repo_root))

    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        lines[edit.start:edit.end] = [line + newline for line in edit.lines]
    new_text = "".join(lines)
    _compose(new_text, display)  # the result must still be YAML; a failure here is a bug, not the user's
    names = [i.name for i in inputs]
    types = {i.name: i.type for i in inputs}
    return UpdateResult(
        new_text,
        added=tuple(n for n in names if n not in old),
        removed=tuple(n for n in old if n not in types),
        retyped=tuple(n for n in names if n in old and old[n] != types[n]),
    )


def _wiring_edits(step: yaml.MappingNode, lines: list[str], display: str, inputs: Sequence[FormInput],
                  config_path: Path, repo_root: Path) -> list[_Edit]:
    with_ = _get(step, "with")
    pf = _get(with_[1], "parameter-file") if with_ is not None else None
    pf_text = (_text(pf[1]) if pf else None) or "retrain.yml"
    if "${{" not in pf_text and (repo_root / pf_text).resolve() != config_path.resolve():
        return []  # a step for another parameter file
    wires = [wire_line(i.name) for i in inputs]
    if with_ is not None and isinstance(with_[1], yaml.MappingNode) and not with_[1].flow_style and with_[1].value:
        found = _get(with_[1], "parameters")
        if found is not None:
            key, value = found
            line = lines[key.start_mark.line]
            if line[: key.start_mark.column].strip():
                raise UsageError(f"{display}:{key.start_mark.line + 1}: write the step's with: in block style to update it.")
            col = key.start_mark.column
            # Lines that do not come from the form (constants someone added) stay, in their order.
            kept = [ln.strip() for ln in (_text(value) or "").splitlines()
                    if ln.strip() and not INPUT_REF.search(ln)]
            body = kept + wires
            if not body:
                return [_Edit(key.start_mark.line, _last_line(value, key) + 1, (f"{' ' * col}parameters: \"\"",))]
            return [_Edit(key.start_mark.line, _last_line(value, key) + 1,
                          (f"{' ' * col}parameters: |", *(f"{' ' * (col + 2)}{b}" for b in body)))]
        if not wires:
            return []
        col = with_[1].value[0][0].start_mark.column
        at = _last_line(with_[1]) + 1
        return [_Edit(at, at, (f"{' ' * col}parameters: |", *(f"{' ' * (col + 2)}{w}" for w in wires)))]
    if with_ is not None or not wires:
        if wires:
            raise UsageError(f"{display}:{with_[0].start_mark.line + 1}: write the step's with: in block style to update it.")  # type: ignore[index]
        return []
    col = step.value[0][0].start_mark.column
    at = _last_line(step) + 1
    return [_Edit(at, at, (f"{' ' * col}with:", f"{' ' * (col + 2)}parameters: |",
                           *(f"{' ' * (col + 4)}{w}" for w in wires)))]


# -- every workflow of a repository -------------------------------------------------------------------


def _display(path: Path, display_root: Path | None) -> str:
    base = (display_root or Path.cwd()).resolve()
    try:
        return str(path.resolve().relative_to(base))
    except ValueError:
        return str(path)


def check_workflows(config_path: Path, pipelines: Mapping[str, Pipeline], repo_root: Path,
                    *, display_root: Path | None = None) -> list[Problem]:
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
            problems.extend(check_form(form, steps, pipelines))
    return problems
