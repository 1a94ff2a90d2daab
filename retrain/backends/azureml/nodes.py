"""A step as the node of a pipeline job's ``jobs``, the shape azure-ai-ml 1.35.2 sends:

- a command node carries ``name``, ``type``, ``componentId``, ``_source`` and, as written on the step, ``computeId``
  (an ARM id), ``resources``, ``limits`` (the timeout as an ISO duration), ``distribution`` (``distribution_type``
  as the REST enum spells it), ``environment_variables``, ``services``, ``inputs`` (``job_input_type``: ``literal``
  with a string ``value`` for values and bindings, the data type with ``uri`` and ``mode`` for data given in place,
  local data uploaded) and ``outputs`` (a ``${{parent.outputs.X}}`` binding as a literal, else
  ``job_output_type`` with ``mode``/``uri``);
- a step retrain does not run itself (parallel, sweep, spark, automl, a pipeline component) passes its keys on as
  the YAML writes them, with the same inputs, outputs and compute.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .environments import environment_ref
from .wire import BINDING, PARENT_OUTPUT, Assets, is_local, literal, local_path, mode

DISTRIBUTIONS = {"pytorch": "PyTorch", "mpi": "Mpi", "tensorflow": "TensorFlow", "ray": "Ray"}
# Node keys azure-ai-ml carries as written.
NODE_AS_WRITTEN = ("resources", "limits", "environment_variables", "services", "identity", "properties", "tags",
                   "display_name", "description", "queue_settings")


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
