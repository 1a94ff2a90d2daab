"""The parameter files the README and docs/ show, read as ``retrain validate`` reads them. Each ```yaml block that is
a parameter file, or a part of one (a backend, retention, a pipeline's gate), goes into the income sample's file in
its place, in a copy of the sample, and must validate: a doc example that retrain refuses fails here, at its line.

The other blocks are a workflow (test_github_manifest.py checks those through actionlint and the workflow
schema), a workflow's step or two (a `uses:` line, a `run:` line, shown out of their workflow) or an excerpt of a pipeline (docs/pipeline-format.md's, of the sample's own pipeline, which
tests/e2e/test_income_sample.py runs); a block of any other shape fails here until the test knows where it goes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from retrain.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "income"
SCHEMA = json.loads((ROOT / "retrain" / "schema" / "retrain.schema.json").read_text())
TOP_KEYS = set(SCHEMA["properties"])
ENTRY_KEYS = set(SCHEMA["$defs"]["pipeline"]["properties"])


def yaml_blocks() -> list[tuple[str, str]]:
    """(doc:line, text) of every ```yaml block in the README and docs/."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        for m in re.finditer(r"^```yaml\n(.*?)^```", text, re.S | re.M):
            found.append((f"{doc.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}", m.group(1)))
    return found


def kind(data: Any) -> str:
    if data is None:
        return "comment"  # the schema line alone
    if isinstance(data, list):
        return "steps"
    if isinstance(data, dict) and "jobs" in data:
        return "pipeline" if data.get("type") == "pipeline" else "workflow"
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
PARAMETER_BLOCKS = [(where, text) for where, text in BLOCKS if kind(yaml.safe_load(text)) in ("parameter file", "pipeline entry")]


def test_every_yaml_block_of_the_docs_is_of_a_known_kind() -> None:
    kinds = {where: kind(yaml.safe_load(text)) for where, text in BLOCKS}
    assert [where for where, k in kinds.items() if k == "unknown"] == []
    # The README's and the parameter file page's own examples are among those checked below.
    assert {"README.md", "docs/parameter-file.md", "docs/review.md", "docs/azure.md"} <= {
        where.split(":")[0] for where, _ in PARAMETER_BLOCKS}


@pytest.mark.parametrize("where, text", PARAMETER_BLOCKS, ids=[where for where, _ in PARAMETER_BLOCKS])
def test_a_parameter_file_the_docs_show_validates(where: str, text: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load(text)
    project = tmp_path / "income"
    shutil.copytree(SAMPLE, project)
    (project / "retrain.yml").write_text(yaml.safe_dump(placed(data, kind(data)), sort_keys=False))
    code = main(["-f", str(project / "retrain.yml"), "validate"], {})
    out = capsys.readouterr()
    assert code == 0, f"{where}: {out.out}{out.err}"
    assert "retrain.yml is valid" in out.out
