"""A pipeline's steps in the REST shape azure-ai-ml 1.35.2 sends for them, built from the YAML mappings.

The interface is the YAML itself, so every step type the service runs can be translated without a typed model of
it: :func:`node` takes one ``jobs:`` entry as written (plus the component mapping it names, already read) and
returns the node of ``jobs`` in a pipeline job or a pipeline component's ``componentSpec``. What lives on the
submitting machine is handed to :class:`Assets` callbacks (the backend uploads and registers it) and replaced by
the ids they return, as the SDK's dependency resolution does.

The shapes follow what azure-ai-ml 1.35.2 sends through the fake Azure for the same YAML
(tests/test_azure_oracle.py compares them field by field; docs/azure.md lists the differences and their reasons):

- a node carries ``name``, ``type``, ``componentId``, ``_source`` and, as written on the step, ``computeId`` (an ARM
  id), ``resources``, ``limits``, ``distribution`` (``distribution_type`` spelled as the SDK does),
  ``environment_variables``, ``inputs`` (``job_input_type``: ``literal`` with a string ``value`` for values and
  bindings, the data type with ``uri`` and ``mode`` for data given in place) and ``outputs`` (a
  ``${{parent.outputs.X}}`` binding as a literal, else ``job_output_type`` with ``mode``/``uri``);
- an inline command step's component declares its inputs and outputs by type, never the step's bindings;
- an inline environment is registered as azure-ai-ml's anonymous environment and referenced by id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ...errors import UsageError
from ...yamlfile import load_yaml

ANONYMOUS_ENVIRONMENT = "CliV2AnonymousEnvironment"  # azure-ai-ml's name for an environment given in place
# Input and output delivery modes as YAML writes them -> as the REST API spells them.
MODES = {"ro_mount": "ReadOnlyMount", "rw_mount": "ReadWriteMount", "download": "Download", "upload": "Upload",
         "direct": "Direct", "eval_mount": "EvalMount", "eval_download": "EvalDownload"}
DISTRIBUTIONS = {"pytorch": "PyTorch", "mpi": "Mpi", "tensorflow": "TensorFlow", "ray": "Ray"}
DATA_TYPES = ("uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model")
BINDING = re.compile(r"^\s*\$\{\{\s*parent\.(inputs|outputs|jobs)\.[^}]*\}\}\s*$")
PARENT_OUTPUT = re.compile(r"^\s*\$\{\{\s*parent\.outputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")
PARENT_INPUT = re.compile(r"^\s*\$\{\{\s*parent\.inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")
STEP_OUTPUT = re.compile(r"^\s*\$\{\{\s*parent\.jobs\.[A-Za-z0-9_]+\.outputs\.[A-Za-z0-9_]+\s*\}\}\s*$")
# Keys of a command step that are its inline component's, not the node's.
COMPONENT_KEYS = ("command", "code", "environment", "is_deterministic")
# Node keys azure-ai-ml carries as written.
NODE_AS_WRITTEN = ("resources", "limits", "environment_variables", "services", "identity", "properties", "tags",
                   "display_name", "description", "queue_settings")
# Step types retrain passes to the service: their nodes carry these keys as written (snake_case, as the SDK's
# node schemas dump them), local paths uploaded.
PASS_THROUGH = ("parallel", "sweep", "spark", "automl", "pipeline", "import", "data_transfer")


@dataclass(frozen=True)
class Assets:
    """What a translation needs from the backend; each returns the id the REST body names."""

    code: Callable[[Path], str]  # a local code folder or file -> "azureml:<code version ARM id>"
    data: Callable[[Path, str], str]  # a local data path and its type -> the URI a node input carries
    environment: Callable[[str, dict[str, Any]], str]  # (name, version) and EnvironmentVersion properties -> ARM id
    component: Callable[[dict[str, Any]], str]  # a componentSpec -> the component version's ARM id
    compute: Callable[[str], str]  # a compute name (or azureml:name) -> its ARM id
    data_ref: Callable[[str, str], str] = lambda ref, kind: ref  # azureml:name:version or name@latest -> ARM id


def literal(value: object) -> str:
    """A value as the SDK writes a literal: YAML booleans as Python spells them (``True``), numbers as written."""
    return str(value)


def mode(value: object) -> str:
    text = str(value)
    return MODES.get(text, text)


def is_local(path: str) -> bool:
    return not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path) or path.startswith("file:")


def local_path(base: Path, path: str) -> Path:
    return (base / path.removeprefix("file:")).resolve()


def pipeline_yaml(path: Path) -> Mapping[str, Any]:
    """The pipeline file's top mapping as written: the nodes are translated from it (the loader has checked it)."""
    data = load_yaml(path).data
    return data if isinstance(data, Mapping) else {}


# -- environments -----------------------------------------------------------------------------------


def anonymous_environment(spec: Mapping[str, Any], base: Path) -> tuple[str, str, dict[str, Any]]:
    """An environment given in place (``{image: ...}``, ``{image, conda_file}``) as azure-ai-ml registers it:
    name ``CliV2AnonymousEnvironment``, version the SDK's hash of the image and the conda file (as it dumps it),
    properties as its REST object carries them."""
    if spec.get("build"):
        raise UsageError("an environment built from a Docker context in place is not supported; register it and give azureml:NAME:VERSION.")
    image = str(spec.get("image") or "")
    conda = spec.get("conda_file")
    conda_text = None
    if conda is not None:
        data = conda
        if isinstance(conda, str):
            file = local_path(base, conda)
            if not file.is_file():
                raise UsageError(f"the environment's conda_file {conda} does not exist (relative to {base}).")
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        conda_text = yaml.dump(data, sort_keys=True)
    digest = _sha256(image)
    if conda_text is not None:
        digest = digest.join(_sha256(conda_text))  # azure-ai-ml's own combination: str.join, as written there
    version = _sha256(digest)
    props: dict[str, Any] = {}
    if conda_text is not None:
        props["condaFile"] = conda_text
    if image:
        props["image"] = image
    if spec.get("os_type"):
        props["osType"] = spec["os_type"]
    if spec.get("description"):
        props["description"] = spec["description"]
    props.update({"isAnonymous": True, "isArchived": False})
    return ANONYMOUS_ENVIRONMENT, version, props


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf8")).hexdigest()


def environment_ref(value: object, base: Path, assets: Assets) -> object:
    if isinstance(value, Mapping):
        name, version, props = anonymous_environment(value, base)
        return "azureml:" + assets.environment(f"{name}:{version}", props)
    return value


# -- components -------------------------------------------------------------------------------------


def _port(spec: object, *, output: bool) -> dict[str, Any]:
    """A declared input or output as the SDK dumps it: defaults as strings, modes as written."""
    if not isinstance(spec, Mapping):
        return {"type": "uri_folder"} if output else {"type": _literal_type(spec)}
    out: dict[str, Any] = {}
    kind = spec.get("type")
    for key, value in spec.items():
        if key in ("default", "min", "max") and value is not None and not isinstance(value, str):
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
            out["code"] = assets.code(local_path(base, value))
        elif key == "environment":
            out["environment"] = environment_ref(value, base, assets)
        elif key in ("inputs", "outputs") and isinstance(value, Mapping):
            out[key] = {str(k): _port(v, output=key == "outputs") for k, v in value.items()}
        elif key == "distribution" and isinstance(value, Mapping):
            out[key] = component_distribution(value)
        elif key != "version":
            out[str(key)] = value
    out.update({"name": name, "version": version})
    out.setdefault("is_deterministic", True)
    out.setdefault("type", "command")
    out["_source"] = "YAML.COMPONENT"
    return out


def inline_component_spec(node: Mapping[str, Any], base: Path, assets: Assets, *, name: str, version: str,
                          parent_inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The component of an inline command step: its command, code and environment, its inputs and outputs
    declared by type (the step's bindings stay on the node), as azure-ai-ml registers it."""
    out: dict[str, Any] = {}
    for key in COMPONENT_KEYS + ("resources", "distribution"):
        if key not in node:
            continue
        value = node[key]
        if key == "code" and isinstance(value, str) and is_local(value):
            out["code"] = assets.code(local_path(base, value))
        elif key == "environment":
            out["environment"] = environment_ref(value, base, assets)
        elif key == "distribution" and isinstance(value, Mapping):
            out[key] = component_distribution(value)
        else:
            out[key] = value
    out.update({"name": name, "version": version})
    out.setdefault("is_deterministic", True)
    inputs = {str(k): _inline_input(v, parent_inputs) for k, v in (node.get("inputs") or {}).items()}
    outputs = {str(k): _inline_output(v) for k, v in (node.get("outputs") or {}).items()}
    if inputs:
        out["inputs"] = inputs
    if outputs:
        out["outputs"] = outputs
    out["type"] = "command"
    out["_source"] = "YAML.JOB"
    return out


def _inline_input(value: object, parent_inputs: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, Mapping):
        kind = str(value.get("type") or "uri_folder")
        entry: dict[str, Any] = {"type": kind}
        if kind not in DATA_TYPES and value.get("default") is not None:
            entry["default"] = literal(value["default"])
        return entry
    if isinstance(value, str) and (m := PARENT_INPUT.match(value)):
        parent = parent_inputs.get(m.group(1))
        kind = parent.get("type") if isinstance(parent, Mapping) else None
        if kind is None and isinstance(parent, Mapping) and "path" in parent:
            kind = "uri_folder"
        return {"type": str(kind or "string")}
    if isinstance(value, str) and STEP_OUTPUT.match(value):
        return {"type": "uri_folder"}
    entry = {"type": _literal_type(value)}
    if value is not None:
        entry["default"] = literal(value)
    return entry


def _inline_output(value: object) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "uri_folder"}
    if isinstance(value, Mapping):
        entry["type"] = str(value.get("type") or "uri_folder")
        if value.get("mode"):
            entry["mode"] = str(value["mode"])
    return entry


# -- nodes ------------------------------------------------------------------------------------------


def node_input(value: object, base: Path, assets: Assets) -> dict[str, Any]:
    """One input of a node: a binding or a value as a literal; data given in place by its type, uploaded when local."""
    if isinstance(value, Mapping):
        raw = value.get("path")
        if raw is None and "value" not in value:
            return {"job_input_type": "literal", "value": literal(value.get("default"))}
        kind = str(value.get("type") or "uri_folder")
        entry: dict[str, Any]
        if isinstance(raw, str) and BINDING.match(raw):
            entry = {"value": raw, "job_input_type": "literal"}
        elif isinstance(raw, str):
            if is_local(raw):
                uri = assets.data(local_path(base, raw), kind)
            elif raw.startswith("azureml:") and not raw.startswith("azureml://"):
                uri = assets.data_ref(raw, kind)
            else:
                uri = raw
            entry = {"uri": uri, "job_input_type": kind}
        else:
            entry = {"value": literal(value.get("value")), "job_input_type": "literal"}
        if value.get("mode"):
            entry["mode"] = mode(value["mode"])
        return entry
    return {"value": literal(value), "job_input_type": "literal"}


def node_output(value: object) -> dict[str, Any]:
    if isinstance(value, str) and PARENT_OUTPUT.match(value):
        return {"value": value.strip(), "type": "literal"}
    if isinstance(value, Mapping):
        path = value.get("path")
        if isinstance(path, str) and PARENT_OUTPUT.match(path):
            return {"value": path.strip(), "type": "literal"}
        entry: dict[str, Any] = {}
        if path:
            entry["uri"] = path
        if value.get("mode"):
            entry["mode"] = mode(value["mode"])
        for key in ("name", "version"):
            if value.get(key) is not None:
                entry[key] = str(value[key])
        entry["job_output_type"] = str(value.get("type") or "uri_folder")
        return entry
    return {"job_output_type": "uri_folder"}


def distribution(value: Mapping[str, Any]) -> dict[str, Any]:
    """A node's distribution as the SDK sends it: ``distribution_type`` spelled as the REST enum, TensorFlow's
    parameter server count given (0 when the YAML leaves it out)."""
    out = {str(k): v for k, v in value.items() if k != "type"}
    kind = str(value.get("type", "")).lower()
    if kind == "tensorflow":
        out.setdefault("parameter_server_count", 0)
    out["distribution_type"] = DISTRIBUTIONS.get(kind, str(value.get("type")))
    return out


def component_distribution(value: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(value)
    if str(value.get("type", "")).lower() == "tensorflow":
        out.setdefault("parameter_server_count", 0)
    return out


def iso_duration(seconds: float) -> str:
    """Seconds as an ISO 8601 duration the way azure-ai-ml writes a limit (isodate's format): 3600 -> PT1H."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    fraction = seconds - whole
    time_part = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if secs or fraction:
        time_part += f"{secs + fraction:g}S"
    text = "P" + (f"{days}D" if days else "") + (f"T{time_part}" if time_part else "")
    return text if text != "P" else "P0D"


def limits(value: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A command node's limits as the SDK sends them: the timeout as an ISO duration, the limits type named."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        out[str(key)] = iso_duration(float(item)) if key == "timeout" and isinstance(item, (int, float)) and item else item
    if kind == "command":
        out["job_limits_type"] = "Command"
    return out


def command_node(name: str, node: Mapping[str, Any], base: Path, assets: Assets, *, component_id: str, source: str) -> dict[str, Any]:
    """A command step as the node of ``jobs``: what the step itself says (its component is registered apart)."""
    out: dict[str, Any] = {}
    for key in NODE_AS_WRITTEN:
        if node.get(key) not in (None, {}):
            out[key] = dict(node[key]) if isinstance(node[key], Mapping) else node[key]
    if isinstance(node.get("limits"), Mapping):
        out["limits"] = limits(node["limits"], str(node.get("type") or "command"))
    if isinstance(node.get("distribution"), Mapping):
        out["distribution"] = distribution(node["distribution"])
    out.update({"name": name, "type": str(node.get("type") or "command")})
    if node.get("compute"):
        out["computeId"] = assets.compute(str(node["compute"]))
    inputs = {str(k): node_input(v, base, assets) for k, v in (node.get("inputs") or {}).items() if v is not None}
    if inputs:
        out["inputs"] = inputs
    outputs = {str(k): node_output(v) for k, v in (node.get("outputs") or {}).items() if v is not None}
    if outputs:
        out["outputs"] = outputs
    out["_source"] = source
    out["componentId"] = component_id
    return out


def pass_through_node(name: str, node: Mapping[str, Any], base: Path, assets: Assets, *, component_id: str | None) -> dict[str, Any]:
    """A step retrain does not run itself (parallel, sweep, spark, automl, a pipeline component): its keys as the
    YAML writes them, inputs and outputs as for a command step, local code and data uploaded, an inline
    environment registered, the compute by id. ``component_id`` is its registered component (None for automl,
    which has none). The service, not retrain, checks the rest of its keys."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("inputs", "outputs", "component", "compute"):
            continue
        if key in ("code",) and isinstance(value, str) and is_local(value):
            out[key] = assets.code(local_path(base, value))
        elif key == "environment":
            out[key] = environment_ref(value, base, assets)
        elif key == "distribution" and isinstance(value, Mapping):
            out[key] = distribution(value)
        else:
            out[str(key)] = value
    out["name"] = name
    if node.get("compute"):
        out["computeId"] = assets.compute(str(node["compute"]))
    inputs = {str(k): node_input(v, base, assets) for k, v in (node.get("inputs") or {}).items() if v is not None}
    if inputs:
        out["inputs"] = inputs
    outputs = {str(k): node_output(v) for k, v in (node.get("outputs") or {}).items() if v is not None}
    if outputs:
        out["outputs"] = outputs
    out["_source"] = "YAML.JOB"
    if component_id is not None:
        out["componentId"] = component_id
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
