"""A pipeline's steps in the REST shape azure-ai-ml 1.35.2 sends for them, built from the YAML mappings.

The interface is the YAML itself, so every step type the service runs is translated without a typed model of it:
:func:`translate_jobs` takes a ``jobs:`` mapping as written (with the pipeline's declared inputs and outputs and
the folder paths are relative to) and returns the ``jobs`` of a pipeline job or of a pipeline component's
``componentSpec``; :func:`translate_node` does one step. What lives on the submitting machine, and what the
workspace must resolve, goes through :class:`Assets` callbacks the backend provides (upload code, data and build
contexts, register components and environments, resolve registered components and data, compute ids), as the
SDK's dependency resolution does.

The shapes are what azure-ai-ml 1.35.2 sends through the fake Azure for the same YAML (tests/test_azure_oracle.py
compares them field by field for every example of Azure/azureml-examples ``cli/jobs``; docs/azure.md lists the
differences and their reasons):

- a command node carries ``name``, ``type``, ``componentId``, ``_source`` and, as written on the step, ``computeId``
  (an ARM id), ``resources``, ``limits`` (the timeout as an ISO duration), ``distribution`` (``distribution_type``
  as the REST enum spells it), ``environment_variables``, ``services``, ``inputs`` (``job_input_type``: ``literal``
  with a string ``value`` for values and bindings, the data type with ``uri`` and ``mode`` for data given in place,
  local data uploaded) and ``outputs`` (a ``${{parent.outputs.X}}`` binding as a literal, else
  ``job_output_type`` with ``mode``/``uri``);
- every step gets its own component: an inline step's from its own keys, its inputs and outputs declared by type
  (inferred from what they are bound to), never its bindings;
- an environment given in place is registered as azure-ai-ml's anonymous environment (its name, and its version
  derived from the image, conda file or build context as the SDK derives it) and referenced by id;
- sweep, parallel, spark, automl and pipeline-component steps as the SDK sends them (see translate_node).
"""

from __future__ import annotations

import hashlib
import json
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
STEP_OUTPUT_PARTS = re.compile(r"^\s*\$\{\{\s*parent\.jobs\.([A-Za-z0-9_]+)\.outputs\.([A-Za-z0-9_]+)\s*\}\}\s*$")
# Keys of a command step that are its inline component's, not the node's.
COMPONENT_KEYS = ("command", "code", "environment", "is_deterministic")
# Node keys azure-ai-ml carries as written.
NODE_AS_WRITTEN = ("resources", "limits", "environment_variables", "services", "identity", "properties", "tags",
                   "display_name", "description", "queue_settings")


@dataclass(frozen=True)
class Graph:
    """Where a step sits: its pipeline's declared inputs and outputs and its sibling steps (an inline step's ports
    take their types, as the SDK infers them, from what they are bound to)."""

    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    jobs: Mapping[str, Any]
    base: Path


@dataclass(frozen=True)
class Assets:
    """What a translation needs from the backend; each returns the id the REST body names."""

    code: Callable[[Path, str], str]  # a local code folder or file, its component's name -> "azureml:<code version ARM id>"
    data: Callable[[Path, str], str]  # a local data path and its type -> the URI a node input carries
    environment: Callable[[str, dict[str, Any]], str]  # (name, version) and EnvironmentVersion properties -> ARM id
    component: Callable[[dict[str, Any]], str]  # a componentSpec -> the component version's ARM id
    compute: Callable[[str], str]  # a compute name (or azureml:name) -> its ARM id
    data_ref: Callable[[str, str], str] = lambda ref, kind: ref  # azureml:name:version or name@latest -> ARM id
    component_ref: Callable[[str], str] = lambda ref: ref  # azureml:name:version, name@latest -> ARM id
    name: Callable[[str], str] = lambda name: name  # a component's name as the workspace takes it
    build_context: Callable[[Path], str] = lambda path: str(path)  # a Docker build context folder -> its blob URL + "/"


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
    build = spec.get("build")
    if isinstance(build, Mapping) and isinstance(build.get("path"), str) and is_local(build["path"]):
        context = local_path(base, build["path"])
        if not context.is_dir():
            raise UsageError(f"the environment's build context {build['path']} is not a folder (relative to {base}).")
        dockerfile = build.get("dockerfile_path")
        digest = _sha256(object_hash(context))
        if dockerfile:
            digest = digest.join(_sha256(str(dockerfile)))  # azure-ai-ml's own combination, as for conda files
        props = {"build": {"contextUri": "", **({"dockerfilePath": str(dockerfile)} if dockerfile else {})},
                 "isAnonymous": True, "isArchived": False}
        return ANONYMOUS_ENVIRONMENT, _sha256(digest), props
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


def object_hash(path: Path) -> str:
    """azure-ai-ml's hash of a folder it uploads (``get_object_hash``): entries sorted by lowercase path, each one's
    name then its bytes, folders recursively. The SDK leaves out what an .amlignore/.gitignore names; so does this."""
    digest = hashlib.sha256(b"Initialize for october 2021 AML CLI version")
    ignored = _ignored(path)

    def walk(folder: Path) -> None:
        for entry in sorted(folder.iterdir(), key=lambda p: str(p).lower()):
            if entry.name in ignored:
                continue
            digest.update(entry.name.encode())
            target = entry.resolve() if entry.is_symlink() else entry
            if target.is_file():
                with target.open("rb") as stream:
                    while chunk := stream.read(1 << 20):
                        digest.update(chunk)
            elif target.is_dir():
                walk(target)

    walk(path)
    return digest.hexdigest()


def _ignored(folder: Path) -> set[str]:
    """Plain names an .amlignore (else .gitignore) at the folder's top lists; patterns beyond names are not read."""
    for name in (".amlignore", ".gitignore"):
        file = folder / name
        if file.is_file():
            return {line.strip().strip("/") for line in file.read_text(encoding="utf-8", errors="replace").splitlines()
                    if line.strip() and not line.startswith("#") and not any(c in line for c in "*?[!")}
    return set()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf8")).hexdigest()


def environment_ref(value: object, base: Path, assets: Assets) -> object:
    if isinstance(value, Mapping):
        name, version, props = anonymous_environment(value, base)
        if "build" in props:  # the build context is uploaded to the default datastore, as azure-ai-ml does
            props["build"]["contextUri"] = assets.build_context(local_path(base, str(value["build"]["path"])))
        return "azureml:" + assets.environment(f"{name}:{version}", props)
    return value


# -- components -------------------------------------------------------------------------------------


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
    inputs = {str(k): _inline_input(v, graph) for k, v in (node.get("inputs") or {}).items()}
    outputs = {str(k): _inline_output(v, graph) for k, v in (node.get("outputs") or {}).items()}
    if inputs:
        out["inputs"] = inputs
    if outputs:
        out["outputs"] = outputs
    out["type"] = "command"
    out["_source"] = "YAML.JOB"
    return out


def _inline_input(value: object, graph: Graph) -> dict[str, Any]:
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


def _inline_output(value: object, graph: Graph) -> dict[str, Any]:
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


SERVICES = {"vs_code": "VSCode", "jupyter_lab": "JupyterLab", "tensor_board": "TensorBoard", "ssh": "SSH", "custom": "Custom"}
IDENTITIES = {"user_identity": "UserIdentity", "managed": "Managed", "managed_identity": "Managed", "aml_token": "AMLToken"}


def services(value: Mapping[str, Any]) -> dict[str, Any]:
    """A command node's interactive services as the SDK sends them: ``job_service_type`` for ``type``, a
    TensorBoard's ``log_dir`` as its ``logDir`` property."""
    out: dict[str, Any] = {}
    for name, spec in value.items():
        if not isinstance(spec, Mapping):
            out[str(name)] = spec
            continue
        entry = {str(k): v for k, v in spec.items() if k not in ("type", "log_dir")}
        if spec.get("log_dir"):
            entry["properties"] = {**(entry.get("properties") or {}), "logDir": spec["log_dir"]}
        entry["job_service_type"] = SERVICES.get(str(spec.get("type")), str(spec.get("type")))
        out[str(name)] = entry
    return out


def identity(value: Mapping[str, Any]) -> dict[str, Any]:
    out = {str(k): v for k, v in value.items() if k != "type"}
    out["identity_type"] = IDENTITIES.get(str(value.get("type")), str(value.get("type")))
    return out


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
    if isinstance(node.get("services"), Mapping):
        out["services"] = services(node["services"])
    if isinstance(node.get("limits"), Mapping):
        out["limits"] = limits(node["limits"], str(node.get("type") or "command"))
    if isinstance(node.get("distribution"), Mapping):
        out["distribution"] = distribution(node["distribution"])
    out.update({"name": name, "type": str(node.get("type") or "command")})
    out.update(node_ports(node, base, assets))
    out["_source"] = source
    out["componentId"] = component_id
    return out


def node_ports(node: Mapping[str, Any], base: Path, assets: Assets) -> dict[str, Any]:
    """A node's compute by id, its inputs (local data uploaded) and outputs, as every step type sends them."""
    out: dict[str, Any] = {}
    if node.get("compute"):
        out["computeId"] = assets.compute(str(node["compute"]))
    inputs = {str(k): node_input(v, base, assets) for k, v in (node.get("inputs") or {}).items() if v is not None}
    if inputs:
        out["inputs"] = inputs
    outputs = {str(k): node_output(v) for k, v in (node.get("outputs") or {}).items() if v is not None}
    if outputs:
        out["outputs"] = outputs
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
            out[key] = assets.code(local_path(base, value), assets.name(name))
        elif key == "environment":
            out[key] = environment_ref(value, base, assets)
        elif key == "distribution" and isinstance(value, Mapping):
            out[key] = distribution(value)
        elif key == "identity" and isinstance(value, Mapping):
            out[key] = identity(value)
        elif key == "entry" and isinstance(value, Mapping):
            out[key] = {**value, "spark_job_entry_type": "SparkJobPythonEntry" if "file" in value else "SparkJobScalaEntry"}
        else:
            out[str(key)] = value
    out["name"] = name
    if node.get("type") == "spark":
        out.setdefault("identity", {"identity_type": "UserIdentity"})  # the SDK's default for a spark step
        if component_id is not None and node.get("component") is not None and isinstance(out.get("resources"), Mapping) \
                and out["resources"].get("instance_type"):
            # a spark step of a component file: the SDK sends the instance type lowercased (an inline one as written)
            out["resources"] = {**out["resources"], "instance_type": str(out["resources"]["instance_type"]).lower()}
        conf = out.get("conf")
        if isinstance(conf, Mapping) and conf.get("spark.dynamicAllocation.enabled") and "spark.executor.instances" not in conf \
                and "spark.dynamicAllocation.minExecutors" in conf:
            # with dynamic allocation the SDK starts at the minimum number of executors
            out["conf"] = {**conf, "spark.executor.instances": conf["spark.dynamicAllocation.minExecutors"]}
    out.update(node_ports(node, base, assets))
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


# -- a whole graph ----------------------------------------------------------------------------------


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
        out["task"] = _task(spec["task"], base, assets, name)
    if kind == "parallel" and "mini_batch_size" in spec:
        out["mini_batch_size"] = str(parse_size(spec["mini_batch_size"]))
    if kind == "spark":
        for key in ("code",):
            if isinstance(spec.get(key), str) and is_local(spec[key]):
                out[key] = assets.code(local_path(base, spec[key]), name)
    out["_source"] = source
    return out


def _task(task: Mapping[str, Any], base: Path, assets: Assets, name: str) -> dict[str, Any]:
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
        inputs = {str(k): _inline_input(v, graph) for k, v in (node.get("inputs") or {}).items()}
        outputs = {str(k): _inline_output(v, graph) for k, v in (node.get("outputs") or {}).items()}
        if inputs:
            inline["inputs"] = inputs
        if outputs:
            inline["outputs"] = outputs
        cid = assets.component(any_component_spec(inline, base, assets, name=assets.name(name), source="YAML.JOB"))
        on_node = {k: v for k, v in node.items() if k not in ("code",)} if kind == "spark" else node
        out = pass_through_node(name, on_node, base, assets, component_id=cid)
        if isinstance(node.get("task"), Mapping):
            out["task"] = _task(node["task"], base, assets, assets.name(name))
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


# -- automl ---------------------------------------------------------------------------------------------

# A sampling expression's parameters, in the order azure-ai-ml writes them: uniform(0.0001,0.001).
EXPRESSIONS = {"uniform": ("min_value", "max_value"), "loguniform": ("min_value", "max_value"),
               "quniform": ("min_value", "max_value", "q"), "qloguniform": ("min_value", "max_value", "q"),
               "normal": ("mu", "sigma"), "lognormal": ("mu", "sigma"), "qnormal": ("mu", "sigma", "q"),
               "qlognormal": ("mu", "sigma", "q"), "randint": ("upper",)}
TEXT_TASKS = ("text_classification", "text_classification_multilabel", "text_ner")
IMAGE_TASKS = ("image_classification", "image_classification_multilabel", "image_object_detection", "image_instance_segmentation")


def _term(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def expression(spec: object) -> object:
    """One search-space entry as the SDK writes it for an AutoML node: ``choice('a','b')``, ``uniform(0.1,1)``."""
    if not isinstance(spec, Mapping):
        return spec
    kind = str(spec.get("type"))
    if kind == "choice":
        return f"choice({','.join(_term(v) for v in spec.get('values') or [])})"
    if kind in EXPRESSIONS:
        return f"{kind}({','.join(_term(spec.get(k)) for k in EXPRESSIONS[kind])})"
    return dict(spec)


def automl(node: Mapping[str, Any]) -> dict[str, Any]:
    """An AutoML node's keys as azure-ai-ml sends them: image search spaces as expressions, the defaults it adds
    (text tasks run on one node, a bandit policy's slack amount)."""
    out = dict(node)
    task = str(node.get("task"))
    if isinstance(node.get("search_space"), list):
        out["search_space"] = [{str(k): expression(v) for k, v in space.items()} if isinstance(space, Mapping) else space
                               for space in node["search_space"]]
    if task in TEXT_TASKS:
        out["limits"] = {**(node.get("limits") or {}), **({} if "max_nodes" in (node.get("limits") or {}) else {"max_nodes": 1})}
    sweep = node.get("sweep")
    if task in IMAGE_TASKS and isinstance(sweep, Mapping) and isinstance(sweep.get("early_termination"), Mapping):
        policy = dict(sweep["early_termination"])
        if str(policy.get("type")) == "bandit" and "slack_factor" in policy:
            policy.setdefault("slack_amount", 0.0)
        out["sweep"] = {**sweep, "early_termination": policy}
    return out
