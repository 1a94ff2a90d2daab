"""What ``retrain init`` writes, planned: from a pipeline definition to a parameter file and a workflow that work as written.

Both files are generated as text, not dumped from data, so they carry the comments a new user needs and
quote every value the same way for GitHub's YAML parser and ours. Nothing is written until both are
ready, and nothing existing is overwritten unless asked (``--force``).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..boundary import repository_root
from ..errors import InvalidFile, UsageError
from ..github.dispatch_form.fields import MAX_INPUTS, FormInput, fit_form, form_inputs, render_inputs, repo_path, wire_line
from ..pipeline.load import load_pipeline
from ..pipeline.model import InputType, Pipeline, Port
from ..pipeline.types import format_literal, is_uri

ACTION = "retrain/retrain@v1"
UPLOAD_ARTIFACT = "actions/upload-artifact@v6"
CHECKOUT = "actions/checkout@v7"  # node24; v4 ran on node20, which runners no longer have
DEFAULT_SYNC_CRON = "17 * * * *"  # hourly, off the hour when GitHub's scheduler is busiest
SKIP_DIRS = frozenset({"node_modules", "venv", "site-packages", "__pycache__"})
MAX_SCAN_BYTES = 1 << 20
PIPELINE_TYPE = re.compile(r"^type:\s*['\"]?pipeline['\"]?\s*(#.*)?$", re.M)
WORKFLOW = Path(".github/workflows/retrain.yml")


@dataclass(frozen=True)
class InitOptions:
    parameter_file: Path  # where retrain.yml goes (absolute)
    definition: Path | None  # as given, or None to look for one
    backend: str  # local or azureml
    force: bool
    no_wait: bool
    schedule: str | None
    branch: str | None


@dataclass(frozen=True)
class Written:
    path: Path
    text: str


@dataclass(frozen=True)
class InitResult:
    files: tuple[Written, ...]
    pipeline: Pipeline
    name: str
    required: tuple[str, ...]  # parameters without a default: the user must give them a value
    left_out: tuple[str, ...] = ()  # parameters past the form's limit of inputs
    schedule: str | None = None


def git_top_level(start: Path) -> Path:
    """The Git top level; init refuses to work outside Git because what it writes is a GitHub workflow."""
    root = repository_root(start)
    if (root / ".git").exists():
        return root
    raise UsageError(f"{start} is not inside a Git repository. Run `git init` first (retrain init writes a GitHub workflow).")


def find_definitions(repo_root: Path) -> list[Path]:
    """Azure ML v2 pipeline-job YAML files in the repository (``type: pipeline`` with ``jobs:``)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(repo_root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            if not name.endswith((".yml", ".yaml")):
                continue
            path = Path(folder) / name
            try:
                if path.stat().st_size > MAX_SCAN_BYTES:
                    continue
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if not PIPELINE_TYPE.search(text):
                continue
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            # A pipeline component (type: pipeline too) is a step of a pipeline, not one to run.
            if isinstance(data, dict) and data.get("type") == "pipeline" and "jobs" in data \
                    and "pipelineComponent" not in str(data.get("$schema", "")):
                found.append(path)
    return sorted(found)


def choose_definition(repo_root: Path, given: Path | None) -> Path:
    if given is not None:
        path = given if given.is_absolute() else Path.cwd() / given
        if not path.is_file():
            raise UsageError(f"--definition {given}: no such file.")
        return path.resolve()
    found = find_definitions(repo_root)
    if not found:
        raise UsageError(f"no Azure ML pipeline definition (a YAML file with type: pipeline and jobs:) in {repo_root}. "
                         "Add one, or name it with --definition PATH.")
    if len(found) > 1:
        listing = ", ".join(p.relative_to(repo_root).as_posix() for p in found)
        raise UsageError(f"{len(found)} pipeline definitions in the repository ({listing}). "
                         "Choose one with --definition PATH.")
    return found[0]


def default_branch(repo_root: Path) -> str:
    """The branch that is checked out (in a new repository, the one that will be the default)."""
    try:
        out = subprocess.run(["git", "symbolic-ref", "--short", "-q", "HEAD"], cwd=repo_root,
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "main"
    return out.stdout.strip() or "main"


def _name(text: str, pattern: str, *, first_letter: bool, max_len: int) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+" if pattern == "pipeline" else r"[^A-Za-z0-9-]+", "-", text).strip("-_.")
    if first_letter and not name[:1].isalpha():
        name = "p-" + name
    if not name:
        name = "pipeline"
    name = name[:max_len].rstrip("-_.")
    return name if len(name) >= 3 else (name + "-retrain")[:max_len]


def _rel(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def data_globs(pipeline: Pipeline, repo_root: Path, base: Path) -> list[str]:
    """``data:`` patterns (relative to ``base``) for the uri_file/uri_folder defaults in the repository."""
    globs: list[str] = []
    for port in pipeline.parameters.values():
        if port.type not in (InputType.URI_FILE, InputType.URI_FOLDER) or not isinstance(port.default, str):
            continue
        if is_uri(port.default) or repo_path(port.default, repo_root) is None:
            continue
        target = Path(port.default)
        folder = target.parent if port.type is InputType.URI_FILE else target
        try:
            rel_folder = folder.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue  # above the parameter file's folder: data globs cannot reach it
        if port.type is InputType.URI_FOLDER:
            pattern = "**" if rel_folder == "." else f"{rel_folder}/**"
        elif rel_folder == ".":
            pattern = target.name
        else:
            pattern = f"{rel_folder}/**/*{target.suffix}" if target.suffix else f"{rel_folder}/**"
        if pattern not in globs:
            globs.append(pattern)
    return globs


def _comment(port: Port) -> str:
    bits = [port.type.value]
    if port.enum:
        bits.append("one of " + ", ".join(port.enum))
    if port.min is not None or port.max is not None:
        lo = "" if port.min is None else format_literal(int(port.min) if port.type is InputType.INTEGER else port.min)
        hi = "" if port.max is None else format_literal(int(port.max) if port.type is InputType.INTEGER else port.max)
        bits.append(f"{lo} to {hi}".strip())
    if port.description.strip():
        bits.append(" ".join(port.description.split()))
    return "  # " + "; ".join(bits)


def _value(port: Port, base: Path) -> str:
    from ..github.dispatch_form.fields import yaml_scalar as _scalar

    default = port.default
    if port.type.is_data and isinstance(default, str) and not is_uri(default):
        default = _rel(Path(default), base)
    return _scalar(default)  # type: ignore[arg-type]


def parameter_file_text(pipeline: Pipeline, name: str, endpoint: str, base: Path, repo_root: Path, backend: str) -> tuple[str, list[str]]:
    lines = [
        f"# Written by `retrain init` from {_rel(pipeline.path, base)}. Paths are relative to this file's folder;",
        "# every key is described in docs/parameter-file.md.",
    ]
    if backend == "local":
        lines.append("backend: local")
    else:
        compute = str(pipeline.settings.get("default_compute") or "cpu-cluster").removeprefix("azureml:")
        lines += [
            "backend:",
            "  kind: azureml",
            "  # Fill these in (the workspace's Overview page in the Azure portal shows them); see docs/azure.md.",
            "  # The action's azure-subscription-id input, when given, takes the place of subscription_id.",
            '  subscription_id: "00000000-0000-0000-0000-000000000000"',
            '  resource_group: "your-resource-group"',
            '  workspace: "your-workspace"',
            f'  compute: "{compute}"  # the compute cluster the pipeline jobs run on',
        ]
    lines += [
        "pipelines:",
        f"  {name}:",
        f'    definition: "{_rel(pipeline.path, base)}"',
        f'    endpoint: "{endpoint}"',
        "    version: default  # the endpoint version runs use: a number, default or latest",
        f'    experiment: "{_name(pipeline.experiment_name or name, "pipeline", first_letter=False, max_len=255)}"',
    ]
    required: list[str] = []
    if pipeline.parameters:
        lines.append("    parameters:  # the values runs use; a dispatch form's field overrides one for a run")
        for pname, port in pipeline.parameters.items():
            if port.default is None:
                if port.required:
                    required.append(pname)
                    lines.append(f"      {pname}:{_comment(port)}; no default: give it a value")
                else:
                    lines.append(f"      # {pname}:{_comment(port)}; optional")
                continue
            lines.append(f"      {pname}: {_value(port, base)}{_comment(port)}")
    globs = data_globs(pipeline, repo_root, base)
    if globs:
        lines.append("    data:  # a push that changes a matching file retrains (submit_on: data)")
        lines += [f'      - "{g}"' for g in globs]
    lines += [
        "    publish_on: [merge]  # a push to the default branch that changes the pipeline publishes a version",
        "    submit_on: [merge, data, dispatch]  # what submits a retrain run",
    ]
    return "\n".join(lines) + "\n", required


def push_paths(pipeline: Pipeline, repo_root: Path, config_path: Path, globs: Sequence[str]) -> list[str]:
    """What a push must touch to concern the pipeline: the parameter file, the pipeline's files, the data."""
    paths = [_rel(config_path, repo_root)]
    root = pipeline.root.resolve()
    root_rel = _rel(root, repo_root)
    prefix = "" if root_rel == "." else root_rel + "/"
    for f in pipeline.files:
        try:
            rel = f.resolve().relative_to(root)
        except ValueError:
            continue
        path = prefix + (rel.as_posix() if len(rel.parts) == 1 else f"{rel.parts[0]}/**")
        if path not in paths:
            paths.append(path)
    base_rel = _rel(config_path.parent, repo_root)
    for g in globs:
        path = g if base_rel == "." else f"{base_rel}/{g}"
        if path not in paths:
            paths.append(path)
    return paths


def left_out_comment(left_out: Sequence[str], name: str, config_name: str, indent: str = "    ") -> list[str]:
    """The workflow comment that names the parameters past the form's limit and how to set them."""
    if not left_out:
        return []
    words = (f"GitHub allows {MAX_INPUTS} inputs on a form, so these parameters are not on it and run with "
             f"{config_name}'s values: {', '.join(left_out)}. To change one, set it in {config_name} (a push retrains "
             f"with it), or from a terminal: retrain submit {name} --set {left_out[0]}=VALUE").split()
    lines, line = [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > 100:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return [f"{indent}# {text}" for text in lines]


def workflow_text(pipeline: Pipeline, inputs: Sequence[FormInput], *, repo_root: Path, config_path: Path,
                  globs: Sequence[str], branch: str, backend: str, no_wait: bool, schedule: str | None,
                  left_out: Sequence[str] = (), name: str = "") -> str:
    rel_def = _rel(pipeline.path, repo_root)
    q = '"'
    lines = [
        f"# Written by `retrain init` from {rel_def}.",
        f"# A push to {branch} publishes the pipeline and retrains when it, the parameter file or the data change;",
        "# a pull request checks the parameter file and shows the plan (and runs a draft where submit_on lists",
        "# pull_request); Actions > retrain > Run workflow retrains with the values in the form.",
        "# `retrain init --update` rewrites the form from the pipeline and keeps the rest of this file as it is.",
        "name: retrain",
        "on:",
        "  push:",
        f"    branches: [{q}{branch}{q}]",
        "    paths:",
        *(f"      - {q}{p}{q}" for p in push_paths(pipeline, repo_root, config_path, globs)),
        "  pull_request:",
    ]
    if schedule:
        lines += ["  schedule:", f"    - cron: {q}{schedule}{q}  # completes the check runs of runs that finished since"]
    lines += ["  workflow_dispatch:",
              "    # One input per pipeline parameter, its default the value in the parameter file, so the form as it",
              "    # opens runs that; a text or number field left empty keeps the parameter file's value too.",
              *left_out_comment(left_out, name or pipeline.name, config_path.name)]
    if inputs:
        lines += ["    inputs:", *render_inputs(inputs, 6)]
    if backend == "local":
        # The local backend's registry is a ref of this repository (refs/retrain/registry): a push or a dispatch
        # writes it; a pull request's job only reads it (its token is read-only, a fork's above all).
        lines += ["permissions:", "  contents: write  # the registry (refs/retrain/registry); a pull request's token only reads it",
                  "  checks: write"]
    else:
        lines += ["permissions:", "  contents: read", "  checks: write"]
    lines.append("  pull-requests: write  # the review comment on a pull request (the comparison, the gate, the trend)")
    if backend == "azureml":
        lines.append("  id-token: write  # signs in to Azure with GitHub's OIDC token: no secret stored")
    lines += [
        "jobs:",
        "  retrain:",
        "    runs-on: ubuntu-latest",
        "    steps:",
        f"      - uses: {CHECKOUT}",
        "      - id: retrain",
        f"        uses: {ACTION}",
        "        with:",
        f"          parameter-file: {q}{_rel(config_path, repo_root)}{q}",
    ]
    if schedule:
        lines.append("          command: ${{ github.event_name == 'schedule' && 'sync' || 'auto' }}")
    if no_wait:
        lines.append(f"          wait: {q}false{q}  # return once the run is submitted; the schedule completes its check")
    if backend == "azureml":
        lines += [
            "          azure-client-id: ${{ vars.AZURE_CLIENT_ID }}",
            "          azure-tenant-id: ${{ vars.AZURE_TENANT_ID }}",
            "          azure-subscription-id: ${{ vars.AZURE_SUBSCRIPTION_ID }}",
        ]
    if inputs:
        lines += ["          parameters: |", *(f"            {wire_line(i.name)}" for i in inputs)]
    if backend == "local":
        lines += [
            "      # The run's folder (steps' outputs and logs) stays out of the registry: kept as this run's artifact.",
            "      - name: Keep the run's outputs",
            "        if: always() && steps.retrain.outputs.outputs-dir != ''",
            f"        uses: {UPLOAD_ARTIFACT}",
            "        with:",
            "          name: retrain-${{ steps.retrain.outputs.run-id }}",
            "          path: ${{ steps.retrain.outputs.outputs-dir }}",
        ]
    return "\n".join(lines) + "\n"


def plan_init(options: InitOptions) -> InitResult:
    """Build both files in memory; raise a RetrainError (nothing written) on bad input."""
    if options.backend not in ("local", "azureml"):
        raise UsageError(f"--backend {options.backend}: use local or azureml.")
    config_path = options.parameter_file
    repo_root = git_top_level(config_path.parent if config_path.parent.exists() else Path.cwd())
    definition = choose_definition(repo_root, options.definition)
    try:
        pipeline = load_pipeline(definition)
    except InvalidFile as e:
        raise InvalidFile(e.problems, what="pipeline definition (fix it, then run retrain init again)") from None
    base = config_path.parent
    try:
        base.resolve().relative_to(repo_root.resolve())
        definition.resolve().relative_to(repo_root.resolve())
    except ValueError:
        raise UsageError(f"the parameter file and the pipeline must both be inside the repository at {repo_root}.") from None
    name = _name(pipeline.name, "pipeline", first_letter=False, max_len=64)
    endpoint = _name(pipeline.name, "endpoint", first_letter=True, max_len=32)
    params, required = parameter_file_text(pipeline, name, endpoint, base, repo_root, options.backend)
    globs = data_globs(pipeline, repo_root, base)
    schedule = options.schedule or (DEFAULT_SYNC_CRON if options.no_wait else None)
    # The form's defaults are the values retrain.yml is written with (the pipeline's defaults, here), so a
    # dispatch with the form untouched runs exactly the file's values.
    values = {n: p.default for n, p in pipeline.parameters.items() if p.default is not None}
    inputs, left_out = fit_form(form_inputs([pipeline], repo_root, values))
    flow = workflow_text(pipeline, inputs, repo_root=repo_root, config_path=config_path, globs=globs,
                         branch=options.branch or default_branch(repo_root), backend=options.backend,
                         no_wait=options.no_wait, schedule=schedule, left_out=left_out, name=name)
    files = (Written(config_path, params), Written(repo_root / WORKFLOW, flow))
    if not options.force:
        existing = [w.path for w in files if w.path.exists()]
        if existing:
            shown = ", ".join(_rel(p, Path.cwd()) for p in existing)
            raise UsageError(f"{shown} already exist{'s' if len(existing) == 1 else ''}; nothing was written. "
                             "Pass --force to overwrite, or --update to bring an existing form in step with the pipeline.")
    return InitResult(files, pipeline, name, tuple(required), left_out, schedule)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
