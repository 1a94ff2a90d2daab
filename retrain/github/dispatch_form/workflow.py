"""A repository's workflows and what each holds for retrain (``records``), read from the YAML by ``nodes`` or
recalled: a workflow's form is remembered by the file's bytes, as a parsed parameter file is (``yamlfile``), so a
``retrain validate`` whose workflows are unchanged does not import PyYAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import Location
from ...yamlfile import REMEMBERED
from .records import ActionStep, DispatchInput, WorkflowForm

# Bump when what ``nodes.form_of`` makes of a text changes: entries of another format are never read.
_FORMAT = b"retrain-form-1"


def read_form(path: Path, display: str) -> WorkflowForm | None:
    """The dispatch form and the retrain steps of a workflow; None when no step uses the action.

    A file that is not UTF-8 raises UnicodeDecodeError, one that is not YAML :class:`InvalidFile` (never remembered)."""
    data = path.read_bytes()
    key = REMEMBERED.key(data, _FORMAT)
    plain = REMEMBERED.recall(key)
    if plain is not None:
        try:
            return _form(plain, path, display)
        except (ValueError, TypeError, IndexError):  # not a form's shape: read the file again
            pass
    from .nodes import form_of

    # As read_text reads it: universal newlines, so lines count as an editor counts them.
    form = form_of(data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"), path, display)
    REMEMBERED.remember(key, _plain(form))
    return form


# -- a form as marshal holds it: tuples of plain values, the locations as (line, column) -----------------------


def _at(location: Location) -> tuple[int, int]:
    return location.line, location.column


def _plain(form: WorkflowForm | None) -> tuple[Any, ...]:
    if form is None:
        return ()  # no step uses the action: remembered too (most workflows of a repository)
    inputs = tuple((i.name, i.type, i.options, _at(i.location), _at(i.type_location), i.default,
                    _at(i.default_location) if i.default_location else None) for i in form.inputs)
    steps = tuple((_at(s.location), s.parameter_file, s.pipeline, dict(s.wired), _at(s.wired_location), s.other_refs)
                  for s in form.steps)
    return (form.has_dispatch, inputs, _at(form.form_location), steps, form.other_refs)


def _form(plain: tuple[Any, ...], path: Path, display: str) -> WorkflowForm | None:
    if plain == ():
        return None

    def at(where: tuple[int, int]) -> Location:
        return Location(display, *where)

    has_dispatch, inputs, form_location, steps, other_refs = plain
    return WorkflowForm(
        path, display, has_dispatch,
        tuple(DispatchInput(name, kind, options, at(loc), at(type_loc), default=default,
                            default_location=at(default_loc) if default_loc else None)
              for name, kind, options, loc, type_loc, default, default_loc in inputs),
        at(form_location),
        tuple(ActionStep(location=at(loc), parameter_file=parameter_file, pipeline=pipeline, wired=wired,
                         wired_location=at(wired_loc), other_refs=refs)
              for loc, parameter_file, pipeline, wired, wired_loc, refs in steps),
        other_refs)


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
