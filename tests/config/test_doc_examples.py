"""The parameter files the README and docs/ show, read as ``retrain validate`` reads them. Each ```yaml block that is
a parameter file, or a part of one (a backend, retention, a pipeline's gate), goes into the income sample's file in
its place, in a copy of the sample, and must validate: a doc example that retrain refuses fails here, at its line.

The other blocks are a whole workflow (tests/action/test_github_manifest.py checks those through actionlint and the
workflow schema), a part of one shown out of it (a step or two; the jobs of docs/workflows/retrain-local-store.yml,
which that test checks whole), or an excerpt of a pipeline (docs/pipeline-format.md's, of the sample's own pipeline,
which tests/e2e/test_income_sample.py runs); a block of any other shape fails here until the test knows where it
goes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_process import in_process
from tests.config.parameter_file import retrain_schema
from tests.doc_blocks import is_workflow, yaml_blocks
from tests.paths import ROOT

SAMPLE = ROOT / "examples" / "income"
SCHEMA = retrain_schema()
TOP_KEYS = set(SCHEMA["properties"])
ENTRY_KEYS = set(SCHEMA["$defs"]["pipeline"]["properties"])


def kind(text: str) -> str:
    data = yaml.safe_load(text)
    if data is None:
        return "comment"  # the schema line alone
    if is_workflow(text):
        return "workflow"
    if isinstance(data, list):
        return "steps"
    if isinstance(data, dict) and "jobs" in data:
        return "pipeline" if data.get("type") == "pipeline" else "part of a workflow"
    if isinstance(data, dict) and data and set(data) <= TOP_KEYS:
        return "parameter file"
    if isinstance(data, dict) and data and set(data) <= ENTRY_KEYS:
        return "pipeline entry"
    return "unknown"


def placed(data: dict[str, Any], kind_: str) -> dict[str, Any]:
    """The sample's parameter file with the example in its place: a whole entry (one with a definition) replaces
    the sample's, a part of one is merged into it; top-level keys replace the sample's."""
    merged = yaml.safe_load((SAMPLE / "retrain.yml").read_text())
    entry = merged["pipelines"]["income"]
    if kind_ == "pipeline entry":
        entry.update(data)
        return merged
    for key, value in data.items():
        if key != "pipelines":
            merged[key] = value
    for name, given in (data.get("pipelines") or {}).items():
        merged["pipelines"][name] = given if "definition" in given else {**entry, **given}
    return merged


BLOCKS = yaml_blocks()
PARAMETER_BLOCKS = [(where, text) for where, text in BLOCKS if kind(text) in ("parameter file", "pipeline entry")]


def test_every_yaml_block_of_the_docs_is_of_a_known_kind() -> None:
    kinds = {where: kind(text) for where, text in BLOCKS}
    assert [where for where, k in kinds.items() if k == "unknown"] == []
    # The README's and the parameter file page's own examples are among those checked below.
    assert {"README.md", "docs/parameter-file.md", "docs/review.md", "docs/azure.md"} <= {
        where.split(":")[0] for where, _ in PARAMETER_BLOCKS}


@pytest.mark.parametrize("where, text", PARAMETER_BLOCKS, ids=[where for where, _ in PARAMETER_BLOCKS])
def test_a_parameter_file_the_docs_show_validates(where: str, text: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "income"
    shutil.copytree(SAMPLE, project)
    (project / "retrain.yml").write_text(yaml.safe_dump(placed(yaml.safe_load(text), kind(text)), sort_keys=False))
    code, out, err = in_process(capsys, "-f", str(project / "retrain.yml"), "validate")
    assert code == 0, f"{where}: {out}{err}"
    assert "retrain.yml is valid" in out
