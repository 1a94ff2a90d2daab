"""The ``backend:`` block of the parameter file: which backend runs the pipelines, and where.

A name (``backend: local``) or a mapping with ``kind``; the local store's folder stays in the repository, and a key
that looks like a secret is refused (credentials come from action inputs or the environment, never the file).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..boundary import describe_outside, outside, resolve
from .checker import Checker
from .records import CLOUDS, AzureBackendConfig, BackendConfig, LocalBackendConfig
from ..yamlfile import KeyPath

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


def read_backend(c: Checker, value: Any, root: Path, repo_root: Path) -> BackendConfig:
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


def _store(c: Checker, raw: str, root: Path, repo_root: Path, path: KeyPath) -> Path:
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


def _secretish(key: object) -> bool:
    return any(word in str(key).lower() for word in SECRET_LOOKING)
