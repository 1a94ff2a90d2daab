"""What retrain names and tags in an Azure ML workspace: a version's pipeline component (named by azure-ai-ml's
rule) and its deployment ``v<N>``, and the tags that carry a version's content hash and source commit."""

from __future__ import annotations

import re

TAG_HASH, TAG_VERSION, TAG_COMMIT = "retrain.content_hash", "retrain.version", "retrain.commit"
DEPLOYMENT = re.compile(r"v(\d+)")
# azure-ai-ml refuses other component names: "Component name should only contain lower letter, number,
# underscore and start with a lower letter" (azure/ai/ml/_schema/component/component.py).
COMPONENT_NAME = re.compile(r"[a-z][a-z0-9_]*")


def component_name(name: str) -> str:
    """A name valid by azure-ai-ml's component rule: ``income-retrain`` -> ``income_retrain``."""
    mapped = re.sub(r"[^a-z0-9_]", "_", name.lower())
    return mapped if COMPONENT_NAME.fullmatch(mapped) else f"c_{mapped}"
