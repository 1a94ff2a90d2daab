"""Pipeline definitions: the Azure ML v2 pipeline-job YAML, loaded, typed and hashed."""

from .model import (
    Binding,
    Component,
    DataValue,
    InputType,
    Literal,
    ParentInput,
    Pipeline,
    Port,
    Step,
    StepOutput,
)

__all__ = [
    "Binding",
    "Component",
    "DataValue",
    "InputType",
    "Literal",
    "ParentInput",
    "Pipeline",
    "Port",
    "Step",
    "StepOutput",
]
