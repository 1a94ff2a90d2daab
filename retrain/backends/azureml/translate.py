"""A pipeline's steps in the REST shape azure-ai-ml 1.35.2 sends for them, built from the YAML mappings.

The interface is the YAML itself, so every step type the service runs is translated without a typed model of it:
:func:`translate_jobs` takes a ``jobs:`` mapping as written (with the pipeline's declared inputs and outputs and
the folder paths are relative to) and returns the ``jobs`` of a pipeline job or of a pipeline component's
``componentSpec``; :func:`translate_node` does one step. What lives on the submitting machine, and what the
workspace must resolve, goes through :class:`Assets` callbacks the backend provides (upload code, data and build
contexts, register components and environments, resolve registered components and data, compute ids), as the
SDK's dependency resolution does.

The shapes are what azure-ai-ml 1.35.2 sends through the fake Azure for the same YAML (tests/backends/azureml/test_azure_oracle.py
compares them field by field for every example of Azure/azureml-examples ``cli/jobs``; docs/azure.md lists the
differences and their reasons):

- a command node, and a step of any other type, as nodes.py builds it;
- every step gets its own component (components.py): an inline step's from its own keys, its inputs and outputs
  declared by type (inferred from what they are bound to), never its bindings;
- an environment given in place is registered as azure-ai-ml's anonymous environment (environments.py: its name,
  and its version derived from the image, conda file or build context as the SDK derives it) and referenced by id;
- sweep, parallel, spark, automl and pipeline-component steps as the SDK sends them (see translate_node).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ...errors import UsageError
from .automl import automl
from .components import component_spec, inline_component_spec, inline_input, inline_output, parse_size, read_component, task_spec
from .nodes import command_node, pass_through_node
from .wire import Assets, Graph, is_local, local_path, mode


def _registered(ref: object) -> bool:
    return isinstance(ref, str) and ref.startswith("azureml:")


def component_id(ref: object, base: Path, assets: Assets, *, default_name: str) -> tuple[str, str]:
    """What a step's ``component:`` (or a sweep's ``trial:``) names, registered: its ARM id, and the ``_source``
    azure-ai-ml gives the node (YAML.COMPONENT for a file, YAML.JOB for a mapping written in place,
    REMOTE.WORKSPACE.COMPONENT / REMOTE.REGISTRY for a registered one)."""
    if _registered(ref):
        text = str(ref)
        return assets.component_ref(text), "REMOTE.REGISTRY" if text.startswith("azureml://registries/") else "REMOTE.WORKSPACE.COMPONENT"
    if isinstance(ref, str):
        spec, folder = read_component(base, ref)
        # azure-ai-ml marks a file: reference YAML.JOB and a bare path YAML.COMPONENT (as it sends them)
        source, stem = "YAML.JOB" if ref.startswith("file:") else "YAML.COMPONENT", Path(ref.removeprefix("file:")).stem
    elif isinstance(ref, Mapping):
        spec, folder, source, stem = ref, base, "YAML.JOB", default_name
    else:
        raise UsageError(f"the step {default_name} names no component.")
    name = assets.name(str(spec.get("name") or stem))
    return assets.component(any_component_spec(spec, folder, assets, name=name, source=source)), source


def any_component_spec(spec: Mapping[str, Any], base: Path, assets: Assets, *, name: str, source: str) -> dict[str, Any]:
    """A component of any type as its componentSpec: command and parallel and spark with local code uploaded and
    environments registered; a pipeline component with its own jobs translated the same way."""
    kind = str(spec.get("type") or "command")
    out = component_spec(spec, base, assets, name=name, version="")
    if kind == "pipeline":
        out["jobs"] = translate_jobs(spec.get("jobs") or {}, spec.get("inputs") or {}, base, assets, spec.get("outputs") or {})
    if kind == "parallel" and isinstance(spec.get("task"), Mapping):
        out["task"] = task_spec(spec["task"], base, assets, name)
    if kind == "parallel" and "mini_batch_size" in spec:
        out["mini_batch_size"] = str(parse_size(spec["mini_batch_size"]))
    if kind == "spark":
        for key in ("code",):
            if isinstance(spec.get(key), str) and is_local(spec[key]):
                out[key] = assets.code(local_path(base, spec[key]), name)
    out["_source"] = source
    return out


def translate_jobs(jobs: Mapping[str, Any], parent_inputs: Mapping[str, Any], base: Path, assets: Assets,
                   parent_outputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every node of a ``jobs:`` mapping, as azure-ai-ml sends it. The one entry point for a graph: the backend
    calls it for a pipeline's jobs, and it calls itself for a pipeline component's."""
    graph = Graph(parent_inputs or {}, parent_outputs or {}, jobs, base)
    out: dict[str, Any] = {}
    for name, node in jobs.items():
        if not isinstance(node, Mapping):
            continue
        out[str(name)] = translate_node(str(name), node, graph, assets)
    return out


def translate_node(name: str, node: Mapping[str, Any], graph: Graph, assets: Assets) -> dict[str, Any]:
    base = graph.base
    kind = str(node.get("type") or "command")
    if kind == "command":
        if node.get("component") is None:
            spec = inline_component_spec(node, base, assets, name=assets.name(name), version="", graph=graph)
            return command_node(name, node, base, assets, component_id=assets.component(spec), source="YAML.JOB")
        cid, source = component_id(node["component"], base, assets, default_name=name)
        return command_node(name, node, base, assets, component_id=cid, source=source)
    if kind == "sweep":
        cid, source = component_id(node.get("trial"), base, assets, default_name=name)
        out = pass_through_node(name, {k: v for k, v in node.items() if k != "trial"}, base, assets, component_id=None)
        out["_source"] = source
        out["trial"] = {"componentId": cid}
        return out
    if kind == "automl":
        node = automl(node)
        out = pass_through_node(name, node, base, assets, component_id=None)
        out.pop("_source", None)
        out.setdefault("tags", {})
        out.setdefault("properties", {})
        out.setdefault("log_verbosity", "info")
        return out
    if kind == "parallel":
        node = {**node, "mini_batch_size": parse_size(node.get("mini_batch_size", 0))}  # the SDK sends 0 when unset
        if isinstance(node.get("partition_keys"), list):
            node["partition_keys"] = json.dumps(node["partition_keys"])  # a JSON string on the wire, as the SDK sends it
    if node.get("component") is None and kind in ("parallel", "spark"):
        # the node's own settings stay on the node; the component gets what defines the work
        node_only = ("compute", "inputs", "outputs", "environment_variables", "identity", "resources") if kind == "spark" else \
            ("compute", "inputs", "outputs", "environment_variables")
        inline = {k: v for k, v in node.items() if k not in node_only}
        inputs = {str(k): inline_input(v, graph) for k, v in (node.get("inputs") or {}).items()}
        outputs = {str(k): inline_output(v, graph) for k, v in (node.get("outputs") or {}).items()}
        if inputs:
            inline["inputs"] = inputs
        if outputs:
            inline["outputs"] = outputs
        cid = assets.component(any_component_spec(inline, base, assets, name=assets.name(name), source="YAML.JOB"))
        on_node = {k: v for k, v in node.items() if k not in ("code",)} if kind == "spark" else node
        out = pass_through_node(name, on_node, base, assets, component_id=cid)
        if isinstance(node.get("task"), Mapping):
            out["task"] = task_spec(node["task"], base, assets, assets.name(name))
        return out
    ref = node.get("component")
    declared: Mapping[str, Any] = {}
    if isinstance(ref, str) and not _registered(ref):
        declared, _ = read_component(base, ref)
    if kind == "pipeline" and declared:
        # the SDK sends only the inputs a pipeline component declares
        node = {**node, "inputs": {k: v for k, v in (node.get("inputs") or {}).items() if k in (declared.get("inputs") or {})}}
    if kind == "spark" and declared:
        # the SDK carries a spark component's entry, arguments and configuration on its node too
        node = {**{k: declared[k] for k in ("entry", "args", "conf") if k in declared}, **node}
    cid, source = component_id(ref, base, assets, default_name=name)
    out = pass_through_node(name, node, base, assets, component_id=cid)
    out["_source"] = source
    return out


def pipeline_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """A pipeline job's ``outputs`` as azure-ai-ml sends them (camelCase, typed), for a job whose nodes bind them."""
    out: dict[str, Any] = {}
    for key, value in outputs.items():
        entry: dict[str, Any] = {}
        spec = value if isinstance(value, Mapping) else {}
        if spec.get("path"):
            entry["uri"] = spec["path"]
        if spec.get("mode"):
            entry["mode"] = mode(spec["mode"])
        entry["jobOutputType"] = str(spec.get("type") or "uri_folder")
        out[str(key)] = entry
    return out


def pipeline_settings(settings: Mapping[str, Any], compute_id: Callable[[str], str], datastore_id: Callable[[str], str],
                      default_compute: str | None) -> dict[str, Any]:
    """A pipeline job's ``settings`` as the SDK sends them: what the YAML says, computes and datastores by ARM id."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if key == "default_compute" and value:
            out[key] = compute_id(str(value))
        elif key == "default_datastore" and value:
            out[key] = datastore_id(str(value))
        elif value is not None:
            out[str(key)] = value
    if "default_compute" not in out and default_compute:
        out["default_compute"] = compute_id(default_compute)
    out["_source"] = "YAML.JOB"
    return out
