"""The review tests' shared pieces: the gate on the tiny pipeline (tests/conftest.py's ``project``) and the edits
that make a weaker, better or misbehaving version of it, the baseline run through the action, the JSON a command
prints, and run records for the pure parts."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from retrain.backends.base import Run, RunStatus
from retrain.cli.main import main
from tests.fakes.github_api import FakeGitHub
from tests.github_runner import Runner

ENV = dict(os.environ)
GATE = """\
    metrics:
      rows: {goal: max}
    promote:
      score: ">= 0.55"
      not_worse_than: baseline
      tolerance: 0.001
"""


def add_gate(project: Path) -> None:
    """The tiny pipeline's entry in the parameter file gets the metrics' goals and the promote: gate above."""
    with (project / "retrain.yml").open("a") as f:
        f.write(GATE)


def set_epochs(project: Path, epochs: int) -> None:
    """The tiny pipeline's default epochs (its score is 0.5 + learning_rate * epochs / 10 + rows / 1000)."""
    path = project / "pipelines" / "tiny" / "pipeline.yml"
    text = path.read_text()
    start = text.index("    default: ", text.index("epochs:"))
    end = text.index("\n", start)
    path.write_text(text[:start] + f"    default: {epochs}" + text[end:])


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, object]:
    """``retrain <argv> --json`` in this process: its exit code and what it printed."""
    capsys.readouterr()
    code = main([*argv, "--json"], ENV)
    return code, json.loads(capsys.readouterr().out)


def default_of(capsys: pytest.CaptureFixture[str]) -> int:
    """The default version of the tiny pipeline's endpoint."""
    _, endpoint = run_json(capsys, "endpoints", "tiny-retrain")
    return endpoint["default_version"]  # type: ignore[index, no-any-return]


def baseline_run(runner: Runner, github: FakeGitHub) -> str:
    """Publish version 1 and run it, as a merge of a data change would."""
    result = runner.run(runner.env("push", runner.push(["data/other.csv"])))
    assert result.code == 0, result.stderr + result.stdout
    runner.reset_files()
    github.check_runs.clear()
    return result.outputs["run-id"]


def gated_change(runner: Runner, github: FakeGitHub, project: Path, epochs: int) -> None:
    """Version 1 published and run, then the gate added and the pipeline changed to train ``epochs`` (uncommitted)."""
    baseline_run(runner, github)
    add_gate(project)
    set_epochs(project, epochs)


# The tiny pipeline's train.py, made to misbehave by epochs: 9 fails, 7 logs a NaN score, and every run logs two
# metrics whose names are Markdown and HTML.
TRAIN_EDGES = """\
import math, sys
if a.epochs == 9:
    sys.exit("diverged")
if a.epochs == 7:
    score = float("nan")
extra = {"<img src=x onerror=alert(1)>": 1.0, "a|b": 2.0}
"""


def misbehave(project: Path) -> None:
    train = project / "pipelines" / "tiny" / "src" / "train.py"
    text = train.read_text()
    text = text.replace('(out / "metrics.json").write_text(json.dumps({"score": score, "rows": rows}))',
                        TRAIN_EDGES + '(out / "metrics.json").write_text(json.dumps({"score": score, "rows": rows, **extra}))')
    train.write_text(text)


def strict_json(text: str) -> object:
    """JSON as the standard has it: a bare NaN or Infinity is an error, not a number."""
    def refuse(token: str) -> object:
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


def run(id: str, version: int, **metrics: float) -> Run:
    """A completed run of version ``version`` with ``metrics``."""
    return Run(id=id, pipeline="p", endpoint="e", version=version, status=RunStatus.COMPLETED, parameters={}, key=id,
               created=datetime(2026, 11, 25, 12, version, tzinfo=timezone.utc), metrics=metrics)
