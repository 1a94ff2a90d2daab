"""A pipeline's and a component's declared inputs and outputs (ports): their names, types, defaults, ranges and
choices, and the types of an inline job's ports, inferred from what they are bound to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..yamlfile import KeyPath, YamlDoc
from .expressions import PARENT_INPUT, PARENT_OUTPUT, STEP_OUTPUT
from .model import InputType, Port
from .problems import Problems
from .types import CoercionError, coerce
from ..text import closest

INPUT_KEYS = ("type", "default", "path", "optional", "description", "min", "max", "enum", "mode", "datastore")
OUTPUT_KEYS = ("type", "description", "mode", "path", "name", "version")
RESERVED = frozenset({"path", "ld_library_path", "user", "logname", "home", "pwd", "shell"})
PORT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TYPE_WORDS = [t.value for t in InputType]


class Ports(Problems):
    """Reads declared ports; components.py builds on it."""

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
            close = closest(str(raw_type), TYPE_WORDS)
            hint = f"Did you mean '{close}'?" if close else f"Use one of {', '.join(TYPE_WORDS)}."
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


def _literal_type(value: object) -> InputType:
    if isinstance(value, bool):
        return InputType.BOOLEAN
    if isinstance(value, int):
        return InputType.INTEGER
    if isinstance(value, float):
        return InputType.NUMBER
    return InputType.STRING
