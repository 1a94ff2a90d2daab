"""The parameter file's tests' shared pieces: a file's problems as validation lists them, the tiny project's
parameter file with review settings added, and retrain.yml's JSON schema as an editor loads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrain.config.load import load_config
from retrain.errors import InvalidFile
from tests.paths import ROOT

SCHEMA = ROOT / "retrain" / "schema" / "retrain.schema.json"


def problems(project: Path, text: str) -> list[str]:
    """The problems validation lists for retrain.yml holding ``text``."""
    (project / "retrain.yml").write_text(text)
    with pytest.raises(InvalidFile) as e:
        load_config(project / "retrain.yml")
    return [str(p) for p in e.value.problems]


def with_review(project: Path, extra: str, *, publish_on: str = "[merge]") -> str:
    """The tiny project's retrain.yml with ``extra`` appended to its pipeline (and submit_on left to it)."""
    text = (project / "retrain.yml").read_text().replace("    submit_on: [merge, data, dispatch]\n", "")
    return text.replace("publish_on: [merge]", f"publish_on: {publish_on}") + extra


def retrain_schema() -> dict:
    """retrain.yml's JSON schema (retrain/schema/retrain.schema.json)."""
    return json.loads(SCHEMA.read_text())  # type: ignore[no-any-return]
