"""Environments given in place (``environment: {image: ...}``, a conda file, a Docker build context) as azure-ai-ml
registers them: its anonymous environment, versioned by the SDK's own hash of the content, referenced by id."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ...errors import UsageError
from .wire import Assets, is_local, local_path

ANONYMOUS_ENVIRONMENT = "CliV2AnonymousEnvironment"  # azure-ai-ml's name for an environment given in place


def anonymous_environment(spec: Mapping[str, Any], base: Path) -> tuple[str, str, dict[str, Any]]:
    """An environment given in place (``{image: ...}``, ``{image, conda_file}``) as azure-ai-ml registers it:
    name ``CliV2AnonymousEnvironment``, version the SDK's hash of the image and the conda file (as it dumps it),
    properties as its REST object carries them."""
    build = spec.get("build")
    if isinstance(build, Mapping) and isinstance(build.get("path"), str) and is_local(build["path"]):
        context = local_path(base, build["path"])
        if not context.is_dir():
            raise UsageError(f"the environment's build context {build['path']} is not a folder (relative to {base}).")
        dockerfile = build.get("dockerfile_path")
        digest = _sha256(object_hash(context))
        if dockerfile:
            digest = digest.join(_sha256(str(dockerfile)))  # azure-ai-ml's own combination, as for conda files
        props = {"build": {"contextUri": "", **({"dockerfilePath": str(dockerfile)} if dockerfile else {})},
                 "isAnonymous": True, "isArchived": False}
        return ANONYMOUS_ENVIRONMENT, _sha256(digest), props
    image = str(spec.get("image") or "")
    conda = spec.get("conda_file")
    conda_text = None
    if conda is not None:
        data = conda
        if isinstance(conda, str):
            file = local_path(base, conda)
            if not file.is_file():
                raise UsageError(f"the environment's conda_file {conda} does not exist (relative to {base}).")
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        conda_text = yaml.dump(data, sort_keys=True)
    digest = _sha256(image)
    if conda_text is not None:
        digest = digest.join(_sha256(conda_text))  # azure-ai-ml's own combination: str.join, as written there
    version = _sha256(digest)
    props: dict[str, Any] = {}
    if conda_text is not None:
        props["condaFile"] = conda_text
    if image:
        props["image"] = image
    if spec.get("os_type"):
        props["osType"] = spec["os_type"]
    if spec.get("description"):
        props["description"] = spec["description"]
    props.update({"isAnonymous": True, "isArchived": False})
    return ANONYMOUS_ENVIRONMENT, version, props


def object_hash(path: Path) -> str:
    """azure-ai-ml's hash of a folder it uploads (``get_object_hash``): entries sorted by lowercase path, each one's
    name then its bytes, folders recursively. The SDK leaves out what an .amlignore/.gitignore names; so does this."""
    digest = hashlib.sha256(b"Initialize for october 2021 AML CLI version")
    ignored = _ignored(path)

    def walk(folder: Path) -> None:
        for entry in sorted(folder.iterdir(), key=lambda p: str(p).lower()):
            if entry.name in ignored:
                continue
            digest.update(entry.name.encode())
            target = entry.resolve() if entry.is_symlink() else entry
            if target.is_file():
                with target.open("rb") as stream:
                    while chunk := stream.read(1 << 20):
                        digest.update(chunk)
            elif target.is_dir():
                walk(target)

    walk(path)
    return digest.hexdigest()


def _ignored(folder: Path) -> set[str]:
    """Plain names an .amlignore (else .gitignore) at the folder's top lists; patterns beyond names are not read."""
    for name in (".amlignore", ".gitignore"):
        file = folder / name
        if file.is_file():
            return {line.strip().strip("/") for line in file.read_text(encoding="utf-8", errors="replace").splitlines()
                    if line.strip() and not line.startswith("#") and not any(c in line for c in "*?[!")}
    return set()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf8")).hexdigest()


def environment_ref(value: object, base: Path, assets: Assets) -> object:
    if isinstance(value, Mapping):
        name, version, props = anonymous_environment(value, base)
        if "build" in props:  # the build context is uploaded to the default datastore, as azure-ai-ml does
            props["build"]["contextUri"] = assets.build_context(local_path(base, str(value["build"]["path"])))
        return "azureml:" + assets.environment(f"{name}:{version}", props)
    return value
