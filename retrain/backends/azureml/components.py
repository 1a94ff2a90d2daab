"""A step's component as its ``componentSpec``, the shape azure-ai-ml registers: a component file or mapping with
local code uploaded, an inline environment registered and ports normalised; an inline command step's own
component, its ports typed by what they are bound to; a parallel component's task and mini-batch size."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import UsageError
from ...yamlfile import load_yaml
from .environments import environment_ref
from .wire import DATA_TYPES, PARENT_INPUT, PARENT_OUTPUT, STEP_OUTPUT_PARTS, Assets, Graph, is_local, literal, local_path

# Keys of a command step that are its inline component's, not the node's.
COMPONENT_KEYS = ("command", "code", "environment", "is_deterministic")


def port_spec(spec: object, *, output: bool) -> dict[str, Any]:
    """A declared input or output as the SDK dumps it: defaults as strings, modes as written."""
    if not isinstance(spec, Mapping):
        return {"type": "uri_folder"} if output else {"type": _literal_type(spec)}
    out: dict[str, Any] = {}
    kind = spec.get("type")
    for key, value in spec.items():
        if key in ("default", "min", "max") and kind == "number" and isinstance(value, str) and _is_float(value):
            value = str(float(value))  # YAML 1.1 reads 1e-3 as a string; the SDK parses it as the number it is
        elif key in ("default", "min", "max") and value is not None and not isinstance(value, str):
            # the SDK writes these as strings of the declared type: a number's 0 is "0.0", an integer's 1.0 is "1"
            if kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(float(value))
            elif kind == "integer" and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(int(value))
            else:
                value = literal(value)
        out[str(key)] = value
    out.setdefault("type", "uri_folder" if output else "string")
    return out


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _literal_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def component_spec(spec: Mapping[str, Any], base: Path, assets: Assets, *, name: str, version: str) -> dict[str, Any]:
    """A component YAML (``component: ./x.yml`` or ``component: {...}``) as its componentSpec: the YAML's keys
    with local code uploaded, an inline environment registered, ports normalised."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "code" and isinstance(value, str) and is_local(value):
            out["code"] = assets.code(local_path(base, value), name)
        elif key == "environment":
            out["environment"] = environment_ref(value, base, assets)
        elif key in ("inputs", "outputs") and isinstance(value, Mapping):
            out[key] = {str(k): port_spec(v, output=key == "outputs") for k, v in value.items()}
        elif key == "distribution" and isinstance(value, Mapping):
            out[key] = component_distribution(value)
        elif key != "version":
            out[str(key)] = value
    out.update({"name": name, "version": version})
    if out.get("tags") == {}:
        del out["tags"]
    out.setdefault("type", "command")
    if out["type"] == "pipeline":
        out["sourceJobId"] = None
    else:
        out.setdefault("is_deterministic", True)
    out["_source"] = "YAML.COMPONENT"
    return out


def inline_component_spec(node: Mapping[str, Any], base: Path, assets: Assets, *, name: str, version: str,
                          graph: Graph) -> dict[str, Any]:
    """The component of an inline command step: its command, code and environment, its inputs and outputs
    declared by type (the step's bindings stay on the node), as azure-ai-ml registers it."""
    out: dict[str, Any] = {}
    for key in COMPONENT_KEYS + ("resources", "distribution"):
        if key not in node:
            continue
        value = node[key]
        if key == "code" and isinstance(value, str) and is_local(value):
            out["code"] = assets.code(local_path(base, value), name)
        elif key == "environment":
            out["environment"] = environment_ref(value, base, assets)
        elif key == "distribution" and isinstance(value, Mapping):
            out[key] = component_distribution(value)
        else:
            out[key] = value
    out.update({"name": name, "version": version})
    out.setdefault("is_deterministic", True)
    inputs = {str(k): inline_input(v, graph) for k, v in (node.get("inputs") or {}).items()}
    outputs = {str(k): inline_output(v, graph) for k, v in (node.get("outputs") or {}).items()}
    if inputs:
        out["inputs"] = inputs
    if outputs:
        out["outputs"] = outputs
    out["type"] = "command"
    out["_source"] = "YAML.JOB"
    return out


def inline_input(value: object, graph: Graph) -> dict[str, Any]:
    if isinstance(value, Mapping):
        kind = str(value.get("type") or "uri_folder")
        entry: dict[str, Any] = {"type": kind}
        if kind not in DATA_TYPES and value.get("default") is not None:
            entry["default"] = literal(value["default"])
        if value.get("mode"):
            entry["mode"] = str(value["mode"])
        return entry
    if isinstance(value, str) and (m := PARENT_INPUT.match(value)):
        return _declared(graph.inputs.get(m.group(1)), output=False)
    if isinstance(value, str) and (m := STEP_OUTPUT_PARTS.match(value)):
        return {"type": _sibling_output_type(graph, m.group(1), m.group(2))}
    entry = {"type": _literal_type(value)}
    if value is not None:
        entry["default"] = literal(value)
    return entry


def _declared(parent: object, *, output: bool) -> dict[str, Any]:
    """The type (and mode) of a pipeline-level input or output an inline port is bound to."""
    if not isinstance(parent, Mapping):
        return {"type": "uri_folder"} if output or parent is None and output else {"type": _literal_type(parent) if parent is not None else "string"}
    kind = parent.get("type") or ("uri_folder" if output or "path" in parent else _literal_type(parent.get("default")))
    entry: dict[str, Any] = {"type": str(kind)}
    if parent.get("mode"):
        entry["mode"] = str(parent["mode"])
    return entry


def _sibling_output_type(graph: Graph, step: str, output: str) -> str:
    node = graph.jobs.get(step)
    if not isinstance(node, Mapping):
        return "uri_folder"
    declared = (node.get("outputs") or {}).get(output) if isinstance(node.get("outputs"), Mapping) else None
    if isinstance(declared, Mapping) and declared.get("type"):
        return str(declared["type"])
    ref = node.get("component") or node.get("trial")
    if isinstance(ref, str) and not ref.startswith("azureml:"):
        try:
            spec, _ = read_component(graph.base, ref)
        except UsageError:
            return "uri_folder"
        port = (spec.get("outputs") or {}).get(output)
        if isinstance(port, Mapping) and port.get("type"):
            return str(port["type"])
    return "uri_folder"


def inline_output(value: object, graph: Graph) -> dict[str, Any]:
    if isinstance(value, str) and (m := PARENT_OUTPUT.match(value)):
        return _declared(graph.outputs.get(m.group(1)), output=True)
    entry: dict[str, Any] = {"type": "uri_folder"}
    if isinstance(value, Mapping):
        path = value.get("path")
        if isinstance(path, str) and (m := PARENT_OUTPUT.match(path)):
            return _declared(graph.outputs.get(m.group(1)), output=True)
        entry["type"] = str(value.get("type") or "uri_folder")
        if value.get("mode"):
            entry["mode"] = str(value["mode"])
    return entry


def component_distribution(value: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(value)
    if str(value.get("type", "")).lower() == "tensorflow":
        out.setdefault("parameter_server_count", 0)
    return out


def read_component(base: Path, ref: str) -> tuple[Mapping[str, Any], Path]:
    """``component: ./x.yml`` or ``file:./x.yml``: the component file's mapping and its folder."""
    file = local_path(base, ref)
    if not file.is_file():
        raise UsageError(f"the component file {ref} does not exist (relative to {base}).")
    data = load_yaml(file).data
    if not isinstance(data, Mapping):
        raise UsageError(f"the component file {file} is not a mapping.")
    if "flow" in data or "nodes" in data or "promptflow" in str(data.get("$schema", "")):
        # azure-ai-ml registers a prompt flow as a parallel component built from the flow's own tool metadata
        # (.promptflow/flow.tools.json, which promptflow writes); retrain does not build that, and a flow sent as a
        # command component would be refused by the service.
        raise UsageError(f"the component {ref} is a prompt flow, which retrain does not register on Azure ML: register it "
                         "with `az ml component create` (it needs the flow's .promptflow/flow.tools.json) and name it as "
                         "component: azureml:NAME:VERSION.")
    return data, file.parent


def task_spec(task: Mapping[str, Any], base: Path, assets: Assets, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in task.items():
        if key == "code" and isinstance(value, str) and is_local(value):
            out[key] = assets.code(local_path(base, value), name)
        elif key == "environment":
            out[key] = environment_ref(value, base, assets)
        else:
            out[str(key)] = value
    return out


SIZES = {"kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3, "tb": 1024 ** 4}


def parse_size(value: object) -> int:
    """A parallel step's ``mini_batch_size`` as the SDK parses it: ``10kb`` -> 10240, a count as it is."""
    text = str(value).strip().lower()
    m = re.fullmatch(r"(\d+)\s*(kb|mb|gb|tb)?", text)
    if m is None:
        raise UsageError(f"mini_batch_size {value!r} is not a count or a size such as 10kb.")
    return int(m.group(1)) * SIZES.get(m.group(2) or "", 1)
