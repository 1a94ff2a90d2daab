"""One entry of ``pipelines:``: its definition (loaded and checked), names, version pin, triggers, data globs and
parameter values (coerced to the types the pipeline declares), with the review keys read in ``review_keys``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..boundary import describe_outside, outside, resolve
from .checker import Checker, type_name
from .globs import BadGlob, compile_glob
from .records import PipelineConfig, Trigger
from .retention import read_retention
from .review_keys import read_compare_to, read_goals
from .version_pin import parse_version_pin
from ..errors import InvalidFile
from ..pipeline.flatten import local_problems
from ..pipeline.load import load_pipeline
from ..pipeline.model import Literal, Pipeline
from ..pipeline.types import CoercionError, coerce, parse_duration, unknown_parameter_hint
from ..yamlfile import KeyPath
from ..text import closest

if TYPE_CHECKING:
    from ..backends.base import VersionPin

PIPELINE_KEYS = (
    "definition",
    "endpoint",
    "version",
    "experiment",
    "parameters",
    "data",
    "publish_on",
    "submit_on",
    "make_default",
    "timeout",
    "retention",
    "metrics",
    "compare_to",
    "promote",
)

DEFAULT_PUBLISH_ON = frozenset({Trigger.MERGE})
DEFAULT_SUBMIT_ON = frozenset({Trigger.MERGE, Trigger.DATA, Trigger.DISPATCH})
DEFAULT_TIMEOUT_S = 2 * 3600.0

# Azure ML batch endpoint names: 3-32 characters, a letter first, then letters, digits and hyphens.
# Checked for every backend so a file that works locally also works on Azure.
ENDPOINT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,31}")
PIPELINE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,255}")


def _triggers(c: Checker, value: Any, path: KeyPath, default: frozenset[Trigger]) -> frozenset[Trigger]:
    if value is None:
        return default
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        c.add(path, f"expected a list of events, got {type_name(value)}.", f"Use any of: {', '.join(t.value for t in Trigger)}.")
        return default
    out: set[Trigger] = set()
    words = [t.value for t in Trigger]
    for i, item in enumerate(value):
        try:
            out.add(Trigger(item))
        except ValueError:
            close = closest(str(item), words, cutoff=0.5)
            hint = f"Did you mean '{close}'?" if close else f"Use any of: {', '.join(words)}."
            c.add((*path, i), f"unknown event {item!r}.", hint)
    return frozenset(out)


def read_pipeline(c: Checker, name: str, entry: Any, root: Path, repo_root: Path, display_root: Path | None,
                  backend_kind: str) -> PipelineConfig | None:
    path: KeyPath = ("pipelines", name)
    if not PIPELINE_NAME.fullmatch(name):
        c.add(path, f"'{name}' is not a valid pipeline name.", "Use letters, digits, '-', '_' and '.', starting with a letter or digit.", at_key=True)
    spec = c.mapping(entry, path, f"the settings of pipeline '{name}'")
    if spec is None:
        return None
    c.unknown_keys(spec, path, PIPELINE_KEYS)
    ok = True

    pipeline: Pipeline | None = None
    definition = spec.get("definition")
    designer = backend_kind == "azureml-v1"
    if definition is None and designer:
        pass  # a designer-published endpoint: the service holds the pipeline and checks the values
    elif definition is None:
        c.add(path, f"pipeline '{name}' has no 'definition'.", "Add definition: the path of its pipeline YAML, relative to this file.")
        ok = False
    elif c.string(definition, (*path, "definition")) is not None:
        def_path = resolve(root / definition)
        if (resolved := outside(def_path, repo_root)) is not None:
            c.add((*path, "definition"), f"the pipeline definition {describe_outside(definition, resolved, repo_root)}",
                  "Move it into the repository: a pipeline's files are published from there (docs/limits.md).")
            ok = False
        elif not def_path.is_file():
            c.add((*path, "definition"), f"the pipeline definition {definition} does not exist.", f"Paths here are relative to {c.doc.display}'s folder; check the name.")
            ok = False
        else:
            try:
                pipeline = load_pipeline(def_path, display_root=display_root, boundary=repo_root)
            except InvalidFile as e:
                c.problems.extend(e.problems)
                ok = False
            if pipeline is not None and backend_kind == "local" and (refused := local_problems(pipeline)):
                c.problems.extend(refused)  # automl, spark, registered components: steps only Azure ML runs
                ok = False
    else:
        ok = False

    endpoint = c.string(spec.get("endpoint", name), (*path, "endpoint"), pattern=ENDPOINT_NAME,
                        rule="Endpoint names have 3 to 32 letters, digits or '-', starting with a letter (Azure ML's rule).")
    experiment = c.string(spec.get("experiment", name), (*path, "experiment"), pattern=EXPERIMENT_NAME,
                          rule="Use letters, digits, '-', '_' and '.'.")
    version: VersionPin = "default"
    if "version" in spec:
        try:
            version = parse_version_pin(spec["version"])
        except ValueError as e:
            c.add((*path, "version"), str(e))
    make_default = False
    if "make_default" in spec:
        make_default = bool(c.boolean(spec["make_default"], (*path, "make_default")))
    timeout_s = DEFAULT_TIMEOUT_S
    if "timeout" in spec:
        try:
            timeout_s = parse_duration(spec["timeout"])
        except ValueError as e:
            c.add((*path, "timeout"), str(e))
    publish_on = _triggers(c, spec.get("publish_on"), (*path, "publish_on"), frozenset() if designer else DEFAULT_PUBLISH_ON)
    if designer and publish_on:
        c.add((*path, "publish_on"), "pipelines on the azureml-v1 backend are published from the designer, not by retrain.",
              "Remove publish_on (or write publish_on: []).")
    submit_on = _triggers(c, spec.get("submit_on"), (*path, "submit_on"), DEFAULT_SUBMIT_ON)
    retention = read_retention(c, spec["retention"], (*path, "retention")) if "retention" in spec else None
    if Trigger.PULL_REQUEST in publish_on:
        c.add((*path, "publish_on"), "a pull request never publishes: its pipeline runs as a draft.",
              "Move pull_request to submit_on.")
    goals = read_goals(c, spec.get("metrics"), (*path, "metrics"))
    compare_to = read_compare_to(c, spec.get("compare_to", "default"), (*path, "compare_to"))
    gate = None
    if spec.get("promote") is not None:
        from .promote_block import read_gate  # only a file with a gate loads the gate's records

        gate = read_gate(c, spec["promote"], (*path, "promote"), goals)
    if gate is not None and version == "latest":
        c.warn((*path, "version"), "version: latest runs every later submit on the newest version, even one whose "
               "promote: gate failed, so the gate decides nothing for those runs.",
               "Write version: default, so runs follow the version the gate promoted (or remove promote:).")
    if designer and gate is not None:
        c.add((*path, "promote"), "pipelines on the azureml-v1 backend are published from the designer, so retrain has no version to gate.",
              "Remove promote:, or move the pipeline to the azureml backend.")
    if designer and Trigger.PULL_REQUEST in submit_on:
        c.add((*path, "submit_on"), "a draft runs the pull request's pipeline definition, and a designer endpoint has none.",
              "Remove pull_request from submit_on.")

    globs: list[str] = []
    data = spec.get("data", [])
    if isinstance(data, str):
        data = [data]
    if not isinstance(data, list):
        c.add((*path, "data"), f"expected a list of path patterns, got {type_name(data)}.", 'Write data: ["data/**/*.csv"].')
    else:
        for i, pattern in enumerate(data):
            try:
                globs.append(compile_glob(pattern).pattern)
            except BadGlob as e:
                c.add((*path, "data", i), str(e))

    parameters: dict[str, Literal] = {}
    raw_params = spec.get("parameters", {})
    if raw_params is None:
        raw_params = {}
    params = c.mapping(raw_params, (*path, "parameters"), "parameter values")
    if params is not None and pipeline is not None:
        parameters = _parameters(c, params, (*path, "parameters"), pipeline, root, repo_root)
    elif params is not None and designer:
        for key, value in params.items():
            if isinstance(value, (str, int, float, bool)):
                parameters[str(key)] = value  # checked against the published pipeline when submitted
            else:
                c.add((*path, "parameters", key), f"expected a value (text, number or boolean), got {type_name(value)}.")

    if not ok or (pipeline is None and not designer) or endpoint is None or experiment is None:
        return None
    return PipelineConfig(
        name=name,
        definition=pipeline.path if pipeline else None,
        endpoint=endpoint,
        version=version,
        experiment=experiment,
        parameters=parameters,
        data=tuple(globs),
        publish_on=publish_on,
        submit_on=submit_on,
        make_default=make_default,
        timeout_s=timeout_s,
        pipeline=pipeline,
        location=c.doc.where(path),
        retention=retention,
        goals=goals,
        compare_to=compare_to,
        gate=gate,
        compare_to_at=c.doc.where((*path, "compare_to")) if "compare_to" in spec else None,
    )


def _parameters(c: Checker, given: Mapping[Any, Any], path: KeyPath, pipeline: Pipeline, root: Path,
                repo_root: Path) -> dict[str, Literal]:
    declared = pipeline.parameters
    out: dict[str, Literal] = {}
    for key, value in given.items():
        name = str(key)
        port = declared.get(name)
        if port is None:
            c.add((*path, name), f"the pipeline '{pipeline.name}' has no parameter '{name}'.", unknown_parameter_hint(name, declared), at_key=True)
            continue
        try:
            out[name] = coerce(port, value, base_dir=root, inside=repo_root)
        except CoercionError as e:
            c.add((*path, name), str(e))
    for name, port in declared.items():
        if name not in out and name not in given:
            if port.required:
                c.add(path, f"the pipeline's parameter '{name}' has no default, so it needs a value here.",
                      f"Add {name}: <{port.type.value}> under parameters.", at_key=True)
            elif port.default is not None:
                out[name] = port.default
    return out
