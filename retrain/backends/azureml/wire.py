"""What every step translated into azure-ai-ml's REST shape shares: the :class:`Assets` callbacks through which the
backend registers and uploads, the :class:`Graph` a step sits in, literals and delivery modes as the REST API
spells them, the ``${{parent...}}`` bindings a node carries as written, and paths local to the submitting machine."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...yamlfile import load_yaml

# Input and output delivery modes as YAML writes them -> as the REST API spells them.
MODES = {"ro_mount": "ReadOnlyMount", "rw_mount": "ReadWriteMount", "download": "Download", "upload": "Upload",
         "direct": "Direct", "eval_mount": "EvalMount", "eval_download": "EvalDownload"}
DATA_TYPES = ("uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model")
BINDING = re.compile(r"^\s*\$\{\{\s*parent\.(inputs|outputs|jobs)\.[^}]*\}\}\s*$")
PARENT_OUTPUT = re.compile(r"^\s*\$\{\{\s*parent\.outputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")
PARENT_INPUT = re.compile(r"^\s*\$\{\{\s*parent\.inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")
STEP_OUTPUT_PARTS = re.compile(r"^\s*\$\{\{\s*parent\.jobs\.([A-Za-z0-9_]+)\.outputs\.([A-Za-z0-9_]+)\s*\}\}\s*$")


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
