"""Pick the backend the parameter file names. Cloud backends are imported only when used, so the
local path never pays for msal's import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .records import AzureBackendConfig, Config, LocalBackendConfig
from ..errors import UsageError

if TYPE_CHECKING:  # the backend module itself is imported when one is made
    from ..backends.base import Backend


# Credentials of the action and of Azure never reach a pipeline's steps: they run user code.
SECRET_VARIABLES = ("GITHUB_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL",
                    "ACTIONS_RUNTIME_TOKEN", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE")


def step_environment(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if not k.startswith("INPUT_") and k not in SECRET_VARIABLES}


def make_backend(config: Config, environ: Mapping[str, str]) -> Backend:
    backend = config.backend
    if isinstance(backend, LocalBackendConfig):
        from ..backends.local import LocalBackend

        return LocalBackend(backend.store, environ=step_environment(environ))
    if not isinstance(backend, AzureBackendConfig):  # backend_block.py builds only these two kinds
        raise UsageError(f"backend kind {backend!r} is not one retrain runs; use local, azureml or azureml-v1.")
    from .backend_azure import make_azure_backend

    return make_azure_backend(backend, environ)
