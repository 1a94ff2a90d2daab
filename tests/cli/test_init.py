"""`retrain init` in a new repository holding only the income sample's pipeline, and the form kept in step.

The generated files are checked as their consumers load them: `retrain validate`, actionlint and the
GitHub workflow schema; the form's values reach a run the way the runner delivers them (the action in a
process, INPUT_* rendered from the workflow's `parameters` template, a workflow_dispatch payload on disk).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.cli_process import in_process as retrain
from tests.conftest import git
from tests.fakes.github_api import FakeGitHub
from tests.github_runner import Result, Runner
from tests.paths import ROOT
from tests.workflow_checks import assert_valid_workflow

INCOME = ROOT / "examples" / "income"
EVENTS = ROOT / "tests" / "fixtures" / "github"
WORKFLOW = Path(".github/workflows/retrain.yml")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """An empty Git repository with only the income sample's pipeline, components and code; cwd is its root."""
    root = tmp_path / "census"
    root.mkdir()
    shutil.copy(INCOME / "pipeline.yml", root / "pipeline.yml")
    shutil.copytree(INCOME / "components", root / "components")
    shutil.copytree(INCOME / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    git(root, "init", "-q", "-b", "main")
    with contextlib.chdir(root):
        yield root


def workflow_inputs(root: Path) -> dict[str, dict]:
    data = yaml.safe_load((root / WORKFLOW).read_text())
    return data[True]["workflow_dispatch"]["inputs"]  # PyYAML (YAML 1.1) reads the key `on` as true


def test_init_writes_files_that_validate_lint_and_match_the_schema(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = retrain(capsys, "init")
    assert (code, err) == (0, "")
    assert "wrote retrain.yml: pipeline 'income-prediction' (6 steps, 7 parameters), backend local" in out
    assert "wrote .github/workflows/retrain.yml" in out
    assert "next steps:" in out and "retrain -f retrain.yml submit income-prediction" in out

    code, out, err = retrain(capsys, "validate")
    assert (code, err) == (0, "")  # no warning: the form matches the pipeline
    assert out == "retrain.yml is valid: backend local; pipelines: income-prediction (6 steps).\n"
    assert_valid_workflow(repo / WORKFLOW)

    config = yaml.safe_load((repo / "retrain.yml").read_text())
    entry = config["pipelines"]["income-prediction"]
    assert entry["parameters"] == {"training_data": "data/adult-us.csv", "label_column": "income-per-year",
                                   "test_fraction": 0.3, "learning_rate": 0.1, "max_iter": 100,
                                   "max_leaf_nodes": 20, "seed": 42}
    assert entry["data"] == ["data/**/*.csv"]

    flow = yaml.safe_load((repo / WORKFLOW).read_text())
    on = flow[True]
    assert on["push"] == {"branches": ["main"],
                          "paths": ["retrain.yml", "components/**", "pipeline.yml", "src/**", "data/**/*.csv"]}
    assert "pull_request" in on and "schedule" not in on
    inputs = on["workflow_dispatch"]["inputs"]
    assert {n: i["type"] for n, i in inputs.items()} == {
        "training_data": "string", "label_column": "string", "test_fraction": "number", "learning_rate": "number",
        "max_iter": "number", "max_leaf_nodes": "number", "seed": "number"}
    assert inputs["training_data"] == {"description": "Census income data (UCI Adult columns), one row per person.",
                                       "type": "string", "default": "data/adult-us.csv"}
    assert inputs["learning_rate"]["default"] == 0.1 and inputs["learning_rate"]["description"] == "learning rate (0.001 to 1)"
    assert flow["permissions"] == {"contents": "write", "checks": "write", "pull-requests": "write"}  # the local backend's registry is a ref
    [checkout, step, keep] = flow["jobs"]["retrain"]["steps"]
    assert checkout == {"uses": "actions/checkout@v7"}
    # the run's folder, which the registry leaves out, is kept as the workflow run's artifact
    assert keep["with"] == {"name": "retrain-${{ steps.retrain.outputs.run-id }}", "path": "${{ steps.retrain.outputs.outputs-dir }}"}
    assert step["with"]["parameters"].splitlines() == [f"{n}=${{{{ inputs.{n} }}}}" for n in inputs]


def test_an_enum_and_a_boolean_become_a_choice_and_a_checkbox(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (repo / "pipeline.yml").read_text().replace("  seed: 42\n", (
        "  solver:\n    type: string\n    default: fast\n    enum: [fast, exact]\n"
        "  early_stop:\n    type: boolean\n    default: true\n    description: Stop when the score stops improving.\n"
        "  seed: 42\n"))
    (repo / "pipeline.yml").write_text(text)
    assert retrain(capsys, "init")[0] == 0
    inputs = workflow_inputs(repo)
    assert inputs["solver"] == {"description": "solver", "type": "choice", "default": "fast", "options": ["fast", "exact"]}
    assert inputs["early_stop"] == {"description": "Stop when the score stops improving.", "type": "boolean", "default": True}
    assert retrain(capsys, "validate")[:3:2] == (0, "")
    assert_valid_workflow(repo / WORKFLOW)


def test_azure_backend_and_no_wait(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = retrain(capsys, "init", "--backend", "azureml", "--no-wait")
    assert code == 0
    assert "wrote .github/workflows/retrain.yml: push, pull_request, a schedule (17 * * * *) that syncs" in out
    assert "docs/azure.md" in out and "subscription_id, resource_group and workspace" in out
    assert retrain(capsys, "validate")[:3:2] == (0, "")
    assert_valid_workflow(repo / WORKFLOW)
    backend = yaml.safe_load((repo / "retrain.yml").read_text())["backend"]
    assert backend["kind"] == "azureml" and backend["compute"] == "cpu-cluster"
    flow = yaml.safe_load((repo / WORKFLOW).read_text())
    assert flow["permissions"]["id-token"] == "write"
    assert flow[True]["schedule"] == [{"cron": "17 * * * *"}]
    step = flow["jobs"]["retrain"]["steps"][1]["with"]
    assert step["wait"] == "false"
    assert step["command"] == "${{ github.event_name == 'schedule' && 'sync' || 'auto' }}"
    assert step["azure-client-id"] == "${{ vars.AZURE_CLIENT_ID }}"


def test_bad_input_exits_2_and_writes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def nothing_written() -> bool:
        return not (repo / "retrain.yml").exists() and not (repo / ".github").exists()

    (repo / "pipeline.yml").rename(repo / "elsewhere.txt")
    code, _, err = retrain(capsys, "init")
    assert code == 2 and "no Azure ML pipeline definition" in err and "--definition PATH" in err
    assert nothing_written()

    (repo / "elsewhere.txt").rename(repo / "pipeline.yml")
    shutil.copy(repo / "pipeline.yml", repo / "components" / "copy.yml")
    code, _, err = retrain(capsys, "init")
    assert code == 2 and "2 pipeline definitions in the repository (components/copy.yml, pipeline.yml)" in err
    assert nothing_written()

    code, _, err = retrain(capsys, "init", "--definition", "components/copy.yml")
    assert code == 2 and "components/copy.yml" in err and "does not exist" in err  # its components are not beside it
    assert nothing_written()
    assert "Traceback" not in err

    code, _, err = retrain(capsys, "init", "--definition", "nope.yml")
    assert code == 2 and "--definition nope.yml: no such file." in err
    assert nothing_written()


def test_outside_a_git_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(INCOME / "pipeline.yml", tmp_path / "pipeline.yml")
    monkeypatch.chdir(tmp_path)
    code, _, err = retrain(capsys, "init")
    assert code == 2 and "is not inside a Git repository. Run `git init` first" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline.yml"]


def test_existing_files_are_kept_without_force(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "retrain.yml").write_text("# mine\n")
    code, _, err = retrain(capsys, "init")
    assert code == 2 and "retrain.yml already exists; nothing was written. Pass --force" in err
    assert (repo / "retrain.yml").read_text() == "# mine\n" and not (repo / WORKFLOW).exists()
    assert retrain(capsys, "init", "--force")[0] == 0
    assert (repo / "retrain.yml").read_text().startswith("# Written by `retrain init`")


def test_a_dispatch_of_the_form_submits_a_run_with_those_values(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert retrain(capsys, "init")[0] == 0
    # The user adds data (a small sample keeps the run short) and commits.
    (repo / "data").mkdir()
    rows = (INCOME / "data" / "adult-nonus.csv").read_text().splitlines(keepends=True)
    (repo / "data" / "adult-us.csv").write_text("".join(rows[:400]))
    (repo / "data" / "small.csv").write_text("".join(rows[:300]))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "retrain init")

    # What a person types in the form: fields they leave empty keep retrain.yml's values.
    typed = {"training_data": "data/small.csv", "learning_rate": "0.05", "max_iter": "5", "seed": "",
             "label_column": "", "test_fraction": "", "max_leaf_nodes": ""}
    flow = yaml.safe_load((repo / WORKFLOW).read_text())
    step = flow["jobs"]["retrain"]["steps"][1]
    # The runner evaluates ${{ inputs.NAME }} in the `with:` values and passes each as INPUT_<NAME>.
    def render(template: str) -> str:
        return re.sub(r"\$\{\{\s*inputs\.([A-Za-z_][\w-]*)\s*\}\}", lambda m: typed.get(m.group(1), ""), template)
    inputs = {f"INPUT_{k.upper()}": render(str(v)) for k, v in step["with"].items()}

    payload = json.loads((EVENTS / "workflow_dispatch.json").read_text())
    payload["inputs"] = typed
    github = FakeGitHub().start()  # its violations fail the test at teardown (tests/fakes/ledger.py)
    try:
        result = dispatch_action(repo, github, tmp_path, payload, inputs)
        assert result.code == 0, result.stdout + result.stderr
        [check] = github.runs_named("retrain / income-prediction")
        assert check["conclusion"] == "success"
    finally:
        github.stop()
    summary = check["output"]["summary"]
    assert "| <code>learning_rate</code> | <code>0.05</code> | **changed** (default <code>0.1</code>) |" in summary
    assert "| <code>max_iter</code> | <code>5</code> | **changed** (default <code>100</code>) |" in summary

    code, out, _ = retrain(capsys, "runs", "--json")
    [run] = json.loads(out)
    assert run["parameters"]["learning_rate"] == 0.05 and run["parameters"]["max_iter"] == 5
    assert run["parameters"]["seed"] == 42 and run["parameters"]["label_column"] == "income-per-year"
    assert Path(run["parameters"]["training_data"]) == repo / "data" / "small.csv"
    assert run["status"] == "completed"


def test_a_removed_parameter_warns_at_the_workflow_line_and_update_fixes_it(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert retrain(capsys, "init")[0] == 0
    # The user makes the workflow theirs: a comment, a timeout, a step of their own.
    flow = (repo / WORKFLOW).read_text()
    flow = flow.replace("name: retrain\n", "name: retrain  # ours now\n")
    flow = flow.replace("    runs-on: ubuntu-latest\n", "    runs-on: ubuntu-latest\n    timeout-minutes: 90\n")
    flow += "      - run: echo \"metrics ${{ steps.retrain.outputs.metrics }}\"  # keep\n"
    (repo / WORKFLOW).write_text(flow)

    # seed leaves the pipeline (the components keep their own default) and the parameter file.
    pipeline = (repo / "pipeline.yml").read_text()
    pipeline = pipeline.replace("  seed: 42\n", "")
    pipeline = pipeline.replace("      seed: ${{parent.inputs.seed}}\n", "")
    (repo / "pipeline.yml").write_text(pipeline)
    config = (repo / "retrain.yml").read_text()
    (repo / "retrain.yml").write_text(re.sub(r"\n      seed: 42 .*", "", config))

    lines = flow.splitlines()
    seed_line = lines.index("      seed:") + 1
    code, out, err = retrain(capsys, "validate")
    assert code == 0 and out.startswith("retrain.yml is valid")
    assert err.splitlines() == [
        f"warning: .github/workflows/retrain.yml:{seed_line}:7: the dispatch input 'seed' has no parameter of that "
        "name: pipeline 'income-prediction' does not declare it. Remove the input, or add the parameter to the "
        "pipeline. Run `retrain init --update` to rewrite the form from the pipeline."]

    code, out, err = retrain(capsys, "init", "--update")
    assert (code, err) == (0, "")
    assert out == "updated .github/workflows/retrain.yml:\n  seed: removed (no pipeline parameter of that name)\n"
    expected = "\n".join(line for i, line in enumerate(lines, 1)
                         if not (seed_line <= i < seed_line + 4) and line != "            seed=${{ inputs.seed }}") + "\n"
    assert (repo / WORKFLOW).read_text() == expected
    assert retrain(capsys, "validate")[:3:2] == (0, "")
    assert_valid_workflow(repo / WORKFLOW)

    # Run again: nothing to change, the file is not touched.
    code, out, _ = retrain(capsys, "init", "--update")
    assert code == 0 and out == ".github/workflows/retrain.yml: the form is in step with the pipeline; nothing to change\n"


def test_a_parameter_without_a_default_asks_for_a_value(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (repo / "pipeline.yml").read_text().replace("  seed: 42\n", "  threshold:\n    type: number\n  seed: 42\n")
    (repo / "pipeline.yml").write_text(text)
    code, out, _ = retrain(capsys, "init")
    assert code == 0 and "1. give threshold a value in retrain.yml (no default in the pipeline)" in out
    assert "default" not in workflow_inputs(repo)["threshold"]
    assert_valid_workflow(repo / WORKFLOW)

    config = (repo / "retrain.yml").read_text()
    line = config.splitlines().index("      threshold:  # number; no default: give it a value") + 1
    code, _, err = retrain(capsys, "validate")
    assert code == 2 and f"retrain.yml:{line}:" in err and "'threshold' needs a value of type number" in err
    (repo / "retrain.yml").write_text(config.replace("      threshold:  #", "      threshold: 0.5  #"))
    assert retrain(capsys, "validate")[:3:2] == (0, "")


def test_a_pipeline_component_beside_the_pipeline_is_not_a_second_definition(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nested = ROOT / "tests" / "fixtures" / "pipelines" / "nested_component" / "components" / "train_pipeline.yml"
    shutil.copy(nested, repo / "components" / "train_pipeline.yml")
    code, out, err = retrain(capsys, "init")
    assert code == 0, err
    assert "wrote retrain.yml: pipeline 'income-prediction'" in out


# -- the form says what it will do --------------------------------------------------------------------

EXTRA = ("  solver:\n    type: string\n    default: fast\n    enum: [fast, exact]\n"
         "  early_stop:\n    type: boolean\n    default: true\n    description: Stop when the score stops improving.\n"
         "  seed: 42\n")


def dispatched(workflow: Path, typed: dict[str, str]) -> dict[str, str]:
    """The action's INPUT_* as GitHub's runner renders them for a workflow_dispatch: every form field arrives,
    typed or with its default; a checkbox is never empty (false without a default), a choice without one sends
    its first option, an untouched text field without one is empty. ``${{ inputs.NAME }}`` in the step's
    ``with:`` values becomes that text (a boolean as true/false, a number as GitHub prints it)."""
    flow = yaml.safe_load(workflow.read_text())
    form = flow[True]["workflow_dispatch"].get("inputs") or {}

    def text(value: object) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return "" if value is None else str(value)

    sent: dict[str, str] = {}
    for name, spec in form.items():
        if name in typed:
            sent[name] = typed[name]
        elif "default" in spec:
            sent[name] = text(spec["default"])
        else:
            sent[name] = {"boolean": "false", "choice": (spec.get("options") or [""])[0]}.get(spec.get("type", "string"), "")
    [step] = [s for s in flow["jobs"]["retrain"]["steps"] if str(s.get("uses", "")).startswith("retrain/")]
    return {f"INPUT_{k.upper()}": re.sub(r"\$\{\{\s*inputs\.([A-Za-z_][\w-]*)\s*\}\}", lambda m: sent.get(m.group(1), ""), str(v))
            for k, v in step["with"].items()}


def dispatch_action(repo: Path, github: FakeGitHub, tmp_path: Path, payload: dict, inputs: dict[str, str]) -> Result:
    """The action in a process on a workflow_dispatch payload as the runner starts it (tests/github_runner.py's
    Runner), with the form's values as the step's ``with:`` renders them."""
    (tmp_path / "runner").mkdir(exist_ok=True)
    runner = Runner(repo, github, tmp_path / "runner")
    return runner.run({**runner.env("workflow_dispatch", payload), **inputs}, timeout=240)


def dispatch(repo: Path, tmp_path: Path, inputs: dict[str, str]) -> Result:
    """An untouched form's dispatch (the payload of octokit's example) against a fake GitHub."""
    github = FakeGitHub().start()
    try:
        return dispatch_action(repo, github, tmp_path, json.loads((EVENTS / "workflow_dispatch.json").read_text()), inputs)
    finally:
        github.stop()


def test_an_untouched_form_runs_exactly_the_files_values(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (repo / "pipeline.yml").write_text((repo / "pipeline.yml").read_text().replace("  seed: 42\n", EXTRA))
    assert retrain(capsys, "init")[0] == 0
    (repo / "data").mkdir()
    rows = (INCOME / "data" / "adult-nonus.csv").read_text().splitlines(keepends=True)
    (repo / "data" / "adult-us.csv").write_text("".join(rows[:400]))
    # retrain.yml moves away from the pipeline's defaults: a number, a checkbox and a choice.
    config = (repo / "retrain.yml").read_text()
    config = re.sub(r"learning_rate: 0\.1 ", "learning_rate: 0.05 ", config)
    config = re.sub(r"early_stop: true ", "early_stop: false ", config)
    config = re.sub(r'solver: "fast" ', 'solver: "exact" ', config)
    (repo / "retrain.yml").write_text(config)

    # validate warns at each stale default's line; the form as it is would run the pipeline's values.
    flow = (repo / WORKFLOW).read_text().splitlines()
    code, _, err = retrain(capsys, "validate")
    assert code == 0
    def at(name: str) -> int:
        return flow.index(f"      {name}:") + 4  # the input's key, its description, its type, then its default
    assert err.splitlines() == [
        f"warning: .github/workflows/retrain.yml:{at('learning_rate')}:18: the dispatch input 'learning_rate' defaults to 0.1, "
        "but retrain.yml runs with 0.05: a dispatch with the form untouched would run 0.1. "
        "Run `retrain init --update` to set the form's defaults to the parameter file's values.",
        f"warning: .github/workflows/retrain.yml:{at('solver')}:18: the dispatch input 'solver' defaults to \"fast\", "
        "but retrain.yml runs with \"exact\": a dispatch with the form untouched would run \"fast\". "
        "Run `retrain init --update` to set the form's defaults to the parameter file's values.",
        f"warning: .github/workflows/retrain.yml:{at('early_stop')}:18: the dispatch input 'early_stop' defaults to true, "
        "but retrain.yml runs with false: a dispatch with the form untouched would run true. "
        "Run `retrain init --update` to set the form's defaults to the parameter file's values."]

    code, out, err = retrain(capsys, "init", "--update")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["updated .github/workflows/retrain.yml:", "  learning_rate: default 0.1 -> 0.05",
                                '  solver: default "fast" -> "exact"', "  early_stop: default true -> false"]
    assert retrain(capsys, "validate")[:3:2] == (0, "")
    assert_valid_workflow(repo / WORKFLOW)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "retrain init")

    proc = dispatch(repo, tmp_path, dispatched(repo / WORKFLOW, {}))  # nobody touches the form
    assert proc.code == 0, proc.stdout + proc.stderr
    code, out, _ = retrain(capsys, "runs", "--json")
    [run] = json.loads(out)
    file_values = yaml.safe_load((repo / "retrain.yml").read_text())["pipelines"]["income-prediction"]["parameters"]
    file_values["training_data"] = str(repo / file_values["training_data"])
    assert run["parameters"] == file_values
    assert (run["parameters"]["learning_rate"], run["parameters"]["early_stop"], run["parameters"]["solver"]) == (0.05, False, "exact")


def test_text_copied_into_the_workflow_cannot_start_an_expression(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = ("  note:\n    type: string\n    default: 'cost ${{ budget }}'\n    description: Spend at most ${{ budget }}.\n"
             "  mode:\n    type: string\n    default: a\n    enum: [a, '${{ b }}']\n  seed: 42\n")
    (repo / "pipeline.yml").write_text((repo / "pipeline.yml").read_text().replace("  seed: 42\n", extra))
    assert retrain(capsys, "init")[0] == 0
    text = (repo / WORKFLOW).read_text()
    assert "${{" not in text.replace("${{ inputs.", "").replace("${{ vars.", "").replace("${{ github.", "").replace("${{ steps.retrain.", "")
    inputs = workflow_inputs(repo)
    assert inputs["note"] == {"description": "Spend at most $ {{ budget }}.", "type": "string"}  # empty: the file's value runs
    assert inputs["mode"] == {"description": "mode", "type": "string"}  # an option that cannot be written: a text field
    assert_valid_workflow(repo / WORKFLOW)
    assert retrain(capsys, "validate")[:3:2] == (0, "")


def test_more_than_25_parameters_keep_25_on_the_form_and_say_so_once(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = "".join(f"  p{i:02d}:\n    type: integer\n    default: {i}\n" for i in range(20)) + "  seed: 42\n"
    (repo / "pipeline.yml").write_text((repo / "pipeline.yml").read_text().replace("  seed: 42\n", extra))
    code, out, _ = retrain(capsys, "init")
    assert code == 0
    assert ("  (GitHub allows 25 inputs on a form: p19, seed are not on it and run with retrain.yml's values; "
            "the workflow's comment says how to set them)") in out
    assert len(workflow_inputs(repo)) == 25
    comment = " ".join(line.strip().removeprefix("# ") for line in (repo / WORKFLOW).read_text().splitlines()
                       if line.startswith("    # ") and "workflow_dispatch" not in line)
    assert ("GitHub allows 25 inputs on a form, so these parameters are not on it and run with retrain.yml's values: "
            "p19, seed. To change one, set it in retrain.yml (a push retrains with it), or from a terminal: "
            "retrain submit income-prediction --set p19=VALUE") in comment
    assert_valid_workflow(repo / WORKFLOW)
    # validate (and the action on every pull request) says nothing about them: the form has no room.
    assert retrain(capsys, "validate")[:3:2] == (0, "")
