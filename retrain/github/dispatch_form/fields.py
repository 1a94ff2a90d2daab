"""The dispatch form a pipeline asks for: one input per parameter, typed from the pipeline, and its YAML lines."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...pipeline.model import InputType, Literal, Pipeline, Port
from ...pipeline.types import is_uri

MAX_INPUTS = 25  # GitHub's limit for one workflow_dispatch form


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


def yaml_scalar(value: Literal) -> str:
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
        lines.append(f"{inner}description: {yaml_scalar(expression_safe(item.description))}")
        lines.append(f"{inner}type: {item.type}")
        if item.default is not None:
            lines.append(f"{inner}default: {yaml_scalar(item.default)}")
        if item.options:
            lines.append(f"{inner}options:")
            lines += [f"{inner}{' ' * step}- {yaml_scalar(o)}" for o in item.options]
    return lines


def wire_line(name: str) -> str:
    return f"{name}=${{{{ inputs.{name} }}}}"
