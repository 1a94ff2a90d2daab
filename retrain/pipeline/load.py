"""Load an Azure ML v2 pipeline-job YAML into a checked :class:`~retrain.pipeline.model.Pipeline`.

Every problem is collected with its ``file:line:column`` and reported at once: unknown keys (with the
nearest known name), bad types and defaults, missing component files, bindings to steps, outputs or
parameters that do not exist, cycles, undeclared ``${{inputs.x}}`` in commands. Keys that only mean
something on Azure (compute, resources, ...) are accepted; the local backend ignores them.

The loader is one class built in layers, a module each: problems.py (what they share), ports.py,
components.py, graph.py (bindings and order), sweep.py and parallel.py, steps.py; this module reads the
pipeline file's top level over them and gives the loaded :class:`Pipeline`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..boundary import resolve
from ..errors import InvalidFile
from ..yamlfile import YamlDoc, load_yaml
from .hashing import content_hash, pipeline_files
from .model import Component, InputType, ParentInput, Pipeline, Port, Step
from .problems import display_path
from .steps import Steps
from .types import CoercionError, coerce

PIPELINE_KEYS = (
    "$schema", "type", "name", "display_name", "experiment_name", "description", "tags", "settings",
    "inputs", "outputs", "jobs", "compute", "identity", "properties",
)


class _Loader(Steps):
    """The whole loader: every layer below, and the pipeline file's top level read over them."""

    def load(self, path: Path) -> Pipeline:
        path = resolve(path)
        self.root_file = path
        doc = load_yaml(path, display=display_path(path, self.display_root))
        self.problems.extend(doc.duplicate_keys)
        top = self.mapping(doc, doc.data, (), "a pipeline file")
        if top is None or not top:
            if top is not None:
                self.add(doc, (), "the pipeline file is empty.", "See docs/pipeline-format.md for a starting point.")
            raise InvalidFile(self.problems, what=f"pipeline {doc.display}")
        self.unknown_keys(doc, top, (), PIPELINE_KEYS)
        if top.get("type") != "pipeline":
            got = top.get("type")
            self.add(doc, ("type",) if "type" in top else (), f"expected type: pipeline, got {got!r}." if got is not None else "the file has no type: pipeline.",
                     "A pipeline job file starts with type: pipeline.")
        parameters = self.ports(doc, top.get("inputs"), ("inputs",), outputs=False, pipeline_level=True)
        outputs = self.ports(doc, top.get("outputs"), ("outputs",), outputs=True)
        settings = top.get("settings") or {}
        if not isinstance(settings, dict):
            self.add(doc, ("settings",), "settings must be a mapping.")
            settings = {}
        jobs = self.mapping(doc, top.get("jobs"), ("jobs",), "jobs")
        if "jobs" not in top:
            self.add(doc, (), "the pipeline has no jobs.", "Add jobs: with at least one step.")
        elif jobs is not None and not jobs:
            self.add(doc, ("jobs",), "the pipeline has no jobs.", "Add at least one step under jobs:.")
        ordered = self.steps(doc, jobs or {}, ("jobs",), parameters, outputs)
        parameters = self.inherit(doc, parameters, ordered)
        if self.problems:
            raise InvalidFile(self.problems, what=f"pipeline {doc.display}")
        files, root = pipeline_files(path, all_components(ordered))
        fallback = path.parent.name if path.stem == "pipeline" else path.stem
        name = str(top.get("name") or top.get("display_name") or fallback)
        return Pipeline(
            path=path, name=name, display_name=str(top.get("display_name") or name),
            experiment_name=top.get("experiment_name"), description=str(top.get("description") or ""),
            parameters=parameters, outputs=outputs, steps=ordered, settings=settings,
            content_hash=content_hash(files, root), files=files, root=root,
        )

    def inherit(self, doc: YamlDoc, parameters: dict[str, Port], steps: Mapping[str, Step]) -> dict[str, Port]:
        """A parameter given as a bare value (all Azure ML lets a pipeline job's input be) takes the range,
        choices and description of the component inputs it is bound to, so a value given at submit is
        checked as the component would check it, and the dispatch form can say what it is."""
        bound: dict[str, list[Port]] = {}
        for step in steps.values():
            for iname, binding in step.inputs.items():
                port = step.component.inputs.get(iname)
                if isinstance(binding, ParentInput) and port is not None:
                    bound.setdefault(binding.name, []).append(port)
        out = dict(parameters)
        for name, param in parameters.items():
            ports = bound.get(name, [])
            if not ports:
                continue
            changes: dict[str, Any] = {}
            if not param.description:
                changes["description"] = next((p.description for p in ports if p.description), "")
            if param.type in (InputType.INTEGER, InputType.NUMBER) and param.min is None and param.max is None:
                mins = [p.min for p in ports if p.min is not None]
                maxs = [p.max for p in ports if p.max is not None]
                changes["min"] = max(mins) if mins else None
                changes["max"] = min(maxs) if maxs else None
            if param.type is InputType.STRING and param.enum is None:
                changes["enum"] = next((p.enum for p in ports if p.enum), None)
            port = replace(param, **changes)
            if port.default is not None and port != param:
                try:
                    coerce(port, port.default, base_dir=doc.path.parent)
                except CoercionError as e:
                    self.add(doc, ("inputs", name), f"the value does not fit the component input it is bound to: {e}",
                             "Change the value, or the component input's min, max or enum.")
            out[name] = port
        return out


def all_components(steps: Mapping[str, Step]) -> list[Component]:
    """Every component the steps use, nested pipeline components' own steps included."""
    found: list[Component] = []
    for step in steps.values():
        found.append(step.component)
        if step.component.jobs:
            found.extend(all_components(step.component.jobs))
    return found


def load_pipeline(path: Path, *, display_root: Path | None = None, boundary: Path | None = None) -> Pipeline:
    """Load, resolve and check a pipeline definition; raise :class:`InvalidFile` with every problem.

    ``boundary`` is the repository root (docs/limits.md): every file, folder and data path the
    definition names must resolve inside it. Without it nothing is confined; backends load their own
    stored snapshots that way, which were checked when they were published.
    """
    return _Loader(display_root, boundary.resolve() if boundary is not None else None).load(Path(path))
