"""tests/container/run.sh tells the truth: a container test that cannot run fails CI (.ci/run runs it under
``set -e``) unless ``RETRAIN_ALLOW_SKIP=1`` allows the skip, and then it says why it skipped.

The machine here can run the real thing (tests/container/run.sh, minutes); these tests only make it
unable to: a ``podman`` first on PATH whose ``podman info`` fails, as on a machine without user namespaces.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.paths import ROOT


def run_sh(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    tools = tmp_path / "bin"
    tools.mkdir()
    for name, script in {"podman": "echo 'Error: cannot set up namespaces: permission denied' >&2; exit 125",
                         "debootstrap": "exit 0"}.items():
        (tools / name).write_text(f"#!/bin/sh\n{script}\n")
        (tools / name).chmod(0o755)
    return subprocess.run(["bash", str(ROOT / "tests" / "container" / "run.sh")], capture_output=True, text=True,
                          timeout=60, check=False,
                          env={"PATH": f"{tools}:{os.environ['PATH']}", "RETRAIN_CONTAINER_WORK": str(tmp_path / "w"),
                               **env})


def test_a_container_test_that_cannot_run_fails(tmp_path: Path) -> None:
    proc = run_sh(tmp_path)
    assert proc.returncode == 1
    assert "container test FAILED: it cannot run: podman cannot work here: " \
           "Error: cannot set up namespaces: permission denied" in proc.stderr
    assert "RETRAIN_ALLOW_SKIP=1" in proc.stderr  # what to do on a machine that cannot build images


def test_a_skip_passes_only_when_allowed_and_says_why(tmp_path: Path) -> None:
    proc = run_sh(tmp_path, RETRAIN_ALLOW_SKIP="1")
    assert proc.returncode == 0
    assert proc.stdout.strip() == ("container test SKIPPED (RETRAIN_ALLOW_SKIP=1): podman cannot work here: "
                                   "Error: cannot set up namespaces: permission denied")


def test_any_other_value_does_not_allow_a_skip(tmp_path: Path) -> None:
    assert run_sh(tmp_path, RETRAIN_ALLOW_SKIP="true").returncode == 1
