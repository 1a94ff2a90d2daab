"""The dispatch form kept in step: `retrain validate` warns at the workflow's lines, `retrain init --update`
rewrites only the form's inputs and the action's wiring, byte for byte elsewhere, on workflows written by
hand (the `project` fixture: the tiny pipeline with a number, an integer, an enum and a data input)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_process import in_process as retrain
from tests.conftest import git
from tests.fakes.github_api import FakeGitHub
from tests.paths import ROOT
from tests.github.workflow_texts import BY_HAND, put
from tests.workflow_checks import assert_valid_workflow

ENTRYPOINT = ROOT / "entrypoint.py"
EVENTS = ROOT / "tests" / "fixtures" / "github"

FORM = """\
      training_data:
        description: "training data"
        type: string
        default: "data/train.csv"
      learning_rate:
        description: "learning rate"
        type: number
        default: 0.2
      epochs:
        description: "epochs (1 to 100)"
        type: number
        default: 3
      flavour:
        description: "flavour"
        type: choice
        default: "plain"
        options:
          - "plain"
          - "fancy"
"""

WIRING = """\
          parameters: |
            label=fixed
            training_data=${{ inputs.training_data }}
            learning_rate=${{ inputs.learning_rate }}
            epochs=${{ inputs.epochs }}
            flavour=${{ inputs.flavour }}
"""


def line_of(text: str, needle: str) -> int:
    return text.splitlines().index(needle) + 1


def test_validate_warns_at_the_lines_of_a_stale_form(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put(project, BY_HAND)
    code, out, err = retrain(capsys, "validate")
    assert code == 0 and out.startswith("retrain.yml is valid")
    f = ".github/workflows/retrain.yml"
    hint = "Run `retrain init --update` to rewrite the form from the pipeline."
    warnings = err.splitlines()
    assert f"warning: {f}:{line_of(BY_HAND, '        type: string   # should be a number')}:15: the dispatch input 'epochs' is of type string, but parameter 'epochs' of pipeline 'tiny' is integer. Write type: number. {hint}" in warnings
    assert f"warning: {f}:{line_of(BY_HAND, '      dropout:')}:7: the dispatch input 'dropout' has no parameter of that name: pipeline 'tiny' does not declare it. Remove the input, or add the parameter to the pipeline. {hint}" in warnings
    inputs_line = line_of(BY_HAND, "    inputs:")
    assert f"warning: {f}:{inputs_line}:5: parameter 'flavour' of pipeline 'tiny' has no input on the dispatch form (fine if it is not meant to be set by hand). {hint}" in warnings
    assert any("'learning_rate'" in w and f":{inputs_line}:5:" in w for w in warnings)
    assert not any("'version'" in w for w in warnings)  # it feeds version:, not a parameter
    assert len(warnings) == 4

    code, out, _ = retrain(capsys, "validate", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["valid"] is True and len(doc["warnings"]) == 4
    assert {(w["file"], w["line"]) for w in doc["warnings"]} == {
        (f, inputs_line), (f, line_of(BY_HAND, "      dropout:")), (f, line_of(BY_HAND, "        type: string   # should be a number"))}


def test_update_rewrites_the_form_and_the_wiring_and_keeps_every_other_byte(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = put(project, BY_HAND)
    code, out, err = retrain(capsys, "init", "--update")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["updated .github/workflows/retrain.yml:",
                                "  learning_rate: added (number, default 0.2)",
                                "  epochs: type string -> number",  # its default "3" runs 3: unchanged
                                '  flavour: added (choice, default "plain")',
                                "  dropout: removed (no pipeline parameter of that name)"]
    lines = BY_HAND.splitlines(keepends=True)
    # The version input is the user's (it feeds version:): it stays, as written, after the form.
    version = "".join(lines[14:17])
    expected = "".join(lines[:6]) + FORM + version + "".join(lines[17:29]) + WIRING + "".join(lines[34:])
    assert path.read_text() == expected
    assert retrain(capsys, "validate")[:3:2] == (0, "")
    assert_valid_workflow(path)
    # The form's defaults are the values retrain.yml runs with (learning_rate 0.2, not the pipeline's 0.1).


def test_update_fills_an_empty_form_and_adds_the_wiring(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = ("on:\n  push:\n    branches: [main]\n  workflow_dispatch:   # by hand\n"
            "jobs:\n  r:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: retrain/retrain@v1\n"
            "      - run: echo done\n")
    path = put(project, text)
    assert retrain(capsys, "init", "--update")[0] == 0
    assert path.read_text() == (
        "on:\n  push:\n    branches: [main]\n  workflow_dispatch:   # by hand\n    inputs:\n" + FORM
        + "jobs:\n  r:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: retrain/retrain@v1\n"
        "        with:\n" + WIRING.replace("            label=fixed\n", "")
        + "      - run: echo done\n")
    assert_valid_workflow(path)
    assert retrain(capsys, "validate")[:3:2] == (0, "")


def test_update_keeps_windows_line_endings_and_four_space_indents(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = ("on:\r\n    workflow_dispatch:\r\n        inputs:\r\n            old:\r\n                type: string\r\n"
            "jobs:\r\n    r:\r\n        runs-on: ubuntu-latest\r\n        steps:\r\n            - uses: retrain/retrain@v1\r\n"
            "              with:\r\n                  parameters: |\r\n                      old=${{ inputs.old }}\r\n")
    path = put(project, text)
    assert retrain(capsys, "init", "--update")[0] == 0
    new = path.read_bytes().decode()
    assert "\n" not in new.replace("\r\n", "")
    assert new.startswith("on:\r\n    workflow_dispatch:\r\n        inputs:\r\n            training_data:\r\n"
                          "                description: \"training data\"\r\n")
    assert new.endswith("              with:\r\n                  parameters: |\r\n"
                        "                    training_data=${{ inputs.training_data }}\r\n"
                        "                    learning_rate=${{ inputs.learning_rate }}\r\n"
                        "                    epochs=${{ inputs.epochs }}\r\n"
                        "                    flavour=${{ inputs.flavour }}\r\n")
    assert_valid_workflow(path)


def test_workflows_for_something_else_are_left_alone(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = "on:\n  workflow_dispatch:\n    inputs:\n      x: {type: string}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ inputs.x }}\n"
    put(project, other, "other.yml")
    elsewhere = BY_HAND.replace("        with:\n", "        with:\n          parameter-file: other/retrain.yml\n")
    put(project, elsewhere, "elsewhere.yml")
    assert retrain(capsys, "validate")[:3:2] == (0, "")
    code, _, err = retrain(capsys, "init", "--update")
    assert code == 2 and "no workflow in" in err and "has a dispatch form for retrain.yml" in err
    assert (project / ".github/workflows/other.yml").read_text() == other
    assert (project / ".github/workflows/elsewhere.yml").read_text() == elsewhere


def test_update_replaces_an_empty_flow_mapping(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = ("on:\n  workflow_dispatch: {}\n  pull_request:\njobs:\n  r:\n    runs-on: ubuntu-latest\n    steps:\n"
            "      - uses: retrain/retrain@v1\n        with: {parameter-file: retrain.yml}\n")
    path = put(project, text)
    code, _, err = retrain(capsys, "init", "--update")
    assert code == 2 and "retrain.yml:9: write the step's with: in block style to update it." in err
    assert path.read_text() == text  # nothing written
    text = text.replace("        with: {parameter-file: retrain.yml}\n", "")
    path.write_text(text)
    assert retrain(capsys, "init", "--update")[0] == 0
    assert path.read_text().startswith("on:\n  workflow_dispatch:\n    inputs:\n" + FORM + "  pull_request:\njobs:\n")
    assert_valid_workflow(path)


def test_blank_lines_and_comments_after_the_wiring_stay(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = "on:\n  workflow_dispatch:\n    inputs:\n" + FORM
    steps = "jobs:\n  r:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: retrain/retrain@v1\n        with:\n"
    tail = "\n\n          # the rest is ours\n          wait: \"false\"\n"
    path = put(project, head + steps + "          parameters: |\n            epochs=${{ inputs.epochs }}\n" + tail)
    assert retrain(capsys, "init", "--update")[0] == 0
    assert path.read_text() == head + steps + WIRING.replace("            label=fixed\n", "") + tail


def test_a_workflow_that_is_not_yaml_is_a_warning(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put(project, "on: [push\njobs: {}\n")
    code, _, err = retrain(capsys, "validate")
    assert code == 0 and err.startswith("warning: .github/workflows/retrain.yml:2:5: YAML syntax error")


def test_a_pull_request_annotates_the_stale_form(project: Path, tmp_path: Path) -> None:
    put(project, BY_HAND)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "a form")
    event = tmp_path / "event.json"
    event.write_text((EVENTS / "pull_request-opened.json").read_text())
    github = FakeGitHub().start()
    try:
        env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(tmp_path),
               "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event),
               "GITHUB_WORKSPACE": str(project), "GITHUB_REPOSITORY": github.repository,
               "GITHUB_API_URL": github.url, "INPUT_GITHUB-TOKEN": github.token}
        proc = subprocess.run([sys.executable, str(ENTRYPOINT), "action"], env=env, cwd=project,
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        github.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = line_of(BY_HAND, "      dropout:")
    assert (f"::warning file=.github/workflows/retrain.yml,line={line},col=7,title=retrain%3A dispatch form::"
            "the dispatch input 'dropout' has no parameter of that name") in proc.stdout
