"""The action's manifest and every workflow we publish, loaded as GitHub loads them.

``action.yml`` is parsed with a YAML parser and validated against SchemaStore's Actions metadata schema
(``check-jsonschema`` ships it); every workflow in docs/workflows, .github/workflows and the YAML snippets
of the README and docs/ go through SchemaStore's workflow schema and through actionlint. The inputs and
outputs the code uses are compared with the ones action.yml declares, both ways.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from retrain.action import inputs as action
from tests.doc_blocks import is_workflow, yaml_blocks
from tests.paths import ROOT

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def manifest() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def snippets() -> list[tuple[str, str]]:
    """Every ```yaml block of the README and docs/ that is a workflow (it has on: and jobs:)."""
    return [(where, text) for where, text in yaml_blocks() if is_workflow(text)]


def workflow_files(tmp_path: Path) -> list[Path]:
    files = sorted((ROOT / "docs" / "workflows").glob("*.yml")) + sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    for i, (where, text) in enumerate(snippets()):
        # actionlint and the schema read files; the name keeps where the snippet came from.
        path = tmp_path / f"snippet{i}-{re.sub(r'[^A-Za-z0-9]+', '_', where)}.yml"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return files


def test_the_manifest_is_yaml_and_valid_for_github() -> None:
    data = manifest()
    assert data["runs"]["using"] == "docker" and data["runs"]["image"] == "Dockerfile"
    result = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ROOT / "action.yml")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_docs_show_workflow_snippets() -> None:
    # The README's and the action page's examples are among what is checked below.
    where = [w.split(":")[0] for w, _ in snippets()]
    assert "README.md" in where and "docs/github-action.md" in where


def test_every_workflow_fits_the_schema(tmp_path: Path) -> None:
    files = workflow_files(tmp_path)
    assert len(files) >= 5
    result = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, files)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_workflow_passes_actionlint(tmp_path: Path) -> None:
    files = workflow_files(tmp_path)
    # -shellcheck= and -pyflakes=: those linters are not part of what a user of the docs needs.
    result = subprocess.run([_tool("actionlint"), "-no-color", "-shellcheck=", "-pyflakes=", *map(str, files)],
                            capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_see_an_outdated_action(tmp_path: Path) -> None:
    # The check above means something only if actionlint flags what the issue found (node20 actions).
    old = tmp_path / "old.yml"
    old.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n")
    result = subprocess.run([_tool("actionlint"), "-no-color", str(old)], capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 1 and "actions/checkout@v4" in result.stdout


def _literals(pattern: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "retrain").rglob("*.py"):
        found |= set(re.findall(pattern, path.read_text(encoding="utf-8")))
    return found


def test_inputs_read_are_the_inputs_declared() -> None:
    declared = set(manifest()["inputs"])
    assert set(action.INPUTS) == declared
    # Every read goes through read_input with a declared name, and every declared name is read.
    assert _literals(r'read_input\(environ, "([a-z-]+)"') | set(action.AZURE_VARIABLES) | set(action.SECRET_INPUTS) == declared
    assert _literals(r'read_input\(environ, "([a-z-]+)"') <= declared
    assert "INPUT_" not in (ROOT / "retrain" / "config" / "backend_azure.py").read_text()


def test_an_undeclared_input_is_a_bug_not_a_silent_empty_value() -> None:
    with pytest.raises(LookupError, match="'colour', which action.yml does not declare"):
        action.read_input({}, "colour")


def test_outputs_written_are_the_outputs_declared() -> None:
    written = _literals(r'set_output\("([a-z-]+)"')
    assert written == set(manifest()["outputs"])


def test_azure_inputs_reach_the_backend_as_its_variables() -> None:
    environ = {"INPUT_AZURE-SUBSCRIPTION-ID": "sub-input", "AZURE_SUBSCRIPTION_ID": "sub-env",
               "INPUT_AZURE_TENANT_ID": "tenant-input", "AZURE_CLIENT_ID": "client-env", "INPUT_COMMAND": "plan"}
    inputs = action.ActionInputs.from_environ(environ)
    seen = inputs.backend_environ(environ)
    assert seen == {"AZURE_SUBSCRIPTION_ID": "sub-input", "AZURE_TENANT_ID": "tenant-input", "AZURE_CLIENT_ID": "client-env"}
