"""A step made ready to run: its command rendered (inputs, outputs, a parallel step's driver), its
environment, the upstream outputs it reads, and its reuse key (the component's files, the command with
data counted by content, the environment it sets), computed once per step in the worker's main thread."""

from __future__ import annotations

import hashlib
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ...errors import BackendError
from ...pipeline.hashing import content_hash
from ...pipeline.model import Component, DataValue, ParentInput, Pipeline, Step, StepOutput
from ...pipeline.types import format_literal
from .command import render
from .direct import find_program
from .store import dumps

PARALLEL_DRIVER = Path(__file__).with_name("parallel_run.py")


@dataclass
class Prepared:
    step: Step
    folder: Path
    workdir: Path
    command: str
    env: dict[str, str]
    outputs: dict[str, Path]
    reuse_key: str | None
    # Upstream outputs this step reads, each copied into its own inputs/ folder (dest -> stored source):
    # a step never gets a path into the store, so it cannot change what other runs share.
    inputs: dict[Path, Path] = field(default_factory=dict)



def hash_path(path: Path) -> str:
    """Content hash of a data input: a file's bytes, or a folder's files by relative path."""
    h = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(file.relative_to(path).as_posix().encode() + b"\0" + hash_path(file).encode())
        return h.hexdigest()
    return "missing:" + str(path)


class StepPreparer:
    """The Executor's preparing of steps (a mixin: it uses the run's folder, environment and experiment)."""

    run_id: str
    folder: Path
    environ: dict[str, str]
    experiment: str
    _component_hashes: dict[Path, str]

    def _component_hash(self, component: Component) -> str:
        key = component.source if component.code is None else component.code
        if key not in self._component_hashes:
            files = [component.source]
            if component.code is not None and component.code.is_dir():
                files += [p for p in component.code.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
            elif component.code is not None:
                files.append(component.code)
            root = Path(os.path.commonpath([str(f.parent) for f in files]))
            self._component_hashes[key] = content_hash(files, root)
        return self._component_hashes[key]

    def _prepare(self, pipeline: Pipeline, step: Step, parameters: Mapping[str, object], *,
                 overrides: Mapping[str, object] | None = None, name: str | None = None) -> Prepared:
        """A step (or, with ``name`` and ``overrides``, one trial of a sweep) ready to run."""
        if name is not None:
            step = replace(step, name=name)
        component = step.component
        folder = self.folder / "steps" / step.name
        out_root = folder / "outputs"
        values: dict[str, str | None] = {}
        placeholders: dict[str, str | None] = {}
        data_paths: dict[str, str] = {}
        inputs: dict[Path, Path] = {}
        for name, port in component.inputs.items():
            binding = step.inputs.get(name)
            value: object = port.default
            if isinstance(binding, ParentInput):
                value = parameters.get(binding.name)
            elif isinstance(binding, StepOutput):
                value = str(folder / "inputs" / name)
                inputs[Path(value)] = self.folder / "steps" / binding.step / "outputs" / binding.output
            elif isinstance(binding, DataValue):
                value = binding.path
            elif binding is not None:
                value = binding
            if overrides is not None and name in overrides:
                value = overrides[name]  # a sweep trial's sampled value
            if value is None:
                values[name] = placeholders[name] = None
            elif port.type.is_data:
                values[name] = str(value)
                # Data counts by content, not by where it lies, for reuse.
                placeholders[name] = f"<input:{name}>"
                raw = str(value)
                # A step output's copy is hashed from its stored source.
                data_paths[name] = raw if raw.startswith(("azureml", "http")) else str(inputs.get(Path(raw), Path(raw)))
            else:
                values[name] = placeholders[name] = format_literal(value)  # type: ignore[arg-type]
        outputs = {name: out_root / name for name in component.outputs}
        template = self._parallel_command(step) if step.parallel is not None else component.command
        command = render(template, values, {k: str(v) for k, v in outputs.items()})
        env = {
            **self.environ,
            **component.environment_variables,
            **step.environment_variables,
            "PYTHONUNBUFFERED": "1",
            "MLFLOW_TRACKING_URI": (folder / "mlruns").as_uri(),
            # MLflow 3 refuses its file store unless told it is wanted; it is what we read back.
            "MLFLOW_ALLOW_FILE_STORE": "true",
            "MLFLOW_EXPERIMENT_NAME": self.experiment,
            "RETRAIN_RUN_ID": self.run_id,
            "RETRAIN_STEP": step.name,
        }
        for name, value in values.items():
            if value is not None:
                env[f"AZURE_ML_INPUT_{name}"] = value
        for name, path in outputs.items():
            env[f"AZURE_ML_OUTPUT_{name}"] = str(path)
        reuse_key = None
        # Recorded for forced runs too, so the run after a forced one can reuse its steps.
        if component.is_deterministic:
            template = render(template, placeholders, {k: f"<output:{k}>" for k in outputs})
            # Data is read for its hash only here: a forced run or a non-deterministic step never pays for it.
            data = {n: v if v.startswith(("azureml", "http")) else hash_path(Path(v)) for n, v in data_paths.items()}
            body = {"component": self._component_hash(component), "command": template, "data": data,
                    "env": {**component.environment_variables, **step.environment_variables}}
            reuse_key = hashlib.sha256(dumps(body).encode()).hexdigest()
        workdir = folder / "code"
        return Prepared(step, folder, workdir, command, env, outputs, reuse_key, inputs)

    def _parallel_command(self, step: Step) -> str:
        """A parallel step's command: parallel_run.py over its input, the task's program_arguments after ``--``."""
        task = step.parallel
        if task is None or task.input_data is None or task.entry_script is None:
            raise BackendError(f"the parallel step '{step.name}' has no input_data or entry_script; validate its pipeline.")
        path = self.environ.get("PATH") or os.defpath
        python = find_program("python", path) or find_program("python3", path) or sys.executable
        parts = [shlex.quote(python), shlex.quote(str(PARALLEL_DRIVER)), "--entry-script", shlex.quote(task.entry_script),
                 "--input-data", f"${{{{inputs.{task.input_data}}}}}",
                 "--mini-batch-size", shlex.quote(task.mini_batch_size or "1"),
                 "--concurrency", str(task.max_concurrency_per_instance),
                 # Unset thresholds fail the step on any failure: a local run should not hide one.
                 "--error-threshold", str(task.error_threshold if task.error_threshold is not None else 0),
                 "--mini-batch-error-threshold", str(task.mini_batch_error_threshold if task.mini_batch_error_threshold is not None else 0),
                 "--max-retries", str(task.max_retries or 0)]
        if task.append_row_to is not None:
            parts += ["--append-row-to", f"${{{{outputs.{task.append_row_to}}}}}"]
        return " ".join(parts) + " -- " + task.program_arguments
