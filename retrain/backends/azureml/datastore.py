"""The workspace's default datastore as a place to write files, found and unlocked as azure-ai-ml does it.

``GET datastores?isDefault=true`` names the default datastore (normally ``workspaceblobstore``, an Azure
Blob container); ``POST datastores/{name}/listSecrets`` gives its account key or SAS token; a datastore
with no secret (``credentialsType: None``) is identity-based, and the caller's own Entra token for
storage is used. Only the blob service's URL differs in tests (a path-style URL on the fake), which is
why ``storage_endpoint`` exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...errors import BackendError, CredentialError
from .client import ArmClient
from .upload import STORAGE_SCOPE, BlobContainer, BlobCredential

SECRET_ROLE = ("the identity may not read the datastore's secrets: it needs "
               "Microsoft.MachineLearningServices/workspaces/datastores/listsecrets/action, which the 'AzureML Data Scientist' "
               "role on the workspace includes")


@dataclass(frozen=True)
class Datastore:
    name: str
    container: BlobContainer

    def uri(self, arm: ArmClient, path: str) -> str:
        """The long-form azureml:// URI the SDK registers data with."""
        return (f"azureml://subscriptions/{arm.subscription_id}/resourcegroups/{arm.resource_group}/workspaces/{arm.workspace}"
                f"/datastores/{self.name}/paths/{path}")


def default_datastore(arm: ArmClient, *, storage_endpoint: str | None = None,
                      token: Callable[[str], str] | None = None) -> Datastore:
    found = arm.list("/datastores", params={"isDefault": "true"}, what="find the workspace's default datastore")
    store = next((d for d in found if (d.get("properties") or {}).get("isDefault")), found[0] if found else None)
    if store is None:
        raise BackendError(f"workspace {arm.workspace} has no default datastore; set one in Azure ML studio (Data > Datastores) "
                           "or give the data as an azureml:// URI.")
    name = str(store.get("name"))
    props = store.get("properties") or {}
    if props.get("datastoreType") != "AzureBlob":
        raise BackendError(f"the default datastore {name} is {props.get('datastoreType')}, not Azure Blob storage; retrain uploads "
                           "repository data to a blob datastore. Make workspaceblobstore the default, or give the data as an azureml:// URI.")
    account, container = str(props.get("accountName") or ""), str(props.get("containerName") or "")
    kind = str((props.get("credentials") or {}).get("credentialsType") or "None")
    where = f"datastore {name} (storage account {account}, container {container})"
    if kind in ("AccountKey", "Sas"):
        try:
            # As azure-ai-ml asks: a secret that may expire (a SAS made for the purpose) is enough for an upload.
            secrets = arm.post(f"/datastores/{name}/listSecrets", {"expirableSecret": True, "expireAfterHours": 1},
                               what=f"read the credentials of datastore {name}", starts_work=False)
        except CredentialError as e:
            raise CredentialError(f"{e} ({SECRET_ROLE}).") from None
        if secrets.get("secretsType") == "AccountKey" and secrets.get("key"):
            credential = BlobCredential("AccountKey", account, key=str(secrets["key"]))
        elif secrets.get("secretsType") == "Sas" and secrets.get("sasToken"):
            credential = BlobCredential("Sas", account, sas=str(secrets["sasToken"]))
        else:
            raise BackendError(f"datastore {name} says it has {kind} credentials but listSecrets gave none; "
                               "update the datastore's credentials in the workspace.")
    elif kind == "None":
        if token is None:
            raise BackendError(f"datastore {name} is identity-based and no token source was given.")
        credential = BlobCredential("Identity", account, token=lambda: token(STORAGE_SCOPE))
    else:
        raise BackendError(f"datastore {name} uses {kind} credentials, which retrain does not upload with. Use an account key, "
                           "a SAS token or identity-based access on the default datastore, or give the data as an azureml:// URI.")
    if storage_endpoint:
        url = f"{storage_endpoint.rstrip('/')}/{account}/{container}"
    else:
        url = f"{props.get('protocol') or 'https'}://{account}.blob.{props.get('endpoint') or 'core.windows.net'}/{container}"
    return Datastore(name, BlobContainer(url, credential, where))
