"""What the fake Azure checks in the parts of a request body the REST description leaves open (``componentSpec``,
``jobs``, ``settings`` are ``any`` there): with azure-ai-ml 1.35.2's own schemas where it has them.

- a componentSpec is loaded with azure-ai-ml's ``load_component`` (its marshmallow schema: names, port types,
  defaults, modes, keys it does not know) after undoing what the SDK changes on the wire (``_source``,
  ``sourceJobId``, ``partition_keys`` as JSON); a pipeline component's interface so, its REST-shaped nodes below;
- a pipeline component's and a pipeline job's ``jobs`` nodes are checked for the REST shape azure-ai-ml sends
  (``job_input_type``/``job_output_type`` from the service's enums, literal values as strings, a component or
  trial id for every step that needs one);
- a pipeline job's ``settings``: compute and datastore by ARM id, ``continue_on_step_failure`` a boolean.

Additive to tests/fakes/azure.py: ``semantic_problems`` calls :func:`body_problems`.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import warnings
from collections.abc import Mapping
from typing import Any

import yaml

JOB_INPUT_TYPES = {"literal", "uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model", "triton_model"}
JOB_OUTPUT_TYPES = JOB_INPUT_TYPES - {"literal"}
INPUT_MODES = {"ReadOnlyMount", "ReadWriteMount", "Download", "Direct", "EvalMount", "EvalDownload"}
OUTPUT_MODES = {"ReadWriteMount", "Upload", "Direct"}
NODE_TYPES = {"command", "parallel", "sweep", "spark", "automl", "pipeline", "import", "data_transfer", "flow_parallel"}
# azure-ai-ml's PipelineJobSettings (entities/_job/pipeline/pipeline_job_settings.py) and what it adds on the wire.
SETTINGS = {"default_datastore", "default_compute", "continue_on_step_failure", "force_rerun", "default_compute_type",
            "on_init", "on_finalize", "_source"}
ARM_ID = re.compile(r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+/(computes|datastores)/[^/]+")


def body_problems(rest: str, body: Mapping[str, Any]) -> list[str]:
    props = body.get("properties") if isinstance(body, Mapping) else None
    if not isinstance(props, Mapping):
        return []
    if re.fullmatch(r"/components/[^/]+/versions/[^/]+", rest):
        return component_problems(props.get("componentSpec"))
    if re.fullmatch(r"/jobs/[^/]+", rest) and props.get("jobType") == "Pipeline":
        return [*jobs_problems(props.get("jobs") or {}, "jobs"), *settings_problems(props.get("settings") or {})]
    return []


def component_problems(spec: object) -> list[str]:
    if not isinstance(spec, Mapping):
        return ["componentSpec must be an object"]
    kind = spec.get("type", "command")
    problems = jobs_problems(spec.get("jobs") or {}, "componentSpec.jobs") if kind == "pipeline" else []
    as_yaml = {k: v for k, v in spec.items() if k not in ("_source", "sourceJobId")}
    if kind == "pipeline":
        as_yaml["jobs"] = {}  # REST-shaped nodes are checked above; the schema checks the interface
    if isinstance(as_yaml.get("partition_keys"), str):  # a JSON string on the wire, a list in the YAML
        as_yaml["partition_keys"] = json.loads(as_yaml["partition_keys"])
    text = yaml.safe_dump(as_yaml, sort_keys=False)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        from azure.ai.ml import load_component

        try:
            load_component(io.StringIO(text))
        except Exception as e:  # noqa: BLE001 - azure-ai-ml's verdict, whatever it raises
            problems.append(f"componentSpec refused by azure-ai-ml's {kind} component schema: {_first(e)}")
    return problems


def _first(e: Exception) -> str:
    text = str(e)
    found = re.findall(r'"message": "([^"]*)",\s*"path": "([^"]*)"', text)
    return "; ".join(f"{path}: {message}" for message, path in found[:3]) or text[:300]


def jobs_problems(jobs: object, where: str) -> list[str]:
    if not isinstance(jobs, Mapping):
        return [f"{where} must be an object"]
    problems: list[str] = []
    for name, node in jobs.items():
        at = f"{where}.{name}"
        if not isinstance(node, Mapping):
            problems.append(f"{at} must be an object")
            continue
        kind = node.get("type")
        if kind not in NODE_TYPES:
            problems.append(f"{at}.type {kind!r} is not a step type azure-ai-ml sends")
        if node.get("name") != name:
            problems.append(f"{at}.name must be the node's key {name!r}")
        has_component = isinstance(node.get("componentId"), str) or isinstance((node.get("trial") or {}).get("componentId"), str)
        if kind not in ("automl",) and not has_component:
            problems.append(f"{at} names no componentId (a sweep: trial.componentId)")
        for iname, value in (node.get("inputs") or {}).items():
            problems += _port(f"{at}.inputs.{iname}", value, output=False)
        for oname, value in (node.get("outputs") or {}).items():
            problems += _port(f"{at}.outputs.{oname}", value, output=True)
        if "computeId" in node and not isinstance(node["computeId"], str):
            problems.append(f"{at}.computeId must be a string (an ARM id or a binding)")
    return problems


def _port(at: str, value: object, *, output: bool) -> list[str]:
    if not isinstance(value, Mapping):
        return [f"{at} must be an object"]
    if output and value.get("type") == "literal":
        return [] if isinstance(value.get("value"), str) else [f"{at}.value must be a ${{{{parent.outputs.X}}}} string"]
    kind = value.get("job_output_type" if output else "job_input_type")
    allowed = JOB_OUTPUT_TYPES if output else JOB_INPUT_TYPES
    problems = []
    if kind not in allowed:
        problems.append(f"{at}.{'job_output_type' if output else 'job_input_type'} {kind!r} is not one of {sorted(allowed)}")
    if kind == "literal" and not isinstance(value.get("value"), str):
        problems.append(f"{at}.value must be a string (literal values are sent as strings), not {type(value.get('value')).__name__}")
    if kind not in (None, "literal") and not output and not isinstance(value.get("uri"), str):
        problems.append(f"{at}.uri must be the data's URI")
    mode = value.get("mode")
    if mode is not None and mode not in (OUTPUT_MODES if output else INPUT_MODES):
        problems.append(f"{at}.mode {mode!r} is not a REST delivery mode")
    return problems


def settings_problems(settings: object) -> list[str]:
    if not isinstance(settings, Mapping):
        return ["settings must be an object"]
    # Keys it does not know azure-ai-ml passes through (the 3a_basic_pipeline example's `default_datestore`), and so
    # does the service; only the known ones are checked.
    problems: list[str] = []
    for key in ("default_compute", "default_datastore"):
        value = settings.get(key)
        if value is not None and not (isinstance(value, str) and ARM_ID.fullmatch(value)):
            problems.append(f"settings.{key} must be an ARM id (azure-ai-ml resolves names to ids), not {value!r}")
    if "continue_on_step_failure" in settings and not isinstance(settings["continue_on_step_failure"], bool):
        problems.append("settings.continue_on_step_failure must be a boolean")
    return problems
