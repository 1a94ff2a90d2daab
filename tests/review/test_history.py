"""The record of default moves and the way back, on the local backend through the CLI: every move (the first
publish, a passed gate, promote, promote --force, rollback) is listed by `retrain history` with who, when, the
commit, the verdict and the reason; `retrain rollback` walks the defaults back and says when it cannot."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from retrain.cli.main import main
from tests.conftest import git
from tests.fakes.github_api import FakeGitHub
from tests.github_runner import Runner
from tests.review.scenario import add_gate, set_epochs

ENV = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTOR"} | {"USER": "ada"}


def run(capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] = ENV) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv), env)
    out, err = capsys.readouterr()
    return code, out, err


def history(capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, _ = run(capsys, "history", "tiny", "--json")
    assert code == 0
    return json.loads(out)


def test_every_move_is_recorded_and_rollback_walks_back(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commit = git(project, "rev-parse", "HEAD")
    assert run(capsys, "publish")[0] == 0  # version 1: the endpoint's first version is its default
    assert run(capsys, "submit", "tiny")[0] == 0
    add_gate(project)
    set_epochs(project, 5)  # a better version: its gate passes and moves the default
    assert run(capsys, "publish", env={**ENV, "GITHUB_ACTOR": "octocat"})[0] == 0
    set_epochs(project, 1)  # a weaker one: published, not promoted
    assert run(capsys, "publish")[0] == 1

    code, _, err = run(capsys, "promote", "tiny", "3", "--force")
    assert code == 2
    assert "--force skips the gate and the comparison, so it needs a --reason" in err
    assert history(capsys)["default_version"] == 2  # refused before anything moved
    assert run(capsys, "promote", "tiny", "3", "--force", "--reason", "the baseline run was broken")[0] == 0

    doc = history(capsys)
    assert doc["default_version"] == 3
    moves = doc["moves"]  # newest first
    assert [(m["kind"], m["from_version"], m["to_version"], m["actor"]) for m in moves] == [
        ("force", 2, 3, "ada"), ("gate", 1, 2, "octocat"), ("publish", None, 1, "ada")]
    force, gate, first = moves
    assert (force["verdict"], force["reason"], force["run_id"]) == ("not checked", "the baseline run was broken", None)
    assert gate["verdict"] == "passed" and gate["run_id"].startswith("tiny-") and gate["reason"].startswith("the gate passed")
    assert first["reason"] == "the endpoint's first version" and first["source_commit"] == commit
    assert all(len(m["id"]) == 32 for m in moves) and all(m["at"].endswith("+00:00") for m in moves)

    code, out, _ = run(capsys, "history", "tiny")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "default moves of tiny-retrain (the default is version 3):"
    assert lines[1].split()[:3] == ["when", "(UTC)", "move"]
    assert "2 -> 3  force" in lines[2] and lines[2].endswith("the baseline run was broken")
    assert "1 -> 2  gate" in lines[3] and "octocat" in lines[3] and "passed" in lines[3]
    assert "- -> 1  publish" in lines[4]

    code, out, _ = run(capsys, "rollback", "tiny", "--reason", "v3 scores badly")
    assert code == 0
    assert out == "version 2 of tiny-retrain is the default again (was 3); recorded as a rollback by ada (retrain history tiny).\n"
    code, out, _ = run(capsys, "rollback", "tiny", "--json")
    assert code == 0 and json.loads(out)["version"] == 1  # two rollbacks go back two defaults, not back and forth
    code, _, err = run(capsys, "rollback", "tiny")
    assert code == 2
    assert "nothing to roll back to: the record of 'tiny-retrain' has no default before version 1" in err
    doc = history(capsys)
    assert doc["default_version"] == 1
    assert [(m["kind"], m["from_version"], m["to_version"], m["reason"]) for m in doc["moves"][:2]] == [
        ("rollback", 2, 1, ""), ("rollback", 3, 2, "v3 scores badly")]

    # Insert only: one row per move, none rewritten (a publish with nothing new adds none).
    assert run(capsys, "publish")[0] == 0
    db = sqlite3.connect(project / ".retrain" / "retrain.db")
    assert db.execute("SELECT COUNT(*) FROM default_moves").fetchone()[0] == 5


def test_promote_records_the_checked_run_and_the_reason(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "publish")[0] == 0
    set_epochs(project, 5)
    assert run(capsys, "publish")[0] == 0  # no gate: version 2 is published, the default stays at 1
    assert run(capsys, "submit", "tiny", "--version", "2")[0] == 0
    assert run(capsys, "promote", "tiny", "2", "--reason", "reviewed in #12")[0] == 0
    [promote, _] = history(capsys)["moves"]
    assert (promote["kind"], promote["from_version"], promote["to_version"]) == ("promote", 1, 2)
    assert (promote["verdict"], promote["reason"]) == ("no gate", "reviewed in #12")
    assert promote["run_id"].startswith("tiny-")
    # Promoting the default again moves nothing and records nothing.
    assert run(capsys, "promote", "tiny", "2")[0] == 0
    assert len(history(capsys)["moves"]) == 2


def test_history_of_a_new_endpoint_and_bad_names(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "history", "nope")
    assert code == 2 and "retrain.yml has no pipeline 'nope'. Its pipelines: tiny." in err
    code, _, err = run(capsys, "history", "tiny")
    assert code == 2 and "no endpoint named 'tiny-retrain'" in err and "Traceback" not in err


def test_in_the_action_the_mover_is_the_github_actor(runner: Runner, github: FakeGitHub, project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    env = runner.env("push", runner.push(["data/other.csv"]))
    env["GITHUB_ACTOR"] = "monalisa"
    result = runner.run(env)
    assert result.code == 0, result.stderr + result.stdout
    [first] = history(capsys)["moves"]
    assert (first["kind"], first["to_version"], first["actor"], first["source_commit"]) == ("publish", 1, "monalisa", runner.sha)
