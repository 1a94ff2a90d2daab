"""Pick the backend the parameter file names. Cloud backends are imported only when used, so the
local path never pays for msal's import."""

from __future__ import annotations

from collections.abc import Mapping

from ..config_model import AzureBackendConfig, Config, LocalBackendConfig
from .base import Backend


def make_backend(config: Config, environ: Mapping[str, str]) -> Backend:
    backend = config.backend
    if isinstance(backend, LocalBackendConfig):
        from .local import LocalBackend

        return LocalBackend(backend.store)
    assert isinstance(backend, AzureBackendConfig)
    from .factory_azure import make_azure_backend

    return make_azure_backend(backend, environ)
