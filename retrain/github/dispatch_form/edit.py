"""``retrain init --update``: rewrite a workflow's dispatch form from the pipeline, line by line.

Only the lines of the ``inputs:`` block under ``workflow_dispatch`` and of the retrain steps' ``parameters``
are replaced, found through the positions ``yaml.compose`` gives every node. Every other byte of the file
(comments, quoting, order, line endings, other steps) stays as it was; re-dumping the YAML would lose them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ...errors import UsageError
from .drift import same_default, shown_default
from .fields import FormInput, render_inputs, wire_line
from .nodes import INPUT_REF, action_step_nodes, child, compose, last_line, node_value, refs_outside, scalar_text


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
    changes: tuple[str, ...] = ()  # one line per field that changed, saying how


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
    root = compose(text, display)
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    on = child(root, "on")
    wd = child(on[1], "workflow_dispatch") if on is not None else None
    if wd is None or (isinstance(on[1], yaml.MappingNode) and on[1].flow_style):  # type: ignore[index]
        raise UsageError(f"{display} has no `workflow_dispatch:` key under a block `on:` mapping, so there is no form "
                         "to update. Add `workflow_dispatch:` under `on:` and run `retrain init --update` again.")
    wd_key, wd_value = wd
    step_w = _step_width(on[1]) if isinstance(on[1], yaml.MappingNode) else 2  # type: ignore[index]
    edits: list[_Edit] = []
    old: dict[str, str] = {}
    old_defaults: dict[str, object] = {}

    found = child(wd_value, "inputs")
    if found is not None and isinstance(found[1], yaml.MappingNode):
        for knode, vnode in found[1].value:
            typ = child(vnode, "type")
            old[str(knode.value)] = (scalar_text(typ[1]) or "string") if typ else "string"
            dflt = child(vnode, "default")
            old_defaults[str(knode.value)] = node_value(dflt[1]) if dflt else None
    if found is not None and isinstance(found[1], yaml.MappingNode) and found[1].value and not found[1].flow_style:
        first = found[1].value[0][0]
        indent = first.start_mark.column
        width = _step_width(found[1], step_w)
        # Inputs that feed something else (version:, a run: step) are the user's: they stay as written.
        used = refs_outside(text, root) - {i.name for i in inputs}  # type: ignore[arg-type]
        items = found[1].value
        keep: list[str] = []
        for n, (knode, vnode) in enumerate(items):
            if str(knode.value) in used:
                end = items[n + 1][0].start_mark.line if n + 1 < len(items) else last_line(vnode, knode, lines=lines) + 1
                keep += [ln.rstrip("\r\n") for ln in lines[knode.start_mark.line:end]]
                old.pop(str(knode.value), None)
        edits.append(_Edit(first.start_mark.line, last_line(found[1], None, lines=lines) + 1,
                           (*render_inputs(inputs, indent, width), *keep)))
    elif found is not None:  # inputs: {} or an empty inputs:
        key = found[0]
        if not _indent_of(lines[key.start_mark.line]) == lines[key.start_mark.line][: key.start_mark.column]:
            raise UsageError(f"{display}:{key.start_mark.line + 1}: write the form's inputs in block style to update them.")
        col = key.start_mark.column
        edits.append(_Edit(key.start_mark.line, last_line(found[1], key, lines=lines) + 1,
                           (f"{' ' * col}inputs:", *render_inputs(inputs, col + step_w, step_w))))
    elif isinstance(wd_value, yaml.MappingNode) and wd_value.value and not wd_value.flow_style:
        col = wd_value.value[0][0].start_mark.column
        edits.append(_Edit(last_line(wd_value, None, lines=lines) + 1, last_line(wd_value, None, lines=lines) + 1,
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
        edits.append(_Edit(wd_key.start_mark.line, last_line(wd_value, wd_key, lines=lines) + 1,
                           (f"{prefix}workflow_dispatch:", f"{' ' * (col + step_w)}inputs:",
                            *render_inputs(inputs, col + 2 * step_w, step_w))))

    for step in action_step_nodes(root):  # type: ignore[arg-type]
        edits.extend(_wiring_edits(step, lines, display, inputs, config_path, repo_root))

    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        lines[edit.start:edit.end] = [line + newline for line in edit.lines]
    new_text = "".join(lines)
    compose(new_text, display)  # the result must still be YAML; a failure here is a bug, not the user's
    names = [i.name for i in inputs]
    types = {i.name: i.type for i in inputs}
    changes: list[str] = []
    for item in inputs:
        if item.name not in old:
            changes.append(f"{item.name}: added ({item.type}, default {shown_default(item.default)})")
            continue
        if old[item.name] != item.type:
            changes.append(f"{item.name}: type {old[item.name]} -> {item.type}")
        before = old_defaults.get(item.name)
        if not (before is None and item.default is None) and (before is None or item.default is None or
                                                                not same_default(item.type, item.default, before)):
            changes.append(f"{item.name}: default {shown_default(before)} -> {shown_default(item.default)}")
    changes += [f"{n}: removed (no pipeline parameter of that name)" for n in old if n not in types]
    return UpdateResult(
        new_text,
        added=tuple(n for n in names if n not in old),
        removed=tuple(n for n in old if n not in types),
        retyped=tuple(n for n in names if n in old and old[n] != types[n]),
        changes=tuple(changes),
    )


def _wiring_edits(step: yaml.MappingNode, lines: list[str], display: str, inputs: Sequence[FormInput],
                  config_path: Path, repo_root: Path) -> list[_Edit]:
    with_ = child(step, "with")
    pf = child(with_[1], "parameter-file") if with_ is not None else None
    pf_text = (scalar_text(pf[1]) if pf else None) or "retrain.yml"
    if "${{" not in pf_text and (repo_root / pf_text).resolve() != config_path.resolve():
        return []  # a step for another parameter file
    wires = [wire_line(i.name) for i in inputs]
    if with_ is not None and isinstance(with_[1], yaml.MappingNode) and not with_[1].flow_style and with_[1].value:
        found = child(with_[1], "parameters")
        if found is not None:
            key, value = found
            line = lines[key.start_mark.line]
            if line[: key.start_mark.column].strip():
                raise UsageError(f"{display}:{key.start_mark.line + 1}: write the step's with: in block style to update it.")
            col = key.start_mark.column
            # Lines that do not come from the form (constants someone added) stay, in their order.
            kept = [ln.strip() for ln in (scalar_text(value) or "").splitlines()
                    if ln.strip() and not INPUT_REF.search(ln)]
            body = kept + wires
            if not body:
                return [_Edit(key.start_mark.line, last_line(value, key, lines=lines) + 1, (f"{' ' * col}parameters: \"\"",))]
            return [_Edit(key.start_mark.line, last_line(value, key, lines=lines) + 1,
                          (f"{' ' * col}parameters: |", *(f"{' ' * (col + 2)}{b}" for b in body)))]
        if not wires:
            return []
        col = with_[1].value[0][0].start_mark.column
        at = last_line(with_[1], None, lines=lines) + 1
        return [_Edit(at, at, (f"{' ' * col}parameters: |", *(f"{' ' * (col + 2)}{w}" for w in wires)))]
    if with_ is not None or not wires:
        if wires:
            raise UsageError(f"{display}:{with_[0].start_mark.line + 1}: write the step's with: in block style to update it.")  # type: ignore[index]
        return []
    col = step.value[0][0].start_mark.column
    at = last_line(step, None, lines=lines) + 1
    return [_Edit(at, at, (f"{' ' * col}with:", f"{' ' * (col + 2)}parameters: |",
                           *(f"{' ' * (col + 4)}{w}" for w in wires)))]
