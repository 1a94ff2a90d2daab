"""The ``workflow_dispatch`` form of a workflow that uses the retrain action, kept in step with the pipeline.

Two jobs: the form a pipeline asks for (one input per parameter, typed from the pipeline), and what a
workflow file's form holds (read with ``yaml.compose`` so every input keeps its line) checked against the
pipelines, as warnings at the workflow's lines. The rewrite (``init --update``) is in ``form_edit``.

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

from ..errors import InvalidFile, Location, Problem
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
            options = tuple(port.enum or ()) if kind == "choice" else ()
            if any(EXPRESSION in o for o in options):
                # GitHub reads ${{ in a workflow as an expression, and an option cannot be escaped without changing
                # the value the form sends: a text field instead, empty, so the parameter file's value runs.
                kind, options, default = "string", (), None
            if isinstance(default, str) and EXPRESSION in default:
                default = None  # the same: an empty field keeps the parameter file's value
            out[name] = FormInput(name, kind, _description(port), default, options)
    return tuple(out.values())


EXPRESSION = "${{"


def expression_safe(text: str) -> str:
    """Text copied into a workflow where GitHub does not evaluate expressions (a description): ``${{`` would
    be read as one and break the workflow, so it is written ``$ {{``."""
    return text.replace(EXPRESSION, "$ {{")


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
        lines.append(f"{inner}description: {_scalar(expression_safe(item.description))}")
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
    default: object = None  # its default as YAML reads it; None when it has none
    default_location: Location | None = None  # its default: value, else None


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


def compose(text: str, display: str) -> yaml.Node | None:
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


def child(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for knode, vnode in node.value:
        if isinstance(knode, yaml.ScalarNode) and knode.value == key:
            return knode, vnode
    return None


def scalar_text(node: yaml.Node | None) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def read_form(path: Path, display: str) -> WorkflowForm | None:
    """The dispatch form and the retrain steps of a workflow; None when no step uses the action."""
    text = path.read_text(encoding="utf-8")
    root = compose(text, display)
    if root is None:
        return None
    steps = tuple(_action_steps(root, display))
    if not steps:
        return None
    on = child(root, "on")
    has_dispatch, inputs, form_loc = False, [], _loc(display, root.start_mark)
    if on is not None:
        form_loc = _loc(display, on[0].start_mark)
        on_value = on[1]
        if isinstance(on_value, yaml.ScalarNode):
            has_dispatch = on_value.value == "workflow_dispatch"
        elif isinstance(on_value, yaml.SequenceNode):
            has_dispatch = any(scalar_text(n) == "workflow_dispatch" for n in on_value.value)
        wd = child(on_value, "workflow_dispatch")
        if wd is not None:
            has_dispatch = True
            form_loc = _loc(display, wd[0].start_mark)
            found = child(wd[1], "inputs")
            if found is not None:
                form_loc = _loc(display, found[0].start_mark)
                if isinstance(found[1], yaml.MappingNode):
                    for knode, vnode in found[1].value:
                        typ = child(vnode, "type")
                        opts = child(vnode, "options")
                        options = tuple(str(n.value) for n in opts[1].value if isinstance(n, yaml.ScalarNode)) \
                            if opts and isinstance(opts[1], yaml.SequenceNode) else ()
                        dflt = child(vnode, "default")
                        inputs.append(DispatchInput(
                            str(knode.value), (scalar_text(typ[1]) or "string") if typ else "string", options,
                            _loc(display, knode.start_mark), _loc(display, typ[1].start_mark) if typ else _loc(display, knode.start_mark),
                            default=node_value(dflt[1]) if dflt else None,
                            default_location=_loc(display, dflt[1].start_mark) if dflt else None))
    return WorkflowForm(path, display, has_dispatch, tuple(inputs), form_loc, steps, refs_outside(text, root))


def node_value(node: yaml.Node) -> object:
    """A scalar node's value as YAML reads it (``0.2`` a float, ``"0.2"`` a string); None for anything else."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    try:
        return yaml.load(yaml.serialize(node), Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return node.value


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


def last_line(node: yaml.Node, key: yaml.Node | None = None, lines: Sequence[str] = ()) -> int:
    """0-based index of the last line that belongs to ``node`` (trailing comments and blank lines do not)."""
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        k, v = node.value[-1]
        return last_line(v, k, lines)
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return last_line(node.value[-1], None, lines)
    if isinstance(node, yaml.ScalarNode):
        if node.value == "" and not node.style and key is not None:
            return key.end_mark.line  # an empty value: its mark may point at the next token
        if node.style in ("|", ">"):
            # A block scalar ends where the next token starts, past the blank lines that follow it.
            end = node.end_mark
            last = end.line - 1 if end.column == 0 else end.line
            while lines and last > node.start_mark.line and last < len(lines) and not lines[last].strip():
                last -= 1
            return last
    return node.end_mark.line


def _parameters_spans(root: yaml.Node) -> list[tuple[int, int]]:
    """0-based line ranges [start, end) of the retrain steps' ``parameters:`` entries."""
    spans = []
    for step in action_step_nodes(root):
        with_ = child(step, "with")
        found = child(with_[1], "parameters") if with_ is not None else None
        if found is not None:
            spans.append((found[0].start_mark.line, last_line(found[1], found[0]) + 1))
    return spans


def refs_outside(text: str, root: yaml.Node) -> frozenset[str]:
    """Inputs the workflow reads anywhere but in the retrain steps' parameters (a version: field, a run: step)."""
    spans = _parameters_spans(root)
    refs: set[str] = set()
    for i, line in enumerate(text.splitlines()):
        if not any(a <= i < b for a, b in spans):
            refs.update(INPUT_REF.findall(line))
    return frozenset(refs)


def action_step_nodes(root: yaml.Node) -> Iterable[yaml.MappingNode]:
    jobs = child(root, "jobs")
    if jobs is None or not isinstance(jobs[1], yaml.MappingNode):
        return
    for _, job in jobs[1].value:
        steps = child(job, "steps")
        if steps is None or not isinstance(steps[1], yaml.SequenceNode):
            continue
        for step in steps[1].value:
            uses = child(step, "uses")
            if uses is not None and ACTION_USES.match(scalar_text(uses[1]) or ""):
                yield step  # type: ignore[misc]


def _action_steps(root: yaml.Node, display: str) -> Iterable[ActionStep]:
    for step in action_step_nodes(root):
        with_ = child(step, "with")
        values: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        if with_ is not None and isinstance(with_[1], yaml.MappingNode):
            values = {str(k.value): (k, v) for k, v in with_[1].value if isinstance(k, yaml.ScalarNode)}
        wired: dict[str, str] = {}
        wired_loc = _loc(display, step.start_mark)
        if "parameters" in values:
            knode, vnode = values["parameters"]
            wired_loc = _loc(display, knode.start_mark)
            for line in (scalar_text(vnode) or "").splitlines():
                m = WIRE_LINE.match(line)
                if m:
                    wired[m.group(1)] = m.group(2)
                for m in WIRE_FORMAT.finditer(line):
                    wired[m.group(1)] = m.group(2)
        other: set[str] = set()
        for key, (_, vnode) in values.items():
            if key != "parameters":
                other.update(INPUT_REF.findall(scalar_text(vnode) or ""))
        pipeline = scalar_text(values["pipeline"][1]) if "pipeline" in values else None
        yield ActionStep(
            location=_loc(display, step.start_mark),
            parameter_file=(scalar_text(values["parameter-file"][1]) if "parameter-file" in values else None) or "retrain.yml",
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
