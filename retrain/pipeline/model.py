"""The typed model of a loaded pipeline definition (Azure ML v2 pipeline-job YAML).

These frozen dataclasses are the boundary between the loader (``pipeline.load``) and everything that
uses a pipeline: the parameter-file validator, the plan, and the backends. Nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Union

from ..errors import Location

if TYPE_CHECKING:
    from ..yamlfile import KeyPath, YamlDoc
    from .tasks import Parallel, Sweep  # only a pipeline with such a step loads them

# Step (node) types the Azure ML service runs in a pipeline; retrain's local backend runs the first four.
STEP_TYPES = ("command", "pipeline", "sweep", "parallel", "spark", "automl", "data_transfer", "import")


class InputType(str, Enum):
    """Types of pipeline parameters and component inputs, as Azure ML names them."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    URI_FILE = "uri_file"
    URI_FOLDER = "uri_folder"
    MLTABLE = "mltable"
    MLFLOW_MODEL = "mlflow_model"
    CUSTOM_MODEL = "custom_model"

    @property
    def is_data(self) -> bool:
        """Data inputs are paths or URIs; the rest are literals."""
        return self not in (InputType.STRING, InputType.INTEGER, InputType.NUMBER, InputType.BOOLEAN)


Literal = Union[str, int, float, bool]


@dataclass(frozen=True)
class Port:
    """A declared input or output: of the pipeline (its *parameters*) or of a component.

    ``default`` is already coerced to ``type``. For data types it is the path or URI as written,
    with local paths made absolute against the declaring file's folder.
    """

    name: str
    type: InputType
    default: Literal | None = None
    optional: bool = False
    description: str = ""
    min: float | None = None
    max: float | None = None
    enum: tuple[str, ...] | None = None
    mode: str | None = None
    location: Location | None = field(default=None, compare=False)

    @property
    def required(self) -> bool:
        return self.default is None and not self.optional


@dataclass(frozen=True)
class ComponentRef:
    """``component: azureml:...``: a component registered in a workspace or a registry, kept as written.

    ``azureml:name:version``, ``azureml:name@label`` (``@latest``), ``azureml:name`` (the default version),
    ``azureml://registries/REG/components/NAME[/versions/V | /labels/L]`` and
    ``azureml://locations/.../workspaces/.../components/NAME/versions/V``. The Azure backend resolves it
    (a label to a version, a name to an ARM id); the local backend refuses it, its YAML is not here.
    """

    text: str
    name: str
    version: str | None = None
    label: str | None = None
    registry: str | None = None
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Component:
    """A component: command (given inline in a job or loaded from ``component: ./file.yml``), pipeline,
    parallel, spark, a prompt flow, or a registered one (``registered``; inputs and outputs then unknown).

    ``type`` is the component's own type. Only command components have a ``command``; a parallel
    component's ``program_arguments`` are in ``command`` (rendered the same way) and its task in the
    step's :class:`Parallel`. A pipeline component's ``jobs`` are its steps, loaded and checked like a
    pipeline's, with ``${{parent.inputs.x}}`` naming the component's inputs. Other types keep their YAML in
    ``raw`` (the Azure backend sends it on).
    """

    name: str
    version: str | None
    display_name: str
    inputs: Mapping[str, Port]
    outputs: Mapping[str, Port]
    command: str  # as written, with ${{inputs.x}}, ${{outputs.y}} and $[[ ... ]] sections
    code: Path | None  # absolute folder (or file) that is the step's working snapshot
    environment: str | Mapping[str, object] | None  # ignored by the local backend, sent to Azure
    environment_variables: Mapping[str, str]
    is_deterministic: bool
    source: Path  # the YAML file that declared it (the pipeline file for inline components)
    location: Location | None = field(default=None, compare=False)
    raw: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)
    type: str = "command"
    jobs: Mapping[str, Step] = field(default_factory=dict)  # type: pipeline, in dependency order
    registered: ComponentRef | None = None
    inline: bool = False  # declared by the step itself (an inline command/parallel job): no file of its own


@dataclass(frozen=True)
class ParentInput:
    """``${{parent.inputs.NAME}}``: the value of a pipeline parameter."""

    name: str


@dataclass(frozen=True)
class StepOutput:
    """``${{parent.jobs.STEP.outputs.NAME}}``: an output of an earlier step."""

    step: str
    output: str


@dataclass(frozen=True)
class DataValue:
    """A data input given in place: ``{type: uri_file, path: ./data.csv}``; local paths absolute."""

    type: InputType
    path: str
    mode: str | None = None


# What a step input is bound to. A plain Literal is a constant given in the pipeline file.
Binding = Union[ParentInput, StepOutput, DataValue, str, int, float, bool]


@dataclass(frozen=True)
class Step:
    """One node of ``jobs:``: a component with its inputs bound.

    ``type`` is the node's type (:data:`STEP_TYPES`). ``spec`` is the node's YAML mapping as written and
    ``doc``/``key_path`` locate any part of it (``doc.where((*key_path, "search_space"))``), so a backend
    can pass the node on in the service's shape and point at a line. For a ``sweep`` the component is
    the trial and ``sweep`` the rest; for a ``parallel`` step ``parallel`` holds its task settings; for
    ``automl`` (and ``spark``, ``data_transfer``, ``import`` given inline) the component is a stand-in
    of type ``automl``/... with the node's inputs and outputs and its YAML in ``raw``.
    """

    name: str
    component: Component
    inputs: Mapping[str, Binding]  # only the inputs the job binds; unbound ones use defaults
    outputs: Mapping[str, str | None]  # output name -> "${{parent.outputs.x}}" target name, or None
    environment_variables: Mapping[str, str]
    depends_on: tuple[str, ...]  # steps whose outputs this one reads, in file order
    location: Location | None = field(default=None, compare=False)
    type: str = "command"
    spec: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)
    doc: YamlDoc | None = field(default=None, compare=False, repr=False)
    key_path: KeyPath = ()
    sweep: Sweep | None = None
    parallel: Parallel | None = None


@dataclass(frozen=True)
class Pipeline:
    """A loaded, resolved and checked pipeline definition."""

    path: Path  # absolute path of the pipeline YAML
    name: str  # ``name:`` or ``display_name:`` of the file, else the file's stem
    display_name: str
    experiment_name: str | None
    description: str
    parameters: Mapping[str, Port]  # the pipeline's ``inputs:``; these are what users assign
    outputs: Mapping[str, Port]
    steps: Mapping[str, Step]  # in a topological order (dependencies first), ties in file order
    settings: Mapping[str, object]
    content_hash: str  # "sha256:<hex>" over the pipeline, its components and their code folders
    files: tuple[Path, ...]  # every file that went into content_hash (absolute), sorted
    root: Path  # common folder of ``files``: snapshots keep paths relative to it
