"""A workflow file's YAML read into its dispatch form and its retrain steps, every node with its line.

Read with ``yaml.compose`` rather than loaded, so each input keeps the line a warning points at (``drift``) and the
lines a rewrite replaces (``edit``). Only imported when a workflow is read anew (``workflow.read_form`` remembers
what a file's bytes made).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from ...errors import InvalidFile, Location, Problem
from .records import ActionStep, DispatchInput, WorkflowForm

# owner/retrain@ref (also owner/retrain/sub/folder@ref): a step that runs the retrain action.
ACTION_USES = re.compile(r"^[A-Za-z0-9_.-]+/retrain(?:/[^@]*)?@\S+$")
WIRE_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*\$\{\{\s*(?:github\.event\.)?inputs\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}\s*$")
WIRE_FORMAT = re.compile(r"format\(\s*'([A-Za-z_][A-Za-z0-9_.-]*)=\{0\}'\s*,\s*(?:github\.event\.)?inputs\.([A-Za-z_][A-Za-z0-9_-]*)\s*\)")
INPUT_REF = re.compile(r"(?:github\.event\.)?inputs\.([A-Za-z_][A-Za-z0-9_-]*)")
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def form_of(text: str, path: Path, display: str) -> WorkflowForm | None:
    """The dispatch form and the retrain steps of a workflow's text; None when no step uses the action."""
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
