"""The ``jobs:`` of a pipeline or a pipeline component: each step by its type (command, pipeline, sweep,
parallel, automl, spark, ...), its component (a file, a registered one, or the step itself for an inline job),
its inputs bound and its outputs routed, what it depends on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..yamlfile import KeyPath, YamlDoc
from .expressions import PARENT_OUTPUT, STEP_OUTPUT
from .graph import Graph
from .model import STEP_TYPES, Binding, Component, Port, Step, StepOutput
from .parallel import ParallelSettings
from .problems import nearest
from .sweep import Sweeps
from ..text import closest

if TYPE_CHECKING:
    from .tasks import Parallel, Sweep

NODE_KEYS = (
    "type", "component", "inputs", "outputs", "environment_variables", "display_name", "description", "name",
    "tags", "compute", "resources", "limits", "services", "distribution", "identity", "properties",
    "queue_settings", "experiment_name",
    # an inline command job carries its component's keys directly
    "command", "code", "environment", "is_deterministic",
)
STEP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Steps(Graph, Sweeps, ParallelSettings):
    """Reads steps; load.py's loader builds on it."""

    def steps(self, doc: YamlDoc, jobs: Mapping[Any, Any], base: KeyPath, parameters: Mapping[str, Port],
              outputs: Mapping[str, Port]) -> dict[str, Step]:
        """The ``jobs:`` of a pipeline or pipeline component, loaded and in dependency order."""
        steps: dict[str, Step] = {}
        for name, node in jobs.items():
            step = self.step(doc, str(name), node, parameters, outputs, jobs, base=base)
            if step is not None:
                steps[str(name)] = step
        return self.order(doc, steps, base)

    def step(self, doc: YamlDoc, name: str, node: Any, parameters: Mapping[str, Port], pipeline_outputs: Mapping[str, Port],
             jobs: Mapping[Any, Any], *, base: KeyPath = ("jobs",)) -> Step | None:
        path: KeyPath = (*base, name)
        if not STEP_NAME.fullmatch(name):
            self.add(doc, path, f"'{name}' is not a valid step name.", "Use letters, digits and '_', not starting with a digit.", at_key=True)
        spec = self.mapping(doc, node, path, f"the step '{name}'")
        if spec is None:
            return None
        kind = str(spec.get("type", "command"))
        if kind not in STEP_TYPES:
            close = closest(kind, STEP_TYPES)
            self.add(doc, (*path, "type"), f"unknown step type {kind!r}.",
                     f"Did you mean '{close}'?" if close else f"Azure ML runs these: {', '.join(STEP_TYPES)}.")
            return None
        if kind in ("command", "pipeline"):
            self.unknown_keys(doc, spec, path, NODE_KEYS)
        bindings_spec = self.mapping(doc, spec.get("inputs"), (*path, "inputs"), "inputs") or {}
        outs_spec = self.mapping(doc, spec.get("outputs"), (*path, "outputs"), "outputs") or {}
        ref = spec.get("trial") if kind == "sweep" else spec.get("component")
        ref_key = "trial" if kind == "sweep" else "component"
        sweep: Sweep | None = None
        parallel: Parallel | None = None
        component: Component | None
        if ref is None and (kind == "command" and "command" in spec or kind in ("parallel", "automl", "spark", "data_transfer", "import")):
            # An inline job: its inputs and outputs are both declarations and bindings.
            declared = {str(k): self.inline_port(doc, str(k), v, (*path, "inputs", k), parameters, jobs) for k, v in bindings_spec.items()}
            inline_in = {k: v for k, v in declared.items() if v is not None}
            inline_out = {str(k): p for k, v in outs_spec.items()
                          if (p := self.inline_output(doc, str(k), v, (*path, "outputs", k), pipeline_outputs)) is not None}
            if kind == "command":
                component = self.component(doc, spec, path, default_name=name, keys=NODE_KEYS,
                                           inline_inputs=inline_in, inline_outputs=inline_out)
            else:
                command = self.parallel_arguments(doc, spec, path) if kind == "parallel" else ""
                component = self.opaque_component(doc, spec, path, default_name=name, kind=kind, command=command,
                                                  inline_inputs=inline_in, inline_outputs=inline_out)
                component = replace(component, inline=True)
        elif isinstance(ref, str):
            component = self.component_file(doc, ref, (*path, ref_key))
        elif isinstance(ref, dict):
            component = self.any_component(doc, ref, (*path, ref_key), default_name=name)
        else:
            self.add(doc, path, f"the step '{name}' has no {ref_key}.",
                     f"Add {ref_key}: ./path/to/component.yml" + (", or an inline command." if kind == "command" else "."))
            return None
        if component is None:
            return None
        if kind == "sweep":
            sweep = self.sweep(doc, spec, path, component)
        if kind == "parallel":
            parallel = self.parallel(doc, spec, path, component)
        if kind == "pipeline" and component.type not in ("pipeline", "registered"):
            self.add(doc, (*path, ref_key), f"a type: pipeline step needs a pipeline component; this one is {component.type}.",
                     "Point it at a YAML file with type: pipeline and jobs:, or change the step's type.")
            return None
        # A registered component's ports are in its workspace, a prompt flow's in its flow: read the node's.
        open_ports = component.registered is not None or component.type == "flow"
        searched = set(sweep.search_space) if sweep is not None else set()

        bound: dict[str, Binding] = {}
        attempted: set[str] = set()
        depends: list[str] = []
        for key, value in bindings_spec.items():
            iname = str(key)
            ipath = (*path, "inputs", key)
            port = component.inputs.get(iname)
            if port is None and (open_ports or component.type == "pipeline"):
                # azure-ai-ml takes an input a pipeline component does not declare (the corpus's
                # nyc_taxi_data_regression_with_pipeline_component binds one); it is passed on, unused.
                port = self.inline_port(doc, iname, value, ipath, parameters, jobs)
            if port is None:
                if not open_ports:
                    self.add(doc, ipath, f"the component '{component.name}' has no input '{iname}'.",
                             f"Its inputs: {', '.join(sorted(component.inputs)) or 'none'}.", at_key=True)
                continue
            binding = self.binding(doc, value, ipath, port, parameters, jobs, name)
            if binding is None:
                attempted.add(iname)  # already reported; not "missing" as well
                continue
            bound[iname] = binding
            if isinstance(binding, StepOutput) and binding.step not in depends:
                depends.append(binding.step)
        if kind == "automl":
            # An automl node names its data at its top level (training_data: ${{parent.jobs.prep.outputs.train}}).
            for key, value in spec.items():
                if isinstance(value, str) and (m := STEP_OUTPUT.fullmatch(value.strip())):
                    if m.group(1) not in jobs:
                        self.add(doc, (*path, key), f"the binding {value.strip()} names the step '{m.group(1)}', which does not exist.",
                                 nearest(m.group(1), [str(j) for j in jobs]).replace("Known keys here", "Steps"))
                    elif m.group(1) not in depends:
                        depends.append(m.group(1))
        for iname, port in component.inputs.items():
            if iname not in bound and iname not in attempted and iname not in searched and port.required \
                    and component.type in ("command", "pipeline", "parallel"):
                self.add(doc, (*path, "inputs") if "inputs" in spec else path,
                         f"the step '{name}' does not give the required input '{iname}'.",
                         f"Bind it, e.g. {iname}: ${{{{parent.inputs.{iname}}}}}.")
        outs: dict[str, str | None] = {}
        for key, value in outs_spec.items():
            oname = str(key)
            if oname not in component.outputs and not open_ports:
                self.add(doc, (*path, "outputs", key), f"the component '{component.name}' has no output '{oname}'.",
                         f"Its outputs: {', '.join(sorted(component.outputs)) or 'none'}.", at_key=True)
                continue
            target = value.get("path") if isinstance(value, dict) else value
            if isinstance(target, str) and (m := PARENT_OUTPUT.fullmatch(target.strip())):
                if m.group(1) not in pipeline_outputs:
                    self.add(doc, (*path, "outputs", key), f"the pipeline has no output '{m.group(1)}'.", "Declare it under the pipeline's outputs:.")
                outs[oname] = m.group(1)
            else:
                outs[oname] = None
        # An inline job's variables were checked as its component's; a step's own are checked here.
        env = self.env_vars(doc, spec, path) if not component.inline else dict(component.environment_variables)
        return Step(name=name, component=component, inputs=bound, outputs=outs,
                    environment_variables=env, depends_on=tuple(depends), location=doc.where_key(path),
                    type=kind, spec=spec, doc=doc, key_path=path, sweep=sweep, parallel=parallel)
