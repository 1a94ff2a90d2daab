"""retrain as a person runs it in a terminal: ``python -m retrain`` in its own process, with this Python's scripts
first on PATH (as an activated virtualenv has them); or its ``main`` in this process, with an empty environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrain.cli.main import main

ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def retrain(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``retrain <args>`` in ``cwd``, its output captured; the timeout is the suite's own per test (pyproject.toml)."""
    return subprocess.run([sys.executable, "-m", "retrain", *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=timeout, check=False)


def in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv, {})`` in this process: its exit code, then what it printed to stdout and stderr."""
    code = main(list(argv), {})
    out, err = capsys.readouterr()
    return code, out, err
