"""Load an Azure ML v2 pipeline-job YAML into a checked :class:`~retrain.pipeline.model.Pipeline`.

Every problem is collected with its ``file:line:column`` and reported at once: unknown keys (with the
nearest known name), bad types and defaults, missing component files, bindings to steps, outputs or
parameters that do not exist, cycles, undeclared ``${{inputs.x}}`` in commands. Keys that only mean
something on Azure (compute, resources, ...) are accepted; the local backend ignores them.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..boundary import OUTSIDE_HINT, BadFileUri, describe_outside, escaping_links, file_uri_path, outside, resolve
from ..errors import InvalidFile, Problem
from ..yamlfile import KeyPath, YamlDoc, load_yaml
from .hashing import SKIP_DIRS, content_hash, pipeline_files
from .model import (
    DISTRIBUTIONS,
    STEP_TYPES,
    Binding,
    Component,
    ComponentRef,
    DataValue,
    InputType,
    Parallel,
    ParentInput,
    Pipeline,
    Port,
    SearchSpace,
    Step,
    StepOutput,
    Sweep,
)
from .order import dependency_order
from .types import MAX_VALUE_BYTES, CoercionError, coerce, is_uri, parse_duration

PIPELINE_KEYS = (
    "$schema", "type", "name", "display_name", "experiment_name", "description", "tags", "settings",
    "inputs", "outputs", "jobs", "compute", "identity", "properties",
)
PIPELINE_COMPONENT_KEYS = (
    "$schema", "type", "name", "version", "display_name", "description", "tags", "inputs", "outputs", "jobs",
    "is_deterministic", "properties",
)
NODE_KEYS = (
    "type", "component", "inputs", "outputs", "environment_variables", "display_name", "description", "name",
    "tags", "compute", "resources", "limits", "services", "distribution", "identity", "properties",
    "queue_settings", "experiment_name",
    # an inline command job carries its component's keys directly
    "command", "code", "environment", "is_deterministic",
)
# Parallel settings a parallel component declares and a parallel node may override.
PARALLEL_KEYS = ("input_data", "mini_batch_size", "task", "max_concurrency_per_instance", "error_threshold",
                 "mini_batch_error_threshold", "logging_level", "retry_settings", "partition_keys", "resources")
GOALS = ("maximize", "minimize")
SAMPLINGS = ("random", "grid", "bayesian")
# Which distributions each sampling takes (Azure ML's hyperparameter-tuning docs: grid takes choice only,
# bayesian choice, uniform and quniform).
SAMPLING_TAKES = {"grid": ("choice",), "bayesian": ("choice", "uniform", "quniform")}
AZUREML_REF = re.compile(r"azureml:(?P<name>[A-Za-z0-9_.-]+)(?::(?P<version>[^@:/]+)|@(?P<label>[A-Za-z0-9_.-]+))?")
REGISTRY_REF = re.compile(r"azureml://registries/(?P<registry>[^/]+)/components/(?P<name>[^/]+)"
                          r"(?:/versions/(?P<version>[^/]+)|/labels/(?P<label>[^/]+))?/?")
WORKSPACE_REF = re.compile(r"azureml://.*?/components/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+)|/labels/(?P<label>[^/]+))?/?")
SELF_INPUT = re.compile(r"\$\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
SELF_OUTPUT = re.compile(r"\$\{\{\s*outputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
COMPONENT_KEYS = (
    "$schema", "type", "name", "version", "display_name", "description", "tags", "is_deterministic",
    "inputs", "outputs", "code", "environment", "command", "environment_variables", "resources",
    "distribution", "additional_includes", "properties", "instance_count",
)
INPUT_KEYS = ("type", "default", "path", "optional", "description", "min", "max", "enum", "mode", "datastore")
OUTPUT_KEYS = ("type", "description", "mode", "path", "name", "version")
RESERVED = frozenset({"path", "ld_library_path", "user", "logname", "home", "pwd", "shell"})
PORT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
STEP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
COMPONENT_NAME = re.compile(r"[a-z_][a-z0-9_.-]*")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A step runs as `bash -c COMMAND`, one argument of at most 128 KiB on Linux, values substituted in.
MAX_COMMAND_BYTES = 64 * 1024

_B = r"\$\{\{\s*"
_E = r"\s*\}\}"
PARENT_INPUT = re.compile(_B + r"parent\.inputs\.([A-Za-z_][A-Za-z0-9_]*)" + _E)
STEP_OUTPUT = re.compile(_B + r"parent\.jobs\.([A-Za-z_][A-Za-z0-9_]*)\.outputs\.([A-Za-z_][A-Za-z0-9_]*)" + _E)
PARENT_OUTPUT = re.compile(_B + r"parent\.outputs\.([A-Za-z_][A-Za-z0-9_]*)" + _E)
COMMAND_REF = re.compile(_B + r"(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)" + _E)
OPTIONAL_SECTION = re.compile(r"\$\[\[(.*?)\]\]", re.S)
TYPE_WORDS = [t.value for t in InputType]
FILES_HINT = "Move it into the repository: a pipeline's files are published from there (docs/limits.md)."


def _display(path: Path, display_root: Path | None) -> str:
    base = (display_root or Path.cwd()).resolve()
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _nearest(word: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"Did you mean '{close[0]}'?" if close else f"Known keys here: {', '.join(k for k in known if k != '$schema')}."


class _Loader:
    def __init__(self, display_root: Path | None, boundary: Path | None) -> None:
        self.display_root = display_root
        self.boundary = boundary  # the repository root every path must stay in; None = trusted (a stored snapshot)
        self.problems: list[Problem] = []
        self.components: dict[Path, Component | None] = {}
        self.root_file: Path | None = None

    def escapes(self, doc: YamlDoc, path: KeyPath, what: str, raw: str, target: Path) -> bool:
        """Report ``target`` if it leaves the repository; True when it does."""
        if self.boundary is None or (resolved := outside(target, self.boundary)) is None:
            return False
        hint = OUTSIDE_HINT if what.startswith("data") else FILES_HINT
        self.add(doc, path, f"the {what} {describe_outside(raw, resolved, self.boundary)}", hint)
        return True

    def data_path(self, doc: YamlDoc, path: KeyPath, raw: str) -> str | None:
        """A data path written in the pipeline: a URI as is, file:///x as /x, else absolute and inside."""
        if raw.lower().startswith("file:"):
            try:
                return str(file_uri_path(raw))
            except BadFileUri as e:
                self.add(doc, path, str(e))
                return None
        if is_uri(raw):
            return raw
        target = os.path.normpath(doc.path.parent / raw)
        return None if self.escapes(doc, path, "data path", raw, Path(target)) else target

    # -- problems ---------------------------------------------------------------------------------

    def add(self, doc: YamlDoc, path: KeyPath, message: str, hint: str = "", *, at_key: bool = False) -> None:
        self.problems.append(doc.problem(path, message, hint, at_key=at_key))

    def unknown_keys(self, doc: YamlDoc, mapping: Mapping[Any, Any], path: KeyPath, known: tuple[str, ...]) -> None:
        for key in mapping:
            if key not in known:
                self.add(doc, (*path, key), f"unknown key '{key}'.", _nearest(str(key), known), at_key=True)

    def mapping(self, doc: YamlDoc, value: Any, path: KeyPath, what: str) -> dict[Any, Any] | None:
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.add(doc, path, f"{what} must be a mapping, not {type(value).__name__}.")
        return None

    # -- ports ------------------------------------------------------------------------------------

    def port_name(self, doc: YamlDoc, name: str, path: KeyPath) -> bool:
        if not PORT_NAME.fullmatch(str(name)):
            self.add(doc, path, f"'{name}' is not a valid input or output name.", "Use letters, digits and '_', not starting with a digit.", at_key=True)
            return False
        if str(name).lower() in RESERVED:
            self.add(doc, path, f"'{name}' is a reserved name in Azure ML.", f"Rename it; reserved: {', '.join(sorted(RESERVED))}.", at_key=True)
            return False
        return True

    def input_port(self, doc: YamlDoc, name: str, spec: Any, path: KeyPath, *, pipeline_level: bool) -> Port | None:
        """A declared input. At pipeline level a bare literal declares a parameter by its value."""
        if not self.port_name(doc, name, path):
            return None
        base = doc.path.parent
        loc = doc.where(path)
        if not isinstance(spec, dict):
            if pipeline_level and isinstance(spec, (bool, int, float, str)):
                kind = _literal_type(spec)
                return Port(name, kind, default=spec, location=loc)
            if pipeline_level and spec is None:
                self.add(doc, path, f"the parameter '{name}' has no value or type.", "Give a default value, or a mapping with type: and default:.")
                return None
            self.add(doc, path, f"the input '{name}' must be a mapping with at least type:.", "Write e.g. {type: number, default: 0.1}.")
            return None
        self.unknown_keys(doc, spec, path, INPUT_KEYS)
        raw_type = spec.get("type")
        if raw_type is None:
            if pipeline_level and "path" in spec:
                raw_type = "uri_folder"  # Azure's default for a data input given by path
            elif pipeline_level and "default" in spec and spec["default"] is not None:
                raw_type = _literal_type(spec["default"]).value
            else:
                self.add(doc, path, f"the input '{name}' has no type.", f"Add type: one of {', '.join(TYPE_WORDS)}.")
                return None
        try:
            kind = InputType(raw_type)
        except ValueError:
            close = difflib.get_close_matches(str(raw_type), TYPE_WORDS, n=1)
            hint = f"Did you mean '{close[0]}'?" if close else f"Use one of {', '.join(TYPE_WORDS)}."
            self.add(doc, (*path, "type"), f"unknown type {raw_type!r}.", hint)
            return None
        optional = spec.get("optional", False)
        if not isinstance(optional, bool):
            self.add(doc, (*path, "optional"), "optional must be true or false.")
            optional = False
        bounds: dict[str, float | None] = {"min": None, "max": None}
        for key in ("min", "max"):
            if key in spec:
                value = spec[key]
                if kind not in (InputType.INTEGER, InputType.NUMBER):
                    self.add(doc, (*path, key), f"{key} applies only to integer and number inputs.", "Remove it.")
                elif isinstance(value, bool) or not isinstance(value, (int, float)):
                    self.add(doc, (*path, key), f"{key} must be a number, not {value!r}.")
                else:
                    bounds[key] = float(value)
        enum: tuple[str, ...] | None = None
        if "enum" in spec:
            values = spec["enum"]
            if kind is not InputType.STRING:
                self.add(doc, (*path, "enum"), "enum applies only to string inputs.", "Remove it, or make the input type: string.")
            elif not isinstance(values, list) or not values:
                self.add(doc, (*path, "enum"), "enum must be a non-empty list of values.")
            else:
                enum = tuple(str(v) for v in values)
        if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
            self.add(doc, (*path, "min"), f"min {spec['min']} is above max {spec['max']}.", "Swap them.")
        port = Port(name, kind, optional=optional, description=str(spec.get("description") or ""),
                    min=bounds["min"], max=bounds["max"], enum=enum, mode=spec.get("mode"), location=loc)
        default_key = "path" if kind.is_data and "path" in spec else "default"
        if default_key in spec and spec[default_key] is not None:
            if kind.is_data and not pipeline_level:
                self.add(doc, (*path, default_key), f"a component's {kind.value} input cannot have a {default_key}.",
                         "Give the data in the pipeline: bind the input to a pipeline parameter.")
                return port
            try:
                value = coerce(port, spec[default_key], base_dir=base, inside=self.boundary)
            except CoercionError as e:
                self.add(doc, (*path, default_key), f"the default does not fit: {e}")
                return port
            port = Port(**{**port.__dict__, "default": value})
        return port

    def output_port(self, doc: YamlDoc, name: str, spec: Any, path: KeyPath) -> Port | None:
        if not self.port_name(doc, name, path):
            return None
        if spec is None:
            return Port(name, InputType.URI_FOLDER, location=doc.where(path))
        if not isinstance(spec, dict):
            self.add(doc, path, f"the output '{name}' must be a mapping such as {{type: uri_folder}}.")
            return None
        self.unknown_keys(doc, spec, path, OUTPUT_KEYS)
        raw = spec.get("type", "uri_folder")
        try:
            kind = InputType(raw)
        except ValueError:
            self.add(doc, (*path, "type"), f"unknown output type {raw!r}.", "Use uri_folder, uri_file, mltable or mlflow_model.")
            return None
        if not kind.is_data:
            self.add(doc, (*path, "type"), f"outputs are data; {raw!r} is a literal type.", "Use uri_folder or uri_file.")
            return None
        return Port(name, kind, description=str(spec.get("description") or ""), mode=spec.get("mode"), location=doc.where(path))

    def ports(self, doc: YamlDoc, spec: Any, path: KeyPath, *, outputs: bool, pipeline_level: bool = False,
              lenient: bool = False) -> dict[str, Port]:
        """Declared ports; ``lenient`` for components retrain only passes on (their extra keys are the service's)."""
        mapping = self.mapping(doc, spec, path, "outputs" if outputs else "inputs")
        out: dict[str, Port] = {}
        for name, value in (mapping or {}).items():
            if lenient and isinstance(value, dict):
                value = {k: v for k, v in value.items() if k in (OUTPUT_KEYS if outputs else INPUT_KEYS)}
            port = self.output_port(doc, str(name), value, (*path, name)) if outputs else \
                self.input_port(doc, str(name), value, (*path, name), pipeline_level=pipeline_level)
            if port is not None:
                out[str(name)] = port
        return out

    # -- components -------------------------------------------------------------------------------

    def component_ref(self, doc: YamlDoc, ref: str, path: KeyPath) -> Component | None:
        """``azureml:...``: kept as a reference for the Azure backend (its YAML is in a workspace or registry)."""
        text = ref.strip()
        m = REGISTRY_REF.fullmatch(text) or WORKSPACE_REF.fullmatch(text) if text.startswith("azureml://") else AZUREML_REF.fullmatch(text)
        if m is None:
            self.add(doc, path, f"{text} is not a component reference azure-ai-ml reads.",
                     "Write azureml:NAME:VERSION, azureml:NAME@latest or azureml://registries/REGISTRY/components/NAME/versions/VERSION.")
            return None
        groups = m.groupdict()
        cref = ComponentRef(text=text, name=groups["name"], version=groups.get("version"), label=groups.get("label"),
                            registry=groups.get("registry"), location=doc.where(path))
        return Component(name=cref.name, version=cref.version, display_name=cref.name, inputs={}, outputs={}, command="",
                         code=None, environment=None, environment_variables={}, is_deterministic=True, source=doc.path,
                         location=doc.where(path), type="registered", registered=cref)

    def component_file(self, doc: YamlDoc, ref: str, path: KeyPath) -> Component | None:
        if ref.startswith("azureml:"):
            return self.component_ref(doc, ref, path)
        # Azure ML YAML may say file:./component.yml (azure-ai-ml strips the prefix); file:// is a URI.
        rel = ref[len("file:"):] if ref.startswith("file:") and not ref.startswith("file://") else ref
        file = resolve(doc.path.parent / rel)
        if file in self.components:
            return self.components[file]
        if self.escapes(doc, path, "component file", ref, file):
            self.components[file] = None
            return None
        if not file.is_file():
            self.add(doc, path, f"the component file {rel} does not exist.", f"Paths are relative to {doc.display}'s folder.")
            self.components[file] = None
            return None
        try:
            cdoc = load_yaml(file, display=_display(file, self.display_root))
        except InvalidFile as e:
            self.problems.extend(e.problems)
            self.components[file] = None
            return None
        self.problems.extend(cdoc.duplicate_keys)
        spec = self.mapping(cdoc, cdoc.data, (), "a component file")
        self.components[file] = None  # a component that names itself (directly or not) is not loaded twice
        component = self.any_component(cdoc, spec, (), default_name=file.stem) if spec is not None else None
        self.components[file] = component
        return component

    def any_component(self, doc: YamlDoc, spec: dict[Any, Any], path: KeyPath, *, default_name: str) -> Component | None:
        """A component's YAML by its type: command, pipeline, parallel, or one retrain only passes on."""
        kind = spec.get("type")
        if kind is None and ("flow" in spec or "nodes" in spec or "promptflow" in str(spec.get("$schema", ""))):
            kind = "flow"  # a prompt flow (flow.dag.yaml, or a Run file naming one): azure-ai-ml loads it as a component
        kind = kind or "command"
        if kind == "command":
            return self.component(doc, spec, path, default_name=default_name)
        if kind == "pipeline":
            return self.pipeline_component(doc, spec, path, default_name=default_name)
        if kind == "parallel":
            return self.opaque_component(doc, spec, path, default_name=default_name, kind="parallel",
                                         command=self.parallel_arguments(doc, spec, path))
        if kind == "flow":  # its inputs and outputs are the flow's own (string outputs and the like): not read
            return self.opaque_component(doc, spec, path, default_name=default_name, kind="flow", inline_inputs={}, inline_outputs={})
        if kind in ("spark", "data_transfer", "import", "automl"):
            return self.opaque_component(doc, spec, path, default_name=default_name, kind=str(kind))
        self.add(doc, (*path, "type"), f"unknown component type {kind!r}.",
                 "Use command, pipeline, parallel or spark (the component types Azure ML runs).")
        return None

    def parallel_arguments(self, doc: YamlDoc, spec: Mapping[Any, Any], path: KeyPath) -> str:
        task = spec.get("task")
        if isinstance(task, dict) and isinstance(task.get("program_arguments"), str):
            return str(task["program_arguments"])
        return ""

    def opaque_component(self, doc: YamlDoc, spec: dict[Any, Any], path: KeyPath, *, default_name: str, kind: str,
                         command: str = "", inline_inputs: dict[str, Port] | None = None,
                         inline_outputs: dict[str, Port] | None = None) -> Component:
        """A component retrain does not run itself: its ports are read, the rest kept as written."""
        inputs = inline_inputs if inline_inputs is not None else self.ports(doc, spec.get("inputs"), (*path, "inputs"), outputs=False, lenient=True)
        outputs = inline_outputs if inline_outputs is not None else self.ports(doc, spec.get("outputs"), (*path, "outputs"), outputs=True, lenient=True)
        if command:
            self.command_refs(doc, command, (*path, "task", "program_arguments"), inputs, outputs)
        code = None
        raw_code = spec.get("code")
        task = spec.get("task")
        code_path: KeyPath = (*path, "code")
        if kind == "parallel" and isinstance(task, dict) and task.get("code") is not None:
            raw_code, code_path = task.get("code"), (*path, "task", "code")
        if raw_code is not None:
            code = self.code_folder(doc, str(raw_code), code_path)
        name = str(spec.get("name") or default_name)
        environment = spec.get("environment")
        if kind == "parallel" and isinstance(task, dict):
            environment = task.get("environment", environment)
        return Component(
            name=name, version=None if spec.get("version") is None else str(spec["version"]),
            display_name=str(spec.get("display_name") or name), inputs=inputs, outputs=outputs, command=command,
            code=code, environment=environment if isinstance(environment, (str, dict)) else None,
            environment_variables=self.env_vars(doc, spec, path), is_deterministic=spec.get("is_deterministic", True) is not False,
            source=doc.path, location=doc.where(path), raw=spec, type=kind,
        )

    def pipeline_component(self, doc: YamlDoc, spec: dict[Any, Any], path: KeyPath, *, default_name: str) -> Component | None:
        """``type: pipeline`` component: its own inputs and outputs, its jobs checked like a pipeline's."""
        self.unknown_keys(doc, spec, path, PIPELINE_COMPONENT_KEYS)
        name = str(spec.get("name") or default_name)
        if "name" in spec and not COMPONENT_NAME.fullmatch(name):
            self.add(doc, (*path, "name"), f"'{name}' is not a valid component name.",
                     "Use lowercase letters, digits, '_', '.' and '-', starting with a letter or '_'.")
        inputs = self.ports(doc, spec.get("inputs"), (*path, "inputs"), outputs=False)
        outputs = self.ports(doc, spec.get("outputs"), (*path, "outputs"), outputs=True)
        jobs = self.mapping(doc, spec.get("jobs"), (*path, "jobs"), "jobs")
        if not jobs:
            self.add(doc, path, "the pipeline component has no jobs.", "Add jobs: with at least one step.")
            return None
        steps = self.steps(doc, jobs, (*path, "jobs"), inputs, outputs)
        return Component(
            name=name, version=None if spec.get("version") is None else str(spec["version"]),
            display_name=str(spec.get("display_name") or name), inputs=inputs, outputs=outputs, command="",
            code=None, environment=None, environment_variables={}, is_deterministic=spec.get("is_deterministic", True) is not False,
            source=doc.path, location=doc.where(path), raw=spec, type="pipeline", jobs=steps,
            inline=doc.path == self.root_file,
        )

    def code_folder(self, doc: YamlDoc, raw: str, path: KeyPath) -> Path | None:
        if raw.startswith("file:") and not raw.startswith("file://"):
            raw = raw[len("file:"):]
        if is_uri(raw):
            if raw.startswith("azureml:"):
                return None  # registered code, kept in raw for the Azure backend
            self.add(doc, path, f"code from {raw} is not supported.", "Point code: at a folder in the repository.")
            return None
        code = resolve(doc.path.parent / raw)
        if self.escapes(doc, path, "code folder", raw, code):
            return None  # never walked: `code: /` would read the whole disk
        if not code.exists():
            self.add(doc, path, f"the code folder {raw} does not exist.", f"Paths are relative to {doc.display}'s folder.")
            return None
        if self.boundary is not None and code.is_dir():
            # Its files are hashed, copied into the store and uploaded: a link out would take them along.
            for link, wrong in escaping_links(code, self.boundary, SKIP_DIRS):
                rel = link.relative_to(code).as_posix()
                self.add(doc, path, f"the code folder {raw} holds {rel}, {wrong}.",
                         "Replace the link with the file itself, or move what it points to into the repository.")
                return None
        return code

    def component(self, doc: YamlDoc, spec: dict[Any, Any], path: KeyPath, *, default_name: str,
                  keys: tuple[str, ...] = COMPONENT_KEYS, inline_inputs: dict[str, Port] | None = None,
                  inline_outputs: dict[str, Port] | None = None) -> Component | None:
        self.unknown_keys(doc, spec, path, keys)
        kind = spec.get("type", "command")
        if keys is COMPONENT_KEYS and kind != "command":
            return self.any_component(doc, spec, path, default_name=default_name)
        name = str(spec.get("name") or default_name)
        if "name" in spec and not COMPONENT_NAME.fullmatch(name):
            self.add(doc, (*path, "name"), f"'{name}' is not a valid component name.",
                     "Use lowercase letters, digits, '_', '.' and '-', starting with a letter or '_'.")
        inputs = inline_inputs if inline_inputs is not None else self.ports(doc, spec.get("inputs"), (*path, "inputs"), outputs=False)
        outputs = inline_outputs if inline_outputs is not None else self.ports(doc, spec.get("outputs"), (*path, "outputs"), outputs=True)
        for dup in set(inputs) & set(outputs):
            self.add(doc, (*path, "outputs", dup), f"'{dup}' is both an input and an output.", "Rename one of them.", at_key=True)
        command = spec.get("command")
        if not isinstance(command, str) or not command.strip():
            self.add(doc, path, "the component has no command.", "Add command: the line that runs the step.")
            command = ""
        elif len(command.encode("utf-8", errors="surrogatepass")) > MAX_COMMAND_BYTES:
            self.add(doc, (*path, "command"), f"the command is longer than {MAX_COMMAND_BYTES:,} bytes, the limit (docs/limits.md).",
                     "Move the logic into a script in the code folder and call it.")
        self.command_refs(doc, command, (*path, "command"), inputs, outputs)
        code: Path | None = None
        if spec.get("code") is not None:
            code = self.code_folder(doc, str(spec["code"]), (*path, "code"))
        env_vars = self.env_vars(doc, spec, path)
        deterministic = spec.get("is_deterministic", True)
        if not isinstance(deterministic, bool):
            self.add(doc, (*path, "is_deterministic"), "is_deterministic must be true or false.")
            deterministic = True
        version = spec.get("version")
        return Component(
            name=name, version=None if version is None else str(version),
            display_name=str(spec.get("display_name") or name), inputs=inputs, outputs=outputs,
            command=command, code=code, environment=spec.get("environment"),
            environment_variables=env_vars,
            is_deterministic=deterministic, source=doc.path, location=doc.where(path), raw=spec,
            inline=inline_inputs is not None,
        )

    def env_vars(self, doc: YamlDoc, spec: Mapping[Any, Any], path: KeyPath) -> dict[str, str]:
        """``environment_variables``: names a process environment can hold, values a command line can."""
        raw = spec.get("environment_variables") or {}
        epath = (*path, "environment_variables")
        if not isinstance(raw, dict):
            self.add(doc, epath, "environment_variables must be a mapping of names to values.")
            return {}
        out: dict[str, str] = {}
        for key, value in raw.items():
            name, text = str(key), str(value)
            if not ENV_NAME.fullmatch(name):
                self.add(doc, (*epath, key), f"'{name[:40]}' is not a valid environment variable name.",
                         "Use letters, digits and '_', not starting with a digit.", at_key=True)
            elif len(text.encode("utf-8", errors="surrogatepass")) > MAX_VALUE_BYTES:
                self.add(doc, (*epath, key), f"the value of {name} is longer than {MAX_VALUE_BYTES:,} bytes, the limit (docs/limits.md).",
                         "Put long content in a file in the repository and pass its path.")
            else:
                out[name] = text
        return out

    def command_refs(self, doc: YamlDoc, command: str, path: KeyPath, inputs: Mapping[str, Port], outputs: Mapping[str, Port]) -> None:
        for m in COMMAND_REF.finditer(command):
            kind, name = m.group(1), m.group(2)
            declared = inputs if kind == "inputs" else outputs
            if name not in declared:
                hint = _nearest(name, sorted(declared)) if declared else f"It declares no {kind}."
                self.add(doc, path, f"the command uses ${{{{{kind}.{name}}}}}, which the component does not declare.", hint.replace("Known keys here", f"Its {kind}"))
        for section in OPTIONAL_SECTION.finditer(command):
            for m in COMMAND_REF.finditer(section.group(1)):
                port = inputs.get(m.group(2)) if m.group(1) == "inputs" else None
                if port is not None and not port.optional:
                    self.add(doc, path, f"the input '{port.name}' is inside $[[ ]] but is not optional.",
                             "Only optional inputs may be in $[[ ]]: add optional: true, or take it out of the brackets.")
        leftover = OPTIONAL_SECTION.sub("", command)
        for m in COMMAND_REF.finditer(leftover):
            port = inputs.get(m.group(2)) if m.group(1) == "inputs" else None
            if port is not None and port.optional and port.default is None:
                self.add(doc, path, f"the optional input '{port.name}' is used outside $[[ ]].",
                         "Wrap the part of the command that uses it in $[[ ]], so it is left out when no value is given.")

    # -- the pipeline -----------------------------------------------------------------------------

    def load(self, path: Path) -> Pipeline:
        path = resolve(path)
        self.root_file = path
        doc = load_yaml(path, display=_display(path, self.display_root))
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
            close = difflib.get_close_matches(kind, list(STEP_TYPES), n=1)
            self.add(doc, (*path, "type"), f"unknown step type {kind!r}.",
                     f"Did you mean '{close[0]}'?" if close else f"Azure ML runs these: {', '.join(STEP_TYPES)}.")
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
                                 _nearest(m.group(1), [str(j) for j in jobs]).replace("Known keys here", "Steps"))
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

    def inline_output(self, doc: YamlDoc, name: str, value: Any, path: KeyPath, pipeline_outputs: Mapping[str, Port]) -> Port | None:
        """The declared type of an inline job's output: its ``type:``, else the pipeline output it is bound to."""
        if not self.port_name(doc, name, path):
            return None
        loc = doc.where(path)
        target = value.get("path") if isinstance(value, dict) else value
        kind = InputType.URI_FOLDER
        if isinstance(target, str) and (m := PARENT_OUTPUT.fullmatch(target.strip())) and m.group(1) in pipeline_outputs:
            kind = pipeline_outputs[m.group(1)].type
        if isinstance(value, dict) and value.get("type") is not None:
            try:
                kind = InputType(value["type"])
            except ValueError:
                self.add(doc, (*path, "type"), f"unknown output type {value['type']!r}.", "Use uri_folder, uri_file, mltable or mlflow_model.")
                return None
        mode = value.get("mode") if isinstance(value, dict) else None
        return Port(name, kind, mode=mode if isinstance(mode, str) else None, location=loc)

    def sweep(self, doc: YamlDoc, spec: Mapping[Any, Any], path: KeyPath, trial: Component) -> Sweep | None:
        space_spec = self.mapping(doc, spec.get("search_space"), (*path, "search_space"), "search_space") or {}
        if not space_spec:
            self.add(doc, path, "the sweep has no search_space.", "Add search_space: with at least one input to tune.")
        space: dict[str, SearchSpace] = {}
        for key, value in space_spec.items():
            hp = str(key)
            hpath = (*path, "search_space", key)
            if trial.type == "command" and trial.registered is None and hp not in trial.inputs:
                self.add(doc, hpath, f"the trial '{trial.name}' has no input '{hp}' to tune.",
                         f"Its inputs: {', '.join(sorted(trial.inputs)) or 'none'}.", at_key=True)
            if not isinstance(value, dict) or value.get("type") not in DISTRIBUTIONS:
                self.add(doc, hpath, f"'{hp}' needs a type: one of {', '.join(DISTRIBUTIONS)}.", "Write e.g. {type: uniform, min_value: 0.01, max_value: 0.1}.")
                continue
            dist = str(value["type"])
            params: dict[str, float] = {}
            values: tuple[object, ...] = ()
            for pname in DISTRIBUTIONS[dist]:
                if pname not in value:
                    self.add(doc, hpath, f"the {dist} distribution of '{hp}' needs {pname}.",
                             "Give the values to choose from, e.g. values: [0.01, 0.1]." if pname == "values" else f"It takes {', '.join(DISTRIBUTIONS[dist])}.")
                elif pname == "values":
                    if not isinstance(value["values"], list) or not value["values"]:
                        self.add(doc, (*hpath, "values"), "values must be a non-empty list.")
                    else:
                        values = tuple(value["values"])
                elif isinstance(value[pname], bool) or not isinstance(value[pname], (int, float)):
                    self.add(doc, (*hpath, pname), f"{pname} must be a number, not {value[pname]!r}.")
                else:
                    params[pname] = float(value[pname])
            if "min_value" in params and "max_value" in params and params["min_value"] > params["max_value"]:
                self.add(doc, (*hpath, "min_value"), f"min_value {params['min_value']:g} is above max_value {params['max_value']:g}.", "Swap them.")
            if params.get("q", 1) <= 0 or params.get("sigma", 1) < 0 or params.get("upper", 1) < 1:
                self.add(doc, hpath, f"the {dist} distribution of '{hp}' has a parameter out of range.",
                         "q must be above 0, sigma at least 0, upper at least 1.")
            space[hp] = SearchSpace(hp, dist, values, params, doc.where(hpath))
        raw_sampling = spec.get("sampling_algorithm", "random")
        seed = None
        sampling_path: KeyPath = (*path, "sampling_algorithm")
        if isinstance(raw_sampling, dict):
            seed = raw_sampling.get("seed")
            raw_sampling = raw_sampling.get("type")
            sampling_path = (*sampling_path, "type")
        sampling = str(raw_sampling).lower()
        if sampling not in SAMPLINGS:
            self.add(doc, sampling_path, f"unknown sampling algorithm {raw_sampling!r}.", f"Use one of {', '.join(SAMPLINGS)}.")
        elif sampling in SAMPLING_TAKES:
            for hp, ss in space.items():
                if ss.type not in SAMPLING_TAKES[sampling]:
                    self.add(doc, (*path, "search_space", hp, "type"), f"{sampling} sampling takes {' and '.join(SAMPLING_TAKES[sampling])} only, not {ss.type}.",
                             "Use random sampling, or another distribution.")
        objective = self.mapping(doc, spec.get("objective"), (*path, "objective"), "objective") or {}
        metric = objective.get("primary_metric")
        goal = str(objective.get("goal", "")).lower()
        if not isinstance(metric, str) or not metric:
            self.add(doc, (*path, "objective") if "objective" in spec else path, "the sweep has no objective.primary_metric.",
                     "Name the metric the trials log, e.g. objective: {primary_metric: accuracy, goal: maximize}.")
            metric = ""
        if goal not in GOALS:
            self.add(doc, (*path, "objective", "goal") if "goal" in objective else (*path, "objective") if "objective" in spec else path,
                     f"the sweep's goal must be maximize or minimize, not {objective.get('goal')!r}.")
        limits = self.mapping(doc, spec.get("limits"), (*path, "limits"), "limits") or {}
        counts: dict[str, int | None] = {}
        for key in ("max_total_trials", "max_concurrent_trials"):
            value = limits.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                self.add(doc, (*path, "limits", key), f"{key} must be a whole number of at least 1, not {value!r}.")
                value = None
            counts[key] = value
        times: dict[str, float | None] = {}
        for key in ("timeout", "trial_timeout"):
            try:
                times[key] = None if limits.get(key) is None else parse_duration(limits[key])
            except ValueError as e:
                self.add(doc, (*path, "limits", key), str(e))
                times[key] = None
        early = spec.get("early_termination")
        return Sweep(search_space=space, sampling_algorithm=sampling, seed=seed if isinstance(seed, int) else None,
                     primary_metric=metric, goal=goal, max_total_trials=counts["max_total_trials"],
                     max_concurrent_trials=counts["max_concurrent_trials"], timeout_s=times["timeout"],
                     trial_timeout_s=times["trial_timeout"], early_termination=early if isinstance(early, dict) else None)

    def parallel(self, doc: YamlDoc, spec: Mapping[Any, Any], path: KeyPath, component: Component) -> Parallel | None:
        """The node's parallel settings over its component's (a parallel component file, or the node itself)."""
        if component.type == "flow":
            return Parallel(task_type="flow", entry_script=None, input_data=None, mini_batch_size=None,
                            max_concurrency_per_instance=1, error_threshold=None, mini_batch_error_threshold=None,
                            append_row_to=None, program_arguments="")
        if component.type not in ("parallel", "registered"):
            self.add(doc, (*path, "component"), f"a type: parallel step needs a parallel component; this one is {component.type}.",
                     "Point it at a YAML file with type: parallel and task:, or change the step's type.")
            return None
        merged = {k: v for k, v in component.raw.items() if k in PARALLEL_KEYS}
        merged.update({k: v for k, v in spec.items() if k in PARALLEL_KEYS})
        task = merged.get("task")
        if component.registered is not None:
            task = task if isinstance(task, dict) else {}
        elif not isinstance(task, dict):
            self.add(doc, path, "the parallel step has no task.", "Add task: {type: run_function, code: ./src, entry_script: score.py}.")
            return None
        task_type = str(task.get("type", "run_function"))
        entry = task.get("entry_script")
        if component.registered is None and task_type == "run_function" and not isinstance(entry, str):
            self.add(doc, path, "the parallel task has no entry_script.", "Add entry_script: the Python file with init() and run(mini_batch).")
        def ref(key: str, pattern: re.Pattern[str], ports: Mapping[str, Port]) -> str | None:
            raw = merged.get(key) if key != "append_row_to" else task.get("append_row_to")
            if raw is None:
                return None
            m = pattern.fullmatch(str(raw).strip())
            if m is None or (ports and m.group(1) not in ports and component.registered is None):
                self.add(doc, (*path, key), f"{key} must name one of the step's {'inputs' if pattern is SELF_INPUT else 'outputs'} "
                         f"as {'${{inputs.NAME}}' if pattern is SELF_INPUT else '${{outputs.NAME}}'}, not {raw!r}.",
                         f"Its {'inputs' if pattern is SELF_INPUT else 'outputs'}: {', '.join(sorted(ports)) or 'none'}.")
                return None
            return m.group(1)

        input_data = ref("input_data", SELF_INPUT, component.inputs)
        append = ref("append_row_to", SELF_OUTPUT, component.outputs)
        concurrency = merged.get("max_concurrency_per_instance", 1)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            self.add(doc, (*path, "max_concurrency_per_instance"), f"max_concurrency_per_instance must be a whole number of at least 1, not {concurrency!r}.")
            concurrency = 1
        retry = merged.get("retry_settings") if isinstance(merged.get("retry_settings"), dict) else {}
        keys = merged.get("partition_keys")
        partition = tuple(str(k) for k in keys) if isinstance(keys, list) else tuple(k.strip() for k in str(keys).split(",")) if keys else ()
        size = merged.get("mini_batch_size")
        return Parallel(
            task_type=task_type, entry_script=entry if isinstance(entry, str) else None, input_data=input_data,
            mini_batch_size=None if size is None else str(size), max_concurrency_per_instance=concurrency,
            error_threshold=_int_or_none(merged.get("error_threshold")),
            mini_batch_error_threshold=_int_or_none(merged.get("mini_batch_error_threshold")),
            append_row_to=append, program_arguments=str(task.get("program_arguments") or ""),
            max_retries=_int_or_none(retry.get("max_retries")),
            retry_timeout_s=float(retry["timeout"]) if isinstance(retry.get("timeout"), (int, float)) and not isinstance(retry.get("timeout"), bool) else None,
            partition_keys=partition,
        )

    def inline_port(self, doc: YamlDoc, name: str, value: Any, path: KeyPath, parameters: Mapping[str, Port], jobs: Mapping[Any, Any]) -> Port | None:
        """The declared type of an inline job's input, inferred from what it is bound to."""
        loc = doc.where(path)
        raw = value.get("path") if isinstance(value, dict) and "path" in value else value
        if isinstance(raw, str) and (m := PARENT_INPUT.fullmatch(raw.strip())):
            parent = parameters.get(m.group(1))
            kind = parent.type if parent else InputType.STRING
            if isinstance(value, dict) and value.get("type") in TYPE_WORDS:
                kind = InputType(value["type"])
            return Port(name, kind, optional=bool(parent and parent.optional), location=loc)
        if isinstance(raw, str) and STEP_OUTPUT.fullmatch(raw.strip()):
            if isinstance(value, dict) and value.get("type") in TYPE_WORDS:
                return Port(name, InputType(value["type"]), location=loc)
            return Port(name, InputType.URI_FOLDER, location=loc)
        if isinstance(value, dict):
            return self.input_port(doc, name, {k: v for k, v in value.items() if k != "path"}, path, pipeline_level=True)
        if isinstance(value, (bool, int, float, str)):
            return Port(name, _literal_type(value), location=loc)
        return None

    def binding(self, doc: YamlDoc, value: Any, path: KeyPath, port: Port, parameters: Mapping[str, Port], jobs: Mapping[Any, Any],
                step_name: str) -> Binding | None:
        raw = value.get("path") if isinstance(value, dict) and "path" in value else value
        if isinstance(raw, str) and "${{" in raw:
            text = raw.strip()
            if m := PARENT_INPUT.fullmatch(text):
                parent = parameters.get(m.group(1))
                if parent is None:
                    self.add(doc, path, f"the binding {text} names the pipeline input '{m.group(1)}', which does not exist.",
                             _nearest(m.group(1), sorted(parameters)).replace("Known keys here", "Pipeline inputs"))
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
                             _nearest(step, [str(j) for j in jobs]).replace("Known keys here", "Steps"))
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


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def all_components(steps: Mapping[str, Step]) -> list[Component]:
    """Every component the steps use, nested pipeline components' own steps included."""
    found: list[Component] = []
    for step in steps.values():
        found.append(step.component)
        if step.component.jobs:
            found.extend(all_components(step.component.jobs))
    return found


def _literal_type(value: object) -> InputType:
    if isinstance(value, bool):
        return InputType.BOOLEAN
    if isinstance(value, int):
        return InputType.INTEGER
    if isinstance(value, float):
        return InputType.NUMBER
    return InputType.STRING


def load_pipeline(path: Path, *, display_root: Path | None = None, boundary: Path | None = None) -> Pipeline:
    """Load, resolve and check a pipeline definition; raise :class:`InvalidFile` with every problem.

    ``boundary`` is the repository root (docs/limits.md): every file, folder and data path the
    definition names must resolve inside it. Without it nothing is confined; backends load their own
    stored snapshots that way, which were checked when they were published.
    """
    return _Loader(display_root, boundary.resolve() if boundary is not None else None).load(Path(path))

