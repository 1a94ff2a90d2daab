"""Build an Azure backend from the parameter file's workspace and the environment's credentials."""

from __future__ import annotations

from collections.abc import Mapping

from ..backends.azureml.auth import CLOUDS, AzureAuth, TokenProvider, credentials_from_env
from .records import AzureBackendConfig
from ..http import make_session
from ..backends.base import Backend


def make_azure_backend(config: AzureBackendConfig, environ: Mapping[str, str]) -> Backend:
    from ..backends.azureml import AzureMLBackend
    from ..backends.azureml.client import ArmClient

    cloud = CLOUDS[config.cloud]
    authority = environ.get("AZURE_AUTHORITY_HOST") or config.authority_host or cloud.authority_host
    arm = environ.get("RETRAIN_ARM_ENDPOINT") or config.arm_endpoint or cloud.arm_endpoint
    # The action turns its azure-* inputs into these variables (retrain/action/main.py reads every input).
    subscription = environ.get("AZURE_SUBSCRIPTION_ID") or config.subscription_id
    credentials = credentials_from_env(environ, tenant_id=config.tenant_id, client_id=config.client_id)
    session = make_session()
    provider = TokenProvider(credentials, session, authority_host=authority)
    client = ArmClient(arm, subscription, config.resource_group, config.workspace, session,
                       AzureAuth(provider, f"{cloud.arm_endpoint}/.default"))
    if config.kind == "azureml-v1":
        from ..backends.azureml_v1 import AzureMLV1Backend

        return AzureMLV1Backend(client, tenant_id=credentials.tenant_id)
    # The blob service's URL for repository data, when it is not {account}.blob.{suffix} (a private or test cloud).
    return AzureMLBackend(client, compute=config.compute, storage_endpoint=environ.get("RETRAIN_STORAGE_ENDPOINT") or None)
