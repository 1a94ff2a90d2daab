"""The Azure ML REST description extracted from azure-ai-ml (tests/fixtures/azureml/arm-2025-12-01.json), as the
fake uses it: which operation a request is, and what is wrong with a body for that operation's model.

Models are validated as the TypeSpec describes them: required properties, no unknown properties (the
generated client sends none), no read-only properties in a request, enum values (case-insensitive, as the
generated enums are), and discriminated subtypes (``jobType``, ``jobInputType``, ``dataType``...) chosen
by their discriminator value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "azureml"


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str
    pattern: re.Pattern[str]
    query: frozenset[str]
    body: str | None
    pageable: bool
    success: tuple[int, ...]


class Spec:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.api_version: str = doc["apiVersion"]
        self.models: dict[str, dict[str, Any]] = doc["models"]
        self.enums: dict[str, list[str]] = doc["enums"]
        self.operations: list[Operation] = []
        for op_id, op in doc["operations"].items():
            regex = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(op["path"]))
            self.operations.append(Operation(op_id, op["method"], op["path"], re.compile(regex, re.IGNORECASE),
                                             frozenset(op["query"]), op.get("body"), bool(op.get("pageable")),
                                             tuple(op.get("success", ()))))
        self._children: dict[str, list[str]] = {}
        for name, model in self.models.items():
            for base in model["bases"]:
                self._children.setdefault(base, []).append(name)

    def operation(self, method: str, path: str) -> Operation | None:
        return next((op for op in self.operations if op.method == method and op.pattern.fullmatch(path)), None)

    # -- models -----------------------------------------------------------------------------------

    def _properties(self, name: str) -> dict[str, dict[str, Any]]:
        model = self.models[name]
        props: dict[str, dict[str, Any]] = {}
        for base in model["bases"]:
            props.update(self._properties(base))
        props.update(model["properties"])
        return props

    def _discriminator(self, name: str) -> str | None:
        model = self.models[name]
        if model.get("discriminator"):
            return str(model["discriminator"])
        return next((d for b in model["bases"] if (d := self._discriminator(b))), None)

    def _subtype(self, name: str, value: str) -> str | None:
        for child in self._children.get(name, []):
            if str(self.models[child].get("discriminatorValue", "")).lower() == value.lower():
                return child
            found = self._subtype(child, value)
            if found:
                return found
        return None

    def validate(self, model: str, value: Any, where: str = "body") -> list[str]:
        if not isinstance(value, dict):
            return [f"{where} must be an object ({model})"]
        field = self._discriminator(model)
        if field and "discriminatorValue" not in self.models[model] and self._children.get(model):
            kind = value.get(field)
            if not isinstance(kind, str):
                return [f"{where}.{field} is required ({model} is polymorphic)"]
            sub = self._subtype(model, kind)
            if sub is None:
                return [f"{where}.{field} {kind!r} is not a known {model}"]
            model = sub
        props = self._properties(model)
        problems = [f"{where}.{k} is required ({model})" for k, p in props.items() if p.get("required") and k not in value]
        for key, item in value.items():
            prop = props.get(key)
            if prop is None:
                problems.append(f"{where}.{key} is not a property of {model}")
            elif prop.get("readOnly"):
                problems.append(f"{where}.{key} is read-only ({model})")
            else:
                problems += self._check(prop["type"], item, f"{where}.{key}")
        return problems

    def _check(self, kind: Any, value: Any, where: str) -> list[str]:
        if value is None:
            return []  # JSON null stands for "not given" in the generated client
        if isinstance(kind, dict):
            if "const" in kind:
                return [] if str(value).lower() == str(kind["const"]).lower() else [f"{where} must be {kind['const']!r}"]
            if "map" in kind:
                if not isinstance(value, dict):
                    return [f"{where} must be an object"]
                return [p for k, v in value.items() for p in self._check(kind["map"], v, f"{where}.{k}")]
            if "list" in kind:
                if not isinstance(value, list):
                    return [f"{where} must be an array"]
                return [p for i, v in enumerate(value) for p in self._check(kind["list"], v, f"{where}[{i}]")]
        if kind == "any":
            return []
        if kind in ("str", "datetime"):
            return [] if isinstance(value, str) else [f"{where} must be a string"]
        if kind == "bool":
            return [] if isinstance(value, bool) else [f"{where} must be a boolean"]
        if kind == "int":
            return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where} must be an integer"]
        if kind == "float":
            return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{where} must be a number"]
        if isinstance(kind, str) and kind.startswith("enum:"):
            known = self.enums[kind[5:]]
            return [] if str(value).lower() in {k.lower() for k in known} else [f"{where} {value!r} is not one of {known}"]
        if isinstance(kind, str) and kind.startswith("model:"):
            return self.validate(kind[6:], value, where)
        return []


@cache
def runhistory_spec() -> Spec:
    """Run history's ``runs:query`` as the v1 SDK (azureml-core) sends it: no query parameters, ``orderby``."""
    return Spec(json.loads((FIXTURES / "runhistory-v1-sdk.json").read_text()))


@cache
def runhistory_v2_spec() -> Spec:
    """Run history as azure-ai-ml's runhistory client describes it (a run's details: its error when it failed)."""
    return Spec(json.loads((FIXTURES / "runhistory-v1.0.json").read_text()))


@cache
def arm_spec() -> Spec:
    return Spec(json.loads((FIXTURES / "arm-2025-12-01.json").read_text()))


class V1Spec:
    """The v1 pipelines service as azureml-pipeline-core's msrest client describes it (pipelines-v1.json)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.models: dict[str, dict[str, Any]] = doc["models"]
        self.operations: list[tuple[str, dict[str, Any], re.Pattern[str]]] = []
        for op_id, op in doc["operations"].items():
            regex = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(op["path"]))
            if op.get("optionalPathSuffix"):
                regex += "(?:/[^/]+)?"
            self.operations.append((op_id, op, re.compile(regex)))

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        return next(((i, op) for i, op, rx in self.operations if op["method"] == method and rx.fullmatch(path)), None)

    def validate(self, kind: str, value: Any, where: str = "body") -> list[str]:
        if value is None:
            return []
        if kind.startswith("[") and kind.endswith("]"):
            if not isinstance(value, list):
                return [f"{where} must be an array"]
            return [p for i, v in enumerate(value) for p in self.validate(kind[1:-1], v, f"{where}[{i}]")]
        if kind.startswith("{") and kind.endswith("}"):
            if not isinstance(value, dict):
                return [f"{where} must be an object"]
            return [p for k, v in value.items() for p in self.validate(kind[1:-1], v, f"{where}.{k}")]
        if kind in ("str", "iso-8601"):
            return [] if isinstance(value, str) else [f"{where} must be a string"]
        if kind == "bool":
            return [] if isinstance(value, bool) else [f"{where} must be a boolean"]
        if kind in ("int", "long"):
            return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where} must be an integer"]
        if kind not in self.models:
            return []  # object and other free-form types
        if not isinstance(value, dict):
            return [f"{where} must be an object ({kind})"]
        props = self.models[kind]["properties"]
        problems = [f"{where}.{k} is required ({kind})" for k, p in props.items() if p.get("required") and k not in value]
        for key, item in value.items():
            prop = props.get(key)
            if prop is None:
                problems.append(f"{where}.{key} is not a property of {kind}")
                continue
            problems += self.validate(prop["type"], item, f"{where}.{key}")
            if prop.get("enum") and item is not None and item not in prop["enum"]:
                problems.append(f"{where}.{key} {item!r} is not one of {prop['enum']}")
        return problems


@cache
def v1_spec() -> V1Spec:
    return V1Spec(json.loads((FIXTURES / "pipelines-v1.json").read_text()))
