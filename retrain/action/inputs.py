"""The action's inputs: read once, from ``INPUT_*``, into typed values; and the secrets among them (and the
environment's) masked in the job log before anything else is printed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..config.version_pin import parse_version_pin
from ..errors import UsageError
from ..flow.plan import parse_assignments
from ..github.workflow import Workflow
from ..pipeline.types import parse_duration

COMMANDS = ("auto", "validate", "plan", "publish", "submit", "sync", "gc")
# Every input action.yml declares; read_input refuses any other name (tests compare both ways).
INPUTS = ("parameter-file", "command", "pipeline", "version", "parameters", "wait", "timeout", "github-token",
          "azure-client-id", "azure-tenant-id", "azure-subscription-id", "azure-client-secret", "azure-client-certificate")
SECRET_INPUTS = ("github-token", "azure-client-secret", "azure-client-certificate")
# The Azure inputs reach the backend as the AZURE_* variables it reads; an input wins over a variable.
AZURE_VARIABLES = {"azure-client-id": "AZURE_CLIENT_ID", "azure-tenant-id": "AZURE_TENANT_ID",
                   "azure-subscription-id": "AZURE_SUBSCRIPTION_ID", "azure-client-secret": "AZURE_CLIENT_SECRET",
                   "azure-client-certificate": "AZURE_CLIENT_CERTIFICATE"}


def read_input(environ: Mapping[str, str], name: str, default: str = "") -> str:
    """GitHub keeps hyphens in input variables (INPUT_PARAMETER-FILE); accept the underscore form too.

    The one place that reads ``INPUT_*``: everything below the action gets typed values or ``AZURE_*``.
    """
    if name not in INPUTS:
        raise LookupError(f"the action read the input {name!r}, which action.yml does not declare.")
    key = f"INPUT_{name.upper()}"
    value = environ.get(key)
    if value is None:
        value = environ.get(key.replace("-", "_"))
    return (value if value is not None else default).strip()


@dataclass(frozen=True)
class ActionInputs:
    parameter_file: str
    command: str
    pipeline: str
    version: str
    parameters: Mapping[str, str]
    wait: bool
    timeout_s: float | None
    github_token: str = field(repr=False)
    azure: Mapping[str, str] = field(default_factory=dict, repr=False)  # AZURE_* variable -> input value

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "ActionInputs":
        command = read_input(environ, "command", "auto") or "auto"
        if command not in COMMANDS:
            raise UsageError(f"the command input is {command!r}; use one of {', '.join(COMMANDS)}.")
        wait_text = read_input(environ, "wait", "true").lower() or "true"
        if wait_text not in ("true", "false"):
            raise UsageError(f"the wait input is {wait_text!r}; use true or false.")
        timeout_text = read_input(environ, "timeout")
        try:
            timeout = parse_duration(timeout_text) if timeout_text else None
        except ValueError as e:
            raise UsageError(f"the timeout input: {e}") from None
        version = read_input(environ, "version")
        if version:
            try:
                parse_version_pin(version)
            except ValueError as e:
                raise UsageError(f"the version input: {e}") from None
        lines = [line for line in read_input(environ, "parameters").splitlines() if line.strip() and not line.strip().startswith("#")]
        try:
            parameters = parse_assignments([line.strip() for line in lines])
        except UsageError as e:
            raise UsageError(f"the parameters input: {e}".replace("--set ", "")) from None
        # `name=${{ inputs.name }}` is empty on a push, or when a form field is left empty: the file's value stays.
        parameters = {name: value for name, value in parameters.items() if value.strip()}
        return cls(
            parameter_file=read_input(environ, "parameter-file", "retrain.yml") or "retrain.yml",
            command=command, pipeline=read_input(environ, "pipeline"), version=version,
            parameters=parameters, wait=wait_text == "true", timeout_s=timeout,
            github_token=read_input(environ, "github-token") or environ.get("GITHUB_TOKEN", ""),
            azure={variable: value for name, variable in AZURE_VARIABLES.items() if (value := read_input(environ, name))},
        )

    def backend_environ(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The environment a backend sees: no INPUT_* (read here, once), the Azure inputs as AZURE_*."""
        return {**{k: v for k, v in environ.items() if not k.startswith("INPUT_")}, **self.azure}


def mask_secrets(environ: Mapping[str, str], workflow: Workflow) -> None:
    for name in SECRET_INPUTS:
        value = read_input(environ, name)
        if value:
            workflow.mask(value)
    for name in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GITHUB_TOKEN"):
        if environ.get(name):
            workflow.mask(environ[name])
