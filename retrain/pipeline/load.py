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
from pathlib import Path
from typing import Any

from ..boundary import OUTSIDE_HINT, BadFileUri, describe_outside, escaping_links, file_uri_path, outside, resolve
from ..errors import InvalidFile, Problem
from ..yamlfile import KeyPath, YamlDoc, load_yaml
from .hashing import SKIP_DIRS, content_hash, pipeline_files
from .model import Binding, Component, DataValue, InputType, ParentInput, Pipeline, Port, Step, StepOutput
from .types import MAX_VALUE_BYTES, CoercionError, coerce, is_uri

PIPELINE_KEYS = (
    "$schema", "type", "name", "display_name", "experiment_name", "description", "tags", "settings",
    "inputs", "outputs", "jobs", "compute", "identity", "properties",
)
NODE_KEYS = (
    "type", "component", "inputs", "outputs", "environment_variables", "display_name", "description", "name",
    "tags", "compute", "resources", "limits", "services", "distribution", "identity", "properties",
    # an inline command job carries its component's keys directly
    "command", "code", "environment", "is_deterministic",
)
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

    def ports(self, doc: YamlDoc, spec: Any, path: KeyPath, *, outputs: bool, pipeline_level: bool = False) -> dict[str, Port]:
        mapping = self.mapping(doc, spec, path, "outputs" if outputs else "inputs")
        out: dict[str, Port] = {}
        for name, value in (mapping or {}).items():
            port = self.output_port(doc, str(name), value, (*path, name)) if outputs else \
                self.input_port(doc, str(name), value, (*path, name), pipeline_level=pipeline_level)
            if port is not None:
                out[str(name)] = port
        return out

    # -- components -------------------------------------------------------------------------------

    def component_file(self, doc: YamlDoc, ref: str, path: KeyPath) -> Component | None:
        if ref.startswith("azureml:"):
            self.add(doc, path, f"registered components ({ref}) are not supported.",
                     "Give the component's YAML file instead, e.g. component: ./components/train.yml.")
            return None
        file = resolve(doc.path.parent / ref)
        if file in self.components:
            return self.components[file]
        if self.escapes(doc, path, "component file", ref, file):
            self.components[file] = None
            return None
        if not file.is_file():
            self.add(doc, path, f"the component file {ref} does not exist.", f"Paths are relative to {doc.display}'s folder.")
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
        component = self.component(cdoc, spec, (), default_name=file.stem) if spec is not None else None
        self.components[file] = component
        return component

    def component(self, doc: YamlDoc, spec: dict[Any, Any], path: KeyPath, *, default_name: str,
                  keys: tuple[str, ...] = COMPONENT_KEYS, inline_inputs: dict[str, Port] | None = None) -> Component | None:
        self.unknown_keys(doc, spec, path, keys)
        kind = spec.get("type", "command")
        if kind == "pipeline":
            self.add(doc, (*path, "type"), "nested pipeline components are not supported yet.",
                     "Flatten its jobs into this pipeline, or give a command component.")
            return None
        if kind != "command":
            self.add(doc, (*path, "type"), f"only command components are supported, not {kind!r}.", "Use type: command.")
            return None
        name = str(spec.get("name") or default_name)
        if "name" in spec and not COMPONENT_NAME.fullmatch(name):
            self.add(doc, (*path, "name"), f"'{name}' is not a valid component name.",
                     "Use lowercase letters, digits, '_', '.' and '-', starting with a letter or '_'.")
        inputs = inline_inputs if inline_inputs is not None else self.ports(doc, spec.get("inputs"), (*path, "inputs"), outputs=False)
        outputs = self.ports(doc, spec.get("outputs"), (*path, "outputs"), outputs=True)
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
            raw = str(spec["code"])
            if is_uri(raw):
                self.add(doc, (*path, "code"), f"code from {raw} is not supported.", "Point code: at a folder in the repository.")
            else:
                code = resolve(doc.path.parent / raw)
                if self.escapes(doc, (*path, "code"), "code folder", raw, code):
                    code = None  # never walked: `code: /` would read the whole disk
                elif not code.exists():
                    self.add(doc, (*path, "code"), f"the code folder {raw} does not exist.", f"Paths are relative to {doc.display}'s folder.")
                    code = None
                elif self.boundary is not None and code.is_dir():
                    # Its files are hashed, copied into the store and uploaded: a link out would take them along.
                    for link, wrong in escaping_links(code, self.boundary, SKIP_DIRS):
                        rel = link.relative_to(code).as_posix()
                        self.add(doc, (*path, "code"), f"the code folder {raw} holds {rel}, {wrong}.",
                                 "Replace the link with the file itself, or move what it points to into the repository.")
                        code = None
                        break
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
        steps: dict[str, Step] = {}
        for name, node in (jobs or {}).items():
            step = self.step(doc, str(name), node, parameters, outputs, jobs or {})
            if step is not None:
                steps[str(name)] = step
        ordered = self.order(doc, steps)
        if self.problems:
            raise InvalidFile(self.problems, what=f"pipeline {doc.display}")
        components = [s.component for s in ordered.values()]
        files, root = pipeline_files(path, components)
        fallback = path.parent.name if path.stem == "pipeline" else path.stem
        name = str(top.get("name") or top.get("display_name") or fallback)
        return Pipeline(
            path=path, name=name, display_name=str(top.get("display_name") or name),
            experiment_name=top.get("experiment_name"), description=str(top.get("description") or ""),
            parameters=parameters, outputs=outputs, steps=ordered, settings=settings,
            content_hash=content_hash(files, root), files=files, root=root,
        )

    def step(self, doc: YamlDoc, name: str, node: Any, parameters: Mapping[str, Port], pipeline_outputs: Mapping[str, Port],
             jobs: Mapping[Any, Any]) -> Step | None:
        path: KeyPath = ("jobs", name)
        if not STEP_NAME.fullmatch(name):
            self.add(doc, path, f"'{name}' is not a valid step name.", "Use letters, digits and '_', not starting with a digit.", at_key=True)
        spec = self.mapping(doc, node, path, f"the step '{name}'")
        if spec is None:
            return None
        self.unknown_keys(doc, spec, path, NODE_KEYS)
        kind = spec.get("type", "command")
        if kind == "pipeline":
            self.add(doc, (*path, "type"), "nested pipelines (type: pipeline steps) are not supported yet.",
                     "Flatten its jobs into this pipeline.")
            return None
        if kind != "command":
            self.add(doc, (*path, "type"), f"only command steps are supported, not {kind!r}.", "Use type: command.")
            return None
        bindings_spec = self.mapping(doc, spec.get("inputs"), (*path, "inputs"), "inputs") or {}
        ref = spec.get("component")
        if ref is None and "command" in spec:
            # An inline command job: its inputs are both declarations and bindings.
            declared = {str(k): self.inline_port(doc, str(k), v, (*path, "inputs", k), parameters, jobs) for k, v in bindings_spec.items()}
            component = self.component(doc, spec, path, default_name=name, keys=NODE_KEYS,
                                       inline_inputs={k: v for k, v in declared.items() if v is not None})
        elif isinstance(ref, str):
            component = self.component_file(doc, ref, (*path, "component"))
        elif isinstance(ref, dict):
            component = self.component(doc, ref, (*path, "component"), default_name=name)
        else:
            self.add(doc, path, f"the step '{name}' has no component.", "Add component: ./path/to/component.yml, or an inline command.")
            return None
        if component is None:
            return None

        bound: dict[str, Binding] = {}
        attempted: set[str] = set()
        depends: list[str] = []
        for key, value in bindings_spec.items():
            iname = str(key)
            ipath = (*path, "inputs", key)
            port = component.inputs.get(iname)
            if port is None:
                self.add(doc, ipath, f"the component '{component.name}' has no input '{iname}'.",
                         f"Its inputs: {', '.join(sorted(component.inputs)) or 'none'}.", at_key=True)
                continue
            binding = self.binding(doc, value, ipath, port, parameters, jobs)
            if binding is None:
                attempted.add(iname)  # already reported; not "missing" as well
                continue
            bound[iname] = binding
            if isinstance(binding, StepOutput) and binding.step not in depends:
                depends.append(binding.step)
        for iname, port in component.inputs.items():
            if iname not in bound and iname not in attempted and port.required:
                self.add(doc, (*path, "inputs") if "inputs" in spec else path,
                         f"the step '{name}' does not give the required input '{iname}'.",
                         f"Bind it, e.g. {iname}: ${{{{parent.inputs.{iname}}}}}.")
        outs_spec = self.mapping(doc, spec.get("outputs"), (*path, "outputs"), "outputs") or {}
        outs: dict[str, str | None] = {}
        for key, value in outs_spec.items():
            oname = str(key)
            if oname not in component.outputs:
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
        env = self.env_vars(doc, spec, path) if ref is not None else dict(component.environment_variables)
        return Step(name=name, component=component, inputs=bound, outputs=outs,
                    environment_variables=env,
                    depends_on=tuple(depends), location=doc.where_key(path))

    def inline_port(self, doc: YamlDoc, name: str, value: Any, path: KeyPath, parameters: Mapping[str, Port], jobs: Mapping[Any, Any]) -> Port | None:
        """The declared type of an inline command job's input, inferred from what it is bound to."""
        loc = doc.where(path)
        raw = value.get("path") if isinstance(value, dict) and "path" in value else value
        if isinstance(raw, str) and (m := PARENT_INPUT.fullmatch(raw.strip())):
            parent = parameters.get(m.group(1))
            kind = parent.type if parent else InputType.STRING
            return Port(name, kind, optional=bool(parent and parent.optional), location=loc)
        if isinstance(raw, str) and STEP_OUTPUT.fullmatch(raw.strip()):
            return Port(name, InputType.URI_FOLDER, location=loc)
        if isinstance(value, dict):
            return self.input_port(doc, name, {k: v for k, v in value.items() if k != "path"}, path, pipeline_level=True)
        if isinstance(value, (bool, int, float, str)):
            return Port(name, _literal_type(value), location=loc)
        return None

    def binding(self, doc: YamlDoc, value: Any, path: KeyPath, port: Port, parameters: Mapping[str, Port], jobs: Mapping[Any, Any]) -> Binding | None:
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
                if step == path[1]:
                    self.add(doc, path, f"the step '{step}' reads its own output.", "Bind the input to another step's output.")
                    return None
                upstream = self.peek_outputs(doc, step, jobs[step])
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
        try:
            return coerce(port, value, base_dir=doc.path.parent)
        except CoercionError as e:
            self.add(doc, path, str(e))
            return None

    def peek_outputs(self, doc: YamlDoc, step: str, node: Any) -> set[str] | None:
        """Output names of another step, to check a binding before that step is loaded (None = unknown)."""
        if not isinstance(node, dict):
            return None
        ref = node.get("component")
        if isinstance(ref, str):
            if ref.startswith("azureml:") or not (doc.path.parent / ref).is_file():
                return None  # reported at that step
            # Loading is cached, so the step itself later reuses this and reports nothing twice.
            comp = self.component_file(doc, ref, ("jobs", step, "component"))
            return set(comp.outputs) if comp else None
        spec = ref if isinstance(ref, dict) else node
        outs = spec.get("outputs")
        return set(map(str, outs)) if isinstance(outs, dict) else set()

    def order(self, doc: YamlDoc, steps: dict[str, Step]) -> dict[str, Step]:
        """Topological order, ties in file order; a cycle is a problem naming its steps."""
        ordered: dict[str, Step] = {}
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = trail[trail.index(name):] + [name]
                step = steps[name]
                self.problems.append(Problem(f"the steps form a cycle: {' -> '.join(cycle)}.", step.location, ("jobs", name),
                                             "A step may only read outputs of steps that do not read its own."))
                return
            state[name] = 1
            for dep in steps[name].depends_on:
                if dep in steps:
                    visit(dep, [*trail, name])
            state[name] = 2
            ordered[name] = steps[name]

        for name in steps:
            visit(name, [])
        return ordered


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

