"""The command line as a person meets it: messages, exit codes, --help, --json."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from retrain.cli import main as cli_main
from retrain.cli.main import main

VERBS = ["validate", "plan", "publish", "submit", "status", "cancel", "runs", "endpoints", "sync"]


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help_with_an_example(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([verb, "--help"], {}) == 0
    out = capsys.readouterr().out
    assert "example" in out
    assert f"retrain {verb}" in out or "retrain -f" in out


@pytest.mark.parametrize("columns", ["50", "120", "0", "-1", "wide", None])
def test_help_is_as_wide_as_argparse_would_make_it(columns: str | None, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # retrain's formatter finds the width without shutil (cli/main.py): the width shutil finds, whatever COLUMNS says.
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    width = shutil.get_terminal_size().columns
    assert cli_main._columns() == width
    assert main(["submit", "--help"], {}) == 0
    out = capsys.readouterr().out
    options = out[out.index("options:"):out.index("examples:")].splitlines()  # the description and examples: as written
    assert max(len(line) for line in options) <= width and len(options) > 5


def test_validate_a_good_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"], {}) == 0
    assert capsys.readouterr().out == "retrain.yml is valid: backend local; pipelines: tiny (2 steps).\n"


def test_validate_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--json"], {}) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is True
    assert doc["pipelines"]["tiny"]["steps"] == ["prep", "train"]
    assert doc["pipelines"]["tiny"]["parameters"]["learning_rate"] == 0.2


def test_file_option_after_the_verb(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "sub").mkdir()
    (project / "retrain.yml").rename(project / "sub" / "other.yml")
    (project / "sub" / "other.yml").write_text(
        (project / "sub" / "other.yml").read_text().replace("pipelines/tiny", "../pipelines/tiny").replace("data/train.csv", "../data/train.csv")
    )
    assert main(["validate", "-f", "sub/other.yml"], {}) == 0
    assert main(["-f", "sub/other.yml", "validate"], {}) == 0


def test_a_missing_parameter_file_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate"], {}) == 2
    err = capsys.readouterr().err
    assert err == "error: 1 problem in the input:\n  retrain.yml does not exist. Check the path, or pass the file with -f PATH.\n"


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--event", "merge"], {}) == 2
    assert "invalid choice: 'merge'" in capsys.readouterr().err


def test_plan_names_the_rule_that_matched(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--event", "push", "--changed", "data/other.csv"], {}) == 0
    out = capsys.readouterr().out
    assert "tiny: submit, no publish" in out
    assert "because submit_on: data: data/other.csv matched data/**/*.csv" in out


def test_plan_changed_paths_are_relative_to_the_current_folder(project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(project / "pipelines" / "tiny")
    assert main(["-f", "../../retrain.yml", "plan", "--changed", "src/train.py", "--json"], {}) == 0
    doc = json.loads(capsys.readouterr().out)
    item = doc["items"][0]
    assert (item["publish"], item["submit"]) == (True, True)
    assert item["reasons"][0]["detail"] == "the pipeline changed: pipelines/tiny/src/train.py"


def test_plan_rejects_a_bad_value_typed_by_hand(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--event", "dispatch", "--set", "epochs=lots"], {}) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: epochs=lots: ")
    assert "Traceback" not in err


def test_the_installed_script_runs(project: Path) -> None:
    # The console script and `python -m`-free entry: what a user types after pip install.
    exe = Path(sys.executable).with_name("retrain")
    out = subprocess.run([str(exe), "validate"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("retrain.yml is valid")


def test_an_internal_error_is_reported_with_where_the_traceback_is(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from retrain.cli import validate as commands

    def broken(args: object, environ: object) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(commands, "cmd_validate", broken)  # stands for any bug in a command
    assert main(["validate"], {}) == 3
    err = capsys.readouterr().err
    assert err.startswith("retrain hit an internal error (ZeroDivisionError: a bug).\nThe traceback is in ")
    crash = Path(err.split("The traceback is in ")[1].split(";")[0])
    assert "Traceback" in crash.read_text() and "ZeroDivisionError" in crash.read_text()
    crash.unlink()
