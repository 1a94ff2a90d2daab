"""The edges between a pipeline's steps: each binding checked against what it names (a pipeline input, another
step's output, data given in place, a value of the port's type), and the steps in dependency order, a cycle
reported with its steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..errors import Problem
from ..yamlfile import KeyPath, YamlDoc
from .components import Components
from .expressions import PARENT_INPUT, STEP_OUTPUT
from .model import Binding, DataValue, InputType, ParentInput, Port, Step, StepOutput
from .order import dependency_order
from .ports import TYPE_WORDS
from .problems import nearest
from .types import CoercionError, coerce


class Graph(Components):
    """Checks bindings and orders steps; steps.py builds on it."""

    def binding(self, doc: YamlDoc, value: Any, path: KeyPath, port: Port, parameters: Mapping[str, Port], jobs: Mapping[Any, Any],
                step_name: str) -> Binding | None:
        raw = value.get("path") if isinstance(value, dict) and "path" in value else value
        if isinstance(raw, str) and "${{" in raw:
            text = raw.strip()
            if m := PARENT_INPUT.fullmatch(text):
                parent = parameters.get(m.group(1))
                if parent is None:
                    self.add(doc, path, f"the binding {text} names the pipeline input '{m.group(1)}', which does not exist.",
                             nearest(m.group(1), sorted(parameters)).replace("Known keys here", "Pipeline inputs"))
                    return None
                if parent.type.is_data != port.type.is_data:
                    self.add(doc, path, f"the pipeline input '{parent.name}' is {parent.type.value} but the component's input '{port.name}' is {port.type.value}.",
                             "Bind data to data inputs and values to value inputs.")
                    return None
                return ParentInput(parent.name)
            if m := STEP_OUTPUT.fullmatch(text):
                step, output = m.group(1), m.group(2)
                if step not in jobs:
                    self.add(doc, path, f"the binding {text} names the step '{step}', which does not exist.",
                             nearest(step, [str(j) for j in jobs]).replace("Known keys here", "Steps"))
                    return None
                if step == step_name:
                    self.add(doc, path, f"the step '{step}' reads its own output.", "Bind the input to another step's output.")
                    return None
                upstream = self.peek_outputs(doc, step, jobs[step], path[:-3])
                if upstream is not None and output not in upstream:
                    self.add(doc, path, f"the step '{step}' has no output '{output}'.",
                             f"Its outputs: {', '.join(sorted(upstream)) or 'none'}.")
                    return None
                if not port.type.is_data:
                    self.add(doc, path, f"the input '{port.name}' is {port.type.value}; a step output is data.",
                             "Bind it to a pipeline input or give a value.")
                    return None
                return StepOutput(step, output)
            self.add(doc, path, f"{text} is not a binding retrain understands.",
                     "Use ${{parent.inputs.NAME}} or ${{parent.jobs.STEP.outputs.NAME}} as the whole value.")
            return None
        if port.type.is_data:
            if isinstance(value, dict):
                kind = value.get("type", port.type.value)
                try:
                    dkind = InputType(kind)
                except ValueError:
                    self.add(doc, path, f"unknown type {kind!r}.", f"Use one of {', '.join(TYPE_WORDS)}.")
                    return None
                if not isinstance(raw, str):
                    self.add(doc, path, "a data input needs path:.", "Write {type: uri_file, path: ./data.csv}.")
                    return None
                target = self.data_path(doc, path, raw)
                return None if target is None else DataValue(dkind, target, value.get("mode"))
            if isinstance(value, str):
                target = self.data_path(doc, path, value)
                return None if target is None else DataValue(port.type, target)
            self.add(doc, path, f"the input '{port.name}' is {port.type.value}; give a path or a binding.")
            return None
        if isinstance(value, dict) and "default" in value:
            value = value["default"]  # {type: integer, default: 3} on a node: the value is the default
        try:
            # A constant written on a node is not held to the component's enum: azure-ai-ml does not check it
            # (the corpus's densenet pipeline gives center_crop: 224 to an enum of 'True', 'False').
            return coerce(replace(port, enum=None), value, base_dir=doc.path.parent)
        except CoercionError as e:
            self.add(doc, path, str(e))
            return None

    def peek_outputs(self, doc: YamlDoc, step: str, node: Any, base: KeyPath = ("jobs",)) -> set[str] | None:
        """Output names of another step, to check a binding before that step is loaded (None = unknown)."""
        if not isinstance(node, dict):
            return None
        ref = node.get("trial") if node.get("type") == "sweep" else node.get("component")
        if isinstance(ref, str):
            rel = ref[len("file:"):] if ref.startswith("file:") and not ref.startswith("file://") else ref
            if ref.startswith("azureml:") or not (doc.path.parent / rel).is_file():
                return None  # reported at that step
            # Loading is cached, so the step itself later reuses this and reports nothing twice.
            comp = self.component_file(doc, ref, (*base, step, "trial" if node.get("type") == "sweep" else "component"))
            if comp is None or comp.type == "flow":
                return None
            return set(comp.outputs) | {str(k) for k in (node.get("outputs") or {})} if comp.registered is None else None
        spec = ref if isinstance(ref, dict) else node
        outs = spec.get("outputs")
        names = set(map(str, outs)) if isinstance(outs, dict) else set()
        if node.get("type") in ("automl",):
            return None  # automl steps have outputs of their own (best_model) beside those written
        return names

    def order(self, doc: YamlDoc, steps: dict[str, Step], base: KeyPath = ("jobs",)) -> dict[str, Step]:
        """Topological order, ties in file order; a cycle is a problem naming its steps."""
        names, cycles = dependency_order(steps, {n: s.depends_on for n, s in steps.items()})
        for cycle in cycles:
            first = cycle[0]
            self.problems.append(Problem(f"the steps form a cycle: {' -> '.join(cycle)}.", steps[first].location, (*base, first),
                                         "A step may only read outputs of steps that do not read its own."))
        return {name: steps[name] for name in names}
