"""What a workflow file holds for retrain: its dispatch form and the steps that run the retrain action, with the
lines a warning points at. Read by ``nodes`` (from the YAML) or recalled by ``workflow`` (remembered by the bytes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ...errors import Location


@dataclass(frozen=True)
class DispatchInput:
    """One input of a workflow_dispatch form, with the lines a warning points at."""

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
    """A workflow file's dispatch form and the steps that run the retrain action."""

    path: Path
    display: str
    has_dispatch: bool
    inputs: tuple[DispatchInput, ...]
    form_location: Location  # inputs: (or workflow_dispatch:, or on:) for "no input" warnings
    steps: tuple[ActionStep, ...]
    other_refs: frozenset[str] = frozenset()  # inputs the file uses outside the retrain steps' parameters
