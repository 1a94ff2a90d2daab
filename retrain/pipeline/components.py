"""The components a pipeline's steps run: a component file (``component: ./x.yml``, ``file:``) loaded once
whatever the number of steps naming it, a registered one (``azureml:``, ``azureml://``) kept as a reference for the
Azure backend, a mapping written in place; by type (command, pipeline, parallel, flow, spark, ...), with their code
folders, environment variables and the ``${{inputs.x}}`` their commands use."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..boundary import escaping_links, resolve
from ..errors import InvalidFile
from ..yamlfile import KeyPath, YamlDoc, load_yaml
from .expressions import COMMAND_REF, OPTIONAL_SECTION
from .hashing import SKIP_DIRS
from .model import Component, ComponentRef, Port, Step
from .ports import Ports
from .problems import display_path, nearest
from .types import MAX_VALUE_BYTES, is_uri

PIPELINE_COMPONENT_KEYS = (
    "$schema", "type", "name", "version", "display_name", "description", "tags", "inputs", "outputs", "jobs",
    "is_deterministic", "properties",
)
AZUREML_REF = re.compile(r"azureml:(?P<name>[A-Za-z0-9_.-]+)(?::(?P<version>[^@:/]+)|@(?P<label>[A-Za-z0-9_.-]+))?")
REGISTRY_REF = re.compile(r"azureml://registries/(?P<registry>[^/]+)/components/(?P<name>[^/]+)"
                          r"(?:/versions/(?P<version>[^/]+)|/labels/(?P<label>[^/]+))?/?")
WORKSPACE_REF = re.compile(r"azureml://.*?/components/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+)|/labels/(?P<label>[^/]+))?/?")
COMPONENT_KEYS = (
    "$schema", "type", "name", "version", "display_name", "description", "tags", "is_deterministic",
    "inputs", "outputs", "code", "environment", "command", "environment_variables", "resources",
    "distribution", "additional_includes", "properties", "instance_count",
)
COMPONENT_NAME = re.compile(r"[a-z_][a-z0-9_.-]*")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A step runs as `bash -c COMMAND`, one argument of at most 128 KiB on Linux, values substituted in.
MAX_COMMAND_BYTES = 64 * 1024


class Components(Ports):
    """Reads components; graph.py builds on it."""

    # A pipeline component's jobs are read as a pipeline's are, by Steps.steps (steps.py, a layer above this one:
    # the loader has it). Declared here so pipeline_component's call is typed.
    steps: Callable[[YamlDoc, Mapping[Any, Any], KeyPath, Mapping[str, Port], Mapping[str, Port]], dict[str, Step]]

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
            cdoc = load_yaml(file, display=display_path(file, self.display_root))
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
                hint = nearest(name, sorted(declared)) if declared else f"It declares no {kind}."
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
