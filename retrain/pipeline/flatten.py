"""The pipeline as the local backend runs it: nested pipeline components flattened, steps it cannot run refused.

A ``type: pipeline`` step's jobs become steps of their own, named ``outer.inner`` (deeper nesting adds
more dots), with their bindings rewritten into the flat pipeline's terms: ``${{parent.inputs.x}}`` inside the
component becomes what the outer step gives ``x`` (or the component input's default), a read of another
inner step's output names the flat step, and a read of the nested step's output from outside names the inner
step that produces it. Sweep and parallel steps stay steps (the executor runs them).

Refused, each at its file:line, all at once: ``automl``, ``spark``, ``data_transfer`` and ``import`` steps
and prompt flows (only the Azure ML service runs them), and registered components (``azureml:...``: their
YAML lives in a workspace or registry the local backend does not read).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..errors import InvalidFile, Problem
from .model import Binding, DataValue, ParentInput, Pipeline, Port, Step, StepOutput

AZURE_ONLY = {
    "automl": "an automl step (automated ML): only the Azure ML service runs it",
    "spark": "a spark step: it needs an Azure ML Spark compute",
    "data_transfer": "a data_transfer step: only the Azure ML service runs it",
    "import": "an import step (data import from a database or file system): only the Azure ML service runs it",
}
AZURE_HINT = "Run this pipeline on the azureml backend (backend: {kind: azureml, ...} in retrain.yml)."


class _Missing:
    pass


MISSING = _Missing()


def local_steps(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` with its nested pipelines flattened; :class:`InvalidFile` lists every step it cannot run."""
    flat: dict[str, Step] = {}
    exports: dict[tuple[str, str], tuple[str, str]] = {}
    problems: list[Problem] = []
    _flatten(pipeline.steps, "", None, {}, {}, flat, exports, problems)
    if problems:
        raise InvalidFile(problems, what=f"pipeline {pipeline.path.name} on the local backend")
    return replace(pipeline, steps=flat)


def local_problems(pipeline: Pipeline) -> list[Problem]:
    """What :func:`local_steps` would refuse, as problems (empty when the local backend runs it all)."""
    try:
        local_steps(pipeline)
    except InvalidFile as e:
        return list(e.problems)
    return []


def _refusal(step: Step) -> Problem | None:
    where, at = step.location, step.key_path
    if step.type in AZURE_ONLY:
        return Problem(f"the step '{step.name}' is {AZURE_ONLY[step.type]}; the local backend does not run it.", where, at, AZURE_HINT)
    component = step.component
    if component.registered is not None:
        ref = component.registered
        return Problem(f"the step '{step.name}' uses the registered component {ref.text}, whose YAML is in "
                       f"{'the registry ' + ref.registry if ref.registry else 'an Azure ML workspace'}, not in the repository: "
                       "the local backend cannot run it.",
                       ref.location or where, (*at, "trial" if step.type == "sweep" else "component"),
                       "Give the component's YAML file instead (component: ./train.yml), or use the azureml backend.")
    if component.type == "flow":
        return Problem(f"the step '{step.name}' runs a prompt flow, which only the Azure ML service runs; the local backend does not.",
                       where, at, AZURE_HINT)
    if component.type in AZURE_ONLY:
        return Problem(f"the step '{step.name}' uses {AZURE_ONLY[component.type].replace(' step', ' component', 1)}; "
                       "the local backend does not run it.", where, at, AZURE_HINT)
    if step.type == "parallel" and step.parallel is not None and step.parallel.task_type != "run_function":
        return Problem(f"the step '{step.name}' is a parallel step with a {step.parallel.task_type} task; the local backend runs "
                       "run_function tasks only.", where, at, AZURE_HINT)
    return None


def _flatten(steps: Mapping[str, Step], prefix: str, outer: Mapping[str, Binding] | None, ports: Mapping[str, Port],
             out_map: Mapping[str, str | None], flat: dict[str, Step], exports: dict[tuple[str, str], tuple[str, str]],
             problems: list[Problem]) -> None:
    """Add ``steps`` (a pipeline's, or a component's when ``outer`` holds its step's bindings) to ``flat``."""

    def resolve(binding: Binding) -> Binding | _Missing:
        if isinstance(binding, ParentInput) and outer is not None:
            if binding.name in outer:
                return outer[binding.name]
            port = ports.get(binding.name)
            if port is None or port.default is None:
                return MISSING  # the inner component's own default applies
            return DataValue(port.type, str(port.default), port.mode) if port.type.is_data else port.default
        if isinstance(binding, StepOutput):
            key = (prefix + binding.step, binding.output)
            while key in exports:  # a nested step's output, produced by a step inside it (maybe deeper)
                key = exports[key]
            return StepOutput(*key)
        return binding

    for step in steps.values():
        name = prefix + step.name
        inputs: dict[str, Binding] = {}
        for iname, binding in step.inputs.items():
            value = resolve(binding)
            if not isinstance(value, _Missing):
                inputs[iname] = value
        # Where this step's outputs go in the flat pipeline: a pipeline output, or (inside a component)
        # the component output they are bound to, which the outer step maps on in turn.
        targets: dict[str, str | None] = {}
        for oname, target in step.outputs.items():
            if outer is None:
                targets[oname] = target
            else:
                targets[oname] = out_map.get(target) if target else None
                if target:
                    exports[(prefix[:-1], target)] = (name, oname)
        if step.type == "pipeline" and step.component.type == "pipeline":
            _flatten(step.component.jobs, name + ".", inputs, step.component.inputs, targets, flat, exports, problems)
            continue
        problem = _refusal(step)
        if problem is not None:
            problems.append(problem)
            continue
        depends = tuple(dict.fromkeys(b.step for b in inputs.values() if isinstance(b, StepOutput)))
        # Only the inputs the component declares: azure-ai-ml passes an undeclared one on, unused.
        declared = {k: v for k, v in inputs.items() if k in step.component.inputs}
        flat[name] = replace(step, name=name, inputs=declared, outputs=targets, depends_on=depends)
