"""Load and validate the parameter file (``retrain.yml``) before anything else is touched.

Every problem is collected, not just the first: each names ``file:line:column``, the key path and what
to do. The pipeline definitions the file names are loaded and checked too, so a parameter the
pipeline does not declare, or a value of the wrong type for it, is caught here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..backends.base import VersionPin
from ..boundary import describe_outside, outside, repository_root, resolve
from .records import (
    CLOUDS,
    AzureBackendConfig,
    BackendConfig,
    Config,
    LocalBackendConfig,
    PipelineConfig,
    Retention,
    Trigger,
)
from ..errors import InvalidFile, Problem, UsageError
from .gate import GATE_KEYS, METRIC_KEYS, RELATIVE_TO, BadCondition, Change, Condition, Gate, parse_condition
from .globs import BadGlob, compile_glob
from ..pipeline.flatten import local_problems
from ..pipeline.load import load_pipeline
from ..pipeline.model import Literal, Pipeline
from ..pipeline.types import CoercionError, coerce, parse_duration, unknown_parameter_hint
from ..yamlfile import KeyPath, YamlDoc, load_yaml

TOP_KEYS = ("backend", "pipelines", "retention")
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
LOCAL_KEYS = ("kind", "store", "registry")
AZURE_KEYS = (
    "kind",
    "subscription_id",
    "resource_group",
    "workspace",
    "cloud",
    "arm_endpoint",
    "authority_host",
    "tenant_id",
    "client_id",
    "compute",
)
AZURE_REQUIRED = ("subscription_id", "resource_group", "workspace")
BACKEND_KINDS = ("local", "azureml", "azureml-v1")
REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
SECRET_LOOKING = ("client_secret", "secret", "password", "certificate", "token")

DEFAULT_PUBLISH_ON = frozenset({Trigger.MERGE})
DEFAULT_SUBMIT_ON = frozenset({Trigger.MERGE, Trigger.DATA, Trigger.DISPATCH})
DEFAULT_TIMEOUT_S = 2 * 3600.0
MAX_VERSION = 2**31 - 1  # larger numbers are a typo, and some stores hold versions as 32-bit integers

# Azure ML batch endpoint names: 3-32 characters, a letter first, then letters, digits and hyphens.
# Checked for every backend so a file that works locally also works on Azure.
ENDPOINT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,31}")
PIPELINE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,255}")


def _type_name(value: object) -> str:
    if value is None:
        return "nothing (null)"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


class _Checker:
    """Collects problems against one YAML document."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.problems: list[Problem] = list(doc.duplicate_keys)
        self.warnings: list[Problem] = []  # what validate says but that does not stop the work

    def warn(self, path: KeyPath, message: str, hint: str = "") -> None:
        self.warnings.append(self.doc.problem(path, message, hint))

    def add(self, path: KeyPath, message: str, hint: str = "", *, at_key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, message, hint, at_key=at_key))

    def mapping(self, value: Any, path: KeyPath, what: str) -> dict[Any, Any] | None:
        if isinstance(value, dict):
            return value
        self.add(path, f"expected {what} (a mapping of keys to values), got {_type_name(value)}.")
        return None

    def unknown_keys(self, mapping: Mapping[Any, Any], path: KeyPath, known: tuple[str, ...]) -> None:
        for key in mapping:
            if key in known:
                continue
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"Did you mean '{close[0]}'?" if close else f"Known keys here: {', '.join(known)}."
            self.add((*path, key), f"unknown key '{key}'.", hint, at_key=True)

    def string(self, value: Any, path: KeyPath, *, pattern: re.Pattern[str] | None = None, rule: str = "") -> str | None:
        if not isinstance(value, str) or not value:
            self.add(path, f"expected a non-empty string, got {_type_name(value)}.")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.add(path, f"'{value}' is not a valid name.", rule)
            return None
        return value

    def boolean(self, value: Any, path: KeyPath) -> bool | None:
        if isinstance(value, bool):
            return value
        self.add(path, f"expected true or false, got {_type_name(value)} {value!r}.")
        return None


def load_config(path: Path, *, display_root: Path | None = None) -> Config:
    """Load ``path`` and everything it names; raise :class:`InvalidFile` listing every problem."""
    path = resolve(path if path.is_absolute() else Path.cwd() / path)
    shown = _display(path, display_root)
    doc = load_yaml(path, display=shown)
    checker = _Checker(doc)
    root = path.parent
    repo_root = repository_root(root)
    data = doc.data
    if data is None:
        checker.add((), "the file is empty.", "Start from examples/income/retrain.yml or docs/parameter-file.md.")
        raise InvalidFile(checker.problems, what=f"parameter file {shown}")
    top = checker.mapping(data, (), "the parameter file")
    if top is None:
        raise InvalidFile(checker.problems, what=f"parameter file {shown}")
    checker.unknown_keys(top, (), TOP_KEYS)

    backend = _backend(checker, top.get("backend", "local"), root, repo_root)
    retention = _retention(checker, top["retention"], ("retention",)) if "retention" in top else None
    pipelines: dict[str, PipelineConfig] = {}
    if "pipelines" not in top:
        checker.add((), "the file has no 'pipelines' key.", "Add pipelines: with at least one pipeline (see docs/parameter-file.md).")
    else:
        entries = checker.mapping(top["pipelines"], ("pipelines",), "'pipelines'")
        if entries is not None and not entries:
            checker.add(("pipelines",), "no pipelines are listed.", "Add at least one, e.g. income: {definition: pipeline.yml}.")
        for name, entry in (entries or {}).items():
            pc = _pipeline(checker, str(name), entry, root, repo_root, display_root, backend.kind)
            if pc is not None:
                pipelines[str(name)] = pc

    if checker.problems:
        raise InvalidFile(checker.problems, what=f"parameter file {shown}")
    return Config(path=path, root=root, backend=backend, pipelines=pipelines, repo_root=repo_root,
                  retention=retention, warnings=tuple(checker.warnings))


def _display(path: Path, display_root: Path | None) -> str:
    base = display_root or Path.cwd()
    try:
        return str(path.relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _backend(c: _Checker, value: Any, root: Path, repo_root: Path) -> BackendConfig:
    path: KeyPath = ("backend",)
    if isinstance(value, str):
        value = {"kind": value}
        if value["kind"] not in BACKEND_KINDS:
            c.add(path, f"unknown backend '{value['kind']}'.", f"Use one of: {', '.join(BACKEND_KINDS)}.")
            return LocalBackendConfig(store=root / ".retrain")
    spec = c.mapping(value, path, "a backend name or mapping")
    if spec is None:
        return LocalBackendConfig(store=root / ".retrain")
    kind = spec.get("kind")
    if kind not in BACKEND_KINDS:
        if kind is None:
            c.add(path, "the backend mapping has no 'kind'.", f"Add kind: one of {', '.join(BACKEND_KINDS)}.")
        else:
            c.add((*path, "kind"), f"unknown backend kind {kind!r}.", f"Use one of: {', '.join(BACKEND_KINDS)}.")
        return LocalBackendConfig(store=root / ".retrain")
    for key in spec:
        if any(word in str(key).lower() for word in SECRET_LOOKING):
            c.add(
                (*path, key),
                f"'{key}' looks like a secret, and secrets must not be committed in the parameter file.",
                "Remove it; pass credentials as action inputs from repository secrets, or as AZURE_* environment variables.",
                at_key=True,
            )
    if kind == "local":
        c.unknown_keys({k: v for k, v in spec.items() if not _secretish(k)}, path, LOCAL_KEYS)
        store = spec.get("store", ".retrain")
        if c.string(store, (*path, "store")) is None:
            store = ".retrain"
        registry = None
        if "registry" in spec and (registry := c.string(spec["registry"], (*path, "registry"))) is not None \
                and not REPOSITORY.fullmatch(registry):
            c.add((*path, "registry"), f"registry is {registry[:80]!r}, not a GitHub repository's owner/name.",
                  "Write it as the repository is named on GitHub, e.g. registry: octo-org/census.")
            registry = None
        return LocalBackendConfig(store=_store(c, str(store), root, repo_root, (*path, "store") if "store" in spec else path),
                                  registry=registry)

    c.unknown_keys({k: v for k, v in spec.items() if not _secretish(k)}, path, AZURE_KEYS)
    values: dict[str, Any] = {}
    for key in AZURE_KEYS[1:]:
        if key in spec:
            values[key] = c.string(spec[key], (*path, key))
        elif key in AZURE_REQUIRED:
            c.add(path, f"the {kind} backend needs '{key}'.", f"Add {key}: under backend (see docs/azure.md).")
    cloud = values.get("cloud") or "public"
    if cloud not in CLOUDS:
        c.add((*path, "cloud"), f"unknown cloud {cloud!r}.", f"Use one of: {', '.join(CLOUDS)}.")
        cloud = "public"
    return AzureBackendConfig(
        kind=str(kind),
        subscription_id=values.get("subscription_id") or "",
        resource_group=values.get("resource_group") or "",
        workspace=values.get("workspace") or "",
        cloud=cloud,
        arm_endpoint=values.get("arm_endpoint"),
        authority_host=values.get("authority_host"),
        tenant_id=values.get("tenant_id"),
        client_id=values.get("client_id"),
        compute=values.get("compute"),
        location=c.doc.where(path),
    )


def _store(c: _Checker, raw: str, root: Path, repo_root: Path, path: KeyPath) -> Path:
    """The store folder: a relative one stays in the repository; none may be a file."""
    store = root / raw
    if not Path(raw).is_absolute() and (resolved := outside(store, repo_root)) is not None:
        # An absolute store is the user's explicit choice (a shared disk); a relative one that climbs out is a slip.
        c.add(path, f"the store {describe_outside(raw, resolved, repo_root)}",
              "Use a folder inside the repository such as .retrain, or an absolute path if you mean a store elsewhere.")
    for folder in (store, *store.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                what = "the store" if folder == store else f"the store's folder {folder}"
                c.add(path, f"{what} is a file, not a folder: {store}.",
                      "Move the file away, or point store: at another folder.")
            break
    return resolve(store)


def _retention(c: _Checker, value: Any, path: KeyPath) -> Retention | None:
    """``retention: {keep: N}``: runs kept per pipeline, newest first, besides those versions need."""
    spec = c.mapping(value, path, "the retention settings")
    if spec is None:
        return None
    c.unknown_keys(spec, path, ("keep",))
    if "keep" not in spec:
        c.add(path, "retention has no 'keep'.", "Write retention: {keep: 10} to keep the newest 10 runs of each pipeline.")
        return None
    keep = spec["keep"]
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        c.add((*path, "keep"), f"expected a whole number of runs (0 or more), got {_type_name(keep)} {keep!r}.",
              "Write e.g. keep: 10.")
        return None
    return Retention(keep=keep, location=c.doc.where(path))


def _secretish(key: object) -> bool:
    return any(word in str(key).lower() for word in SECRET_LOOKING)


def parse_version_pin(value: object) -> VersionPin:
    """``3``, ``"3"``, ``"default"``, ``"latest"``; raise ValueError with what to write instead.

    0 is allowed: pipeline endpoints published from Azure ML's v1 designer number versions from 0.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a version number, 'default' or 'latest', got {value!r}.")
    if isinstance(value, int) and 0 <= value <= MAX_VERSION:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("default", "latest"):
            return text
        if text.isdigit() and len(text) <= 10 and int(text) <= MAX_VERSION:
            return int(text)
    raise ValueError(f"expected a version number, 'default' or 'latest', got {value!r}.")


def parse_version_option(text: str, *, origin: str) -> VersionPin:
    """A version typed by a person (``--version``, an action input); a bad one is a :class:`UsageError`."""
    try:
        return parse_version_pin(text)
    except ValueError as e:
        raise UsageError(f"{origin}: {e}") from None


def _triggers(c: _Checker, value: Any, path: KeyPath, default: frozenset[Trigger]) -> frozenset[Trigger]:
    if value is None:
        return default
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        c.add(path, f"expected a list of events, got {_type_name(value)}.", f"Use any of: {', '.join(t.value for t in Trigger)}.")
        return default
    out: set[Trigger] = set()
    words = [t.value for t in Trigger]
    for i, item in enumerate(value):
        try:
            out.add(Trigger(item))
        except ValueError:
            close = difflib.get_close_matches(str(item), words, n=1, cutoff=0.5)
            hint = f"Did you mean '{close[0]}'?" if close else f"Use any of: {', '.join(words)}."
            c.add((*path, i), f"unknown event {item!r}.", hint)
    return frozenset(out)


def _pipeline(c: _Checker, name: str, entry: Any, root: Path, repo_root: Path, display_root: Path | None,
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
    retention = _retention(c, spec["retention"], (*path, "retention")) if "retention" in spec else None
    if Trigger.PULL_REQUEST in publish_on:
        c.add((*path, "publish_on"), "a pull request never publishes: its pipeline runs as a draft.",
              "Move pull_request to submit_on.")
    goals = _goals(c, spec.get("metrics"), (*path, "metrics"))
    compare_to = _compare_to(c, spec.get("compare_to", "default"), (*path, "compare_to"))
    gate = _gate(c, spec["promote"], (*path, "promote"), goals) if spec.get("promote") is not None else None
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
        c.add((*path, "data"), f"expected a list of path patterns, got {_type_name(data)}.", 'Write data: ["data/**/*.csv"].')
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
                c.add((*path, "parameters", key), f"expected a value (text, number or boolean), got {_type_name(value)}.")

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


GOALS = ("max", "min")
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,255}")


def _goals(c: _Checker, value: Any, path: KeyPath) -> dict[str, str]:
    """``metrics: {auc: {goal: max}, log_loss: {goal: min}}``; ``log_loss: min`` is the short form."""
    if value is None:
        return {}
    spec = c.mapping(value, path, "metrics and their goals")
    out: dict[str, str] = {}
    for name, entry in (spec or {}).items():
        here = (*path, name)
        if isinstance(entry, dict):
            c.unknown_keys(entry, here, ("goal",))
            goal = entry.get("goal", "max")
            where = (*here, "goal")
        else:
            goal, where = entry, here
        if goal not in GOALS:
            c.add(where, f"the goal of metric '{name}' is {goal!r}.", "Write goal: max (higher is better) or goal: min (lower is better).")
            continue
        out[str(name)] = str(goal)
    return out


def _compare_to(c: _Checker, value: Any, path: KeyPath) -> str:
    if isinstance(value, str) and value in ("default", "latest"):
        return value
    if isinstance(value, str) and RUN_ID.fullmatch(value):
        return value  # a run id: whether it exists is checked against the backend before anything runs
    c.add(path, f"expected default, latest or a run id, got {_type_name(value)} {value!r}.",
          "Write compare_to: default (the default version's latest run), latest, or a run id from `retrain runs`.")
    return "default"


def _gate(c: _Checker, value: Any, path: KeyPath, goals: dict[str, str]) -> Gate | None:
    """The ``promote:`` block. A metric's entry is a condition (``auc: ">= 0.9"``) or a mapping of MLflow's
    MetricThreshold keys; its ``greater_is_better`` joins ``goals`` (the ``metrics:`` goals), which it must not
    contradict."""
    spec = c.mapping(value, path, "the promotion gate")
    if spec is None:
        return None
    conditions: list[Condition] = []
    changes: list[Change] = []
    for key, entry in spec.items():
        if key in GATE_KEYS:
            continue
        if not isinstance(key, str) or not key.strip():
            c.add((*path, key), f"expected a metric name, got {key!r}.", at_key=True)
            continue
        if isinstance(entry, dict):
            cond, more = _metric_rule(c, key, entry, (*path, key), goals)
            conditions += cond
            changes += more
            continue
        try:
            cond_ = parse_condition(key, entry)
        except BadCondition as e:
            c.add((*path, key), str(e))
            continue
        conditions.append(Condition(cond_.metric, cond_.op, cond_.threshold, c.doc.where((*path, key))))
    relative = spec.get("not_worse_than")
    if relative is not None and relative not in RELATIVE_TO:
        c.add((*path, "not_worse_than"), f"not_worse_than is {relative!r}.", "Write not_worse_than: baseline.")
        relative = None
    tolerance = 0.0
    if "tolerance" in spec:
        raw = spec["tolerance"]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0 or raw != raw or raw == float("inf"):
            c.add((*path, "tolerance"), f"expected a number of at least 0, got {_type_name(raw)} {raw!r}.",
                  "The tolerance is how much worse than the baseline a metric may be, e.g. tolerance: 0.01.")
        else:
            tolerance = float(raw)
            if "not_worse_than" not in spec:
                c.add((*path, "tolerance"), "a tolerance without not_worse_than has nothing to loosen.",
                      "Add not_worse_than: baseline, or remove tolerance.")
    if not any(k not in GATE_KEYS for k in spec) and spec.get("not_worse_than") is None:
        c.add(path, "the gate has no condition.", 'Add one, e.g. auc: ">= 0.9", or not_worse_than: baseline.')
        return None
    return Gate(tuple(conditions), "baseline" if relative in RELATIVE_TO else None, tolerance, c.doc.where(path), tuple(changes))


def _metric_rule(c: _Checker, name: str, entry: dict[Any, Any], path: KeyPath,
                 goals: dict[str, str]) -> tuple[list[Condition], list[Change]]:
    """``promote: {log_loss: {threshold: 0.4, min_absolute_change: 0, min_relative_change: 0.01, greater_is_better: false}}``."""
    c.unknown_keys(entry, path, METRIC_KEYS)
    if "greater_is_better" in entry:
        gib = entry["greater_is_better"]
        if not isinstance(gib, bool):
            c.add((*path, "greater_is_better"), f"expected true or false, got {_type_name(gib)} {gib!r}.",
                  "true: higher is better (goal max); false: lower is better (goal min).")
        else:
            goal = "max" if gib else "min"
            if name in goals and goals[name] != goal:
                c.add((*path, "greater_is_better"), f"greater_is_better: {str(gib).lower()} contradicts metrics: "
                      f"{name} has goal {goals[name]}.", "Say which way the metric is better in one place.")
            else:
                goals[name] = goal
    goal = goals.get(name, "max")
    conditions: list[Condition] = []
    changes: list[Change] = []
    if "threshold" in entry:
        raw = entry["threshold"]
        try:
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                # As MLflow reads a threshold: at least it for a metric whose goal is max, at most for min.
                cond = parse_condition(name, raw)
                cond = Condition(name, ">=" if goal == "max" else "<=", cond.threshold)
            else:
                cond = parse_condition(name, raw)
            conditions.append(Condition(cond.metric, cond.op, cond.threshold, c.doc.where((*path, "threshold"))))
        except BadCondition as e:
            c.add((*path, "threshold"), str(e))
    for key, kind in (("min_absolute_change", "absolute"), ("min_relative_change", "relative")):
        if key not in entry:
            continue
        raw = entry[key]
        limit = 1.0 if kind == "relative" else float("inf")
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != raw or not -limit <= raw <= limit \
                or abs(raw) == float("inf"):
            what = "a number from -1 to 1 (a share of the baseline's value)" if kind == "relative" else "a finite number"
            c.add((*path, key), f"expected {what}, got {_type_name(raw)} {raw!r}.",
                  f"e.g. {key}: {'0.01 (1% better than the baseline)' if kind == 'relative' else '0.005'}; "
                  "a negative number allows that much worse.")
            continue
        changes.append(Change(name, kind, float(raw), c.doc.where((*path, key))))
    if not any(k in entry for k in ("threshold", "min_absolute_change", "min_relative_change")):
        c.add(path, f"the gate's entry for metric '{name}' has no condition.",
              "Add threshold, min_absolute_change or min_relative_change (greater_is_better alone only sets the goal; "
              "write that under metrics:).")
    return conditions, changes


def _parameters(c: _Checker, given: Mapping[Any, Any], path: KeyPath, pipeline: Pipeline, root: Path,
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
