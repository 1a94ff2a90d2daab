"""Validation of the parameter file: every problem at once, at its line, with what to do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrain.cli.main import main
from retrain.config.load import load_config
from retrain.config.records import AzureBackendConfig, LocalBackendConfig, Trigger
from retrain.errors import InvalidFile
from tests.config.parameter_file import problems
from tests.paths import ROOT

SEVEN_MISTAKES = """\
backend: local
pipelines:
  tiny:
    definition: pipelines/tiny/pipeline.yml
    endpont: tiny-retrain
    version: newest
    parameters:
      learning_rat: 0.2
      epochs: many
    data: ["data/[abc"]
    timeout: 2 hours
  other:
    definition: pipelines/missing.yml
"""


def test_a_good_file_becomes_typed_records(project: Path) -> None:
    config = load_config(project / "retrain.yml")
    assert isinstance(config.backend, LocalBackendConfig)
    assert config.backend.store == project / ".retrain"
    tiny = config.pipelines["tiny"]
    assert tiny.endpoint == "tiny-retrain"
    assert tiny.version == "default"
    assert tiny.timeout_s == 600.0
    assert tiny.submit_on == {Trigger.MERGE, Trigger.DATA, Trigger.DISPATCH}
    # Values typed in the file; unassigned parameters take the pipeline's defaults; data paths absolute
    # against the parameter file's folder.
    assert tiny.parameters == {
        "training_data": str(project / "data" / "train.csv"),
        "learning_rate": 0.2,
        "epochs": 3,
        "flavour": "plain",
    }


def test_every_mistake_is_reported_at_its_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "retrain.yml").write_text(SEVEN_MISTAKES)
    assert main(["validate"], {}) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "error: 7 problems in the parameter file retrain.yml:\n"
        "  retrain.yml:5:5: at pipelines.tiny.endpont: unknown key 'endpont'. Did you mean 'endpoint'?\n"
        "  retrain.yml:6:14: at pipelines.tiny.version: expected a version number, 'default' or 'latest', got 'newest'.\n"
        "  retrain.yml:8:7: at pipelines.tiny.parameters.learning_rat: the pipeline 'tiny' has no parameter 'learning_rat'. "
        "Did you mean 'learning_rate'? Its parameters: epochs, flavour, learning_rate, training_data.\n"
        "  retrain.yml:9:15: at pipelines.tiny.parameters.epochs: 'epochs' is an integer; 'many' is not. Write a whole number such as 5.\n"
        "  retrain.yml:10:12: at pipelines.tiny.data[0]: 'data/[abc': the '[' at position 6 is never closed; add ']' or escape it as [[].\n"
        "  retrain.yml:11:14: at pipelines.tiny.timeout: '2 hours' is not a duration; write e.g. 2h, 30m, 1h30m or 45s.\n"
        "  retrain.yml:13:17: at pipelines.other.definition: the pipeline definition pipelines/missing.yml does not exist. "
        "Paths here are relative to retrain.yml's folder; check the name.\n"
    )
    assert "Traceback" not in captured.err


def test_values_out_of_range_or_enum(project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("learning_rate: 0.2", "epochs: 0\n      flavour: spicy")
    assert problems(project, text) == [
        "retrain.yml:10:15: at pipelines.tiny.parameters.epochs: 'epochs' must be at least 1; 0 is below.",
        "retrain.yml:11:16: at pipelines.tiny.parameters.flavour: 'flavour' must be one of plain, fancy; 'spicy' is not.",
    ]


def test_problems_inside_the_pipeline_are_reported_in_its_file(project: Path) -> None:
    pipeline = project / "pipelines" / "tiny" / "pipeline.yml"
    pipeline.write_text(pipeline.read_text().replace("${{parent.jobs.prep.outputs.prepared}}", "${{parent.jobs.prep.outputs.prepped}}"))
    assert problems(project, (project / "retrain.yml").read_text()) == [
        "pipelines/tiny/pipeline.yml:29:17: at jobs.train.inputs.prepared: the step 'prep' has no output 'prepped'. Its outputs: prepared.",
    ]


def test_a_parameter_without_default_needs_a_value(project: Path) -> None:
    pipeline = project / "pipelines" / "tiny" / "pipeline.yml"
    pipeline.write_text(pipeline.read_text().replace("  learning_rate: 0.1\n", "  learning_rate:\n    type: number\n"))
    text = (project / "retrain.yml").read_text().replace("      learning_rate: 0.2\n", "")
    assert problems(project, text) == [
        "retrain.yml:8:5: at pipelines.tiny.parameters: the pipeline's parameter 'learning_rate' has no default, "
        "so it needs a value here. Add learning_rate: <number> under parameters.",
    ]


def test_yaml_syntax_errors_point_at_the_line(project: Path) -> None:
    assert problems(project, "pipelines:\n  tiny: [unclosed\n") == [
        "retrain.yml:3:1: YAML syntax error: did not find expected ',' or ']'. Fix the indentation or quoting there.",
    ]


def test_duplicate_keys_are_not_silently_dropped(project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("    timeout: 10m\n", "    timeout: 10m\n    timeout: 20m\n")
    assert problems(project, text) == [
        "retrain.yml:15:5: at pipelines.tiny.timeout: the key 'timeout' appears twice; the second one would silently win. Remove one of them.",
    ]


def test_azure_backend_needs_its_workspace_and_no_secrets(project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace(
        "backend: local\n",
        "backend:\n  kind: azureml\n  subscription_id: 00000000-0000-0000-0000-000000000000\n  workspace: ws\n  client_secret: hunter2\n",
    )
    found = problems(project, text)
    assert found == [
        "retrain.yml:2:3: at backend: the azureml backend needs 'resource_group'. Add resource_group: under backend (see docs/azure.md).",
        "retrain.yml:5:3: at backend.client_secret: 'client_secret' looks like a secret, and secrets must not be committed "
        "in the parameter file. Remove it; pass credentials as action inputs from repository secrets, or as AZURE_* environment variables.",
    ]
    assert not any("hunter2" in p for p in found)


def test_azure_backend_record(project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace(
        "backend: local\n",
        "backend: {kind: azureml, subscription_id: sub, resource_group: rg, workspace: ws, cloud: usgov}\n",
    )
    (project / "retrain.yml").write_text(text)
    backend = load_config(project / "retrain.yml").backend
    assert isinstance(backend, AzureBackendConfig)
    assert (backend.kind, backend.subscription_id, backend.resource_group, backend.workspace, backend.cloud) == (
        "azureml", "sub", "rg", "ws", "usgov")


def test_unknown_events_and_bad_names(project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("publish_on: [merge]", "publish_on: [merg]").replace(
        "endpoint: tiny-retrain", "endpoint: 9tiny")
    assert problems(project, text) == [
        "retrain.yml:5:15: at pipelines.tiny.endpoint: '9tiny' is not a valid name. "
        "Endpoint names have 3 to 32 letters, digits or '-', starting with a letter (Azure ML's rule).",
        "retrain.yml:12:18: at pipelines.tiny.publish_on[0]: unknown event 'merg'. Did you mean 'merge'?",
    ]


def test_an_empty_file(project: Path) -> None:
    assert problems(project, "# nothing yet\n") == [
        "retrain.yml:1:1: the file is empty. Start from examples/income/retrain.yml or docs/parameter-file.md.",
    ]


def test_a_designer_endpoint_needs_no_definition(project: Path) -> None:
    (project / "retrain.yml").write_text(
        "backend: {kind: azureml-v1, subscription_id: s, resource_group: rg, workspace: ws}\n"
        "pipelines:\n  income:\n    endpoint: income-designer\n    version: 0\n"
        "    parameters: {training_data_path: income/us.csv}\n    submit_on: [dispatch]\n")
    config = load_config(project / "retrain.yml")
    income = config.pipelines["income"]
    assert (income.definition, income.pipeline, income.version, income.publish_on) == (None, None, 0, frozenset())
    assert income.parameters == {"training_data_path": "income/us.csv"}
    text = (project / "retrain.yml").read_text().replace("submit_on: [dispatch]", "publish_on: [merge]")
    assert problems(project, text) == [
        "retrain.yml:7:17: at pipelines.income.publish_on: pipelines on the azureml-v1 backend are published from the designer, "
        "not by retrain. Remove publish_on (or write publish_on: []).",
    ]


# -- the repository is the boundary (docs/limits.md) -------------------------------------------------


def test_local_data_elsewhere_is_named_by_a_file_uri(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared data" / "train.csv"
    elsewhere.parent.mkdir()
    elsewhere.write_text("x,y\n1,2\n")
    text = (project / "retrain.yml").read_text().replace(
        "training_data: data/train.csv", f"training_data: {elsewhere.parent.as_uri()}/train.csv")
    (project / "retrain.yml").write_text(text)
    # The URI becomes the local path it names (percent-escapes decoded), which the steps then read.
    assert load_config(project / "retrain.yml").pipelines["tiny"].parameters["training_data"] == str(elsewhere)
    # Without the scheme the same path is refused, at its line, with the way out in the message.
    text = text.replace(f"{elsewhere.parent.as_uri()}/train.csv", str(elsewhere))
    assert problems(project, text) == [
        f"retrain.yml:9:22: at pipelines.tiny.parameters.training_data: 'training_data': '{elsewhere}' is outside the "
        f"repository {project}. Keep it inside the repository; for data elsewhere give a URI: azureml://..., "
        "https://..., or file:///absolute/path for local data (docs/limits.md).",
    ]


def test_the_boundary_is_the_git_top_level_not_the_files_folder(project: Path) -> None:
    # A parameter file in a sub-folder may name a pipeline beside it in the same repository.
    (project / "ops").mkdir()
    (project / "ops" / "retrain.yml").write_text((project / "retrain.yml").read_text()
                                                 .replace("definition: pipelines/", "definition: ../pipelines/")
                                                 .replace("training_data: data/", "training_data: ../data/"))
    config = load_config(project / "ops" / "retrain.yml")
    assert config.repo_root == project
    assert config.pipelines["tiny"].parameters["training_data"] == str(project / "data" / "train.csv")


def test_outside_git_the_boundary_is_the_files_folder(tmp_path: Path) -> None:
    # No .git above: the parameter file's folder is the repository, and a sibling folder is outside it.
    shutil.copytree(ROOT / "examples" / "income", tmp_path / "income", ignore=shutil.ignore_patterns(".retrain"))
    config = load_config(tmp_path / "income" / "retrain.yml")
    assert config.repo_root == tmp_path / "income"
    text = (tmp_path / "income" / "retrain.yml").read_text().replace("training_data: data/adult-us.csv", "training_data: ../other.csv")
    (tmp_path / "income" / "retrain.yml").write_text(text)
    with pytest.raises(InvalidFile, match=r"'\.\./other\.csv' is outside the repository"):
        load_config(tmp_path / "income" / "retrain.yml")


def test_links_that_stay_inside_the_repository_are_fine(project: Path) -> None:
    (project / "current.csv").symlink_to(project / "data" / "train.csv")
    text = (project / "retrain.yml").read_text().replace("training_data: data/train.csv", "training_data: current.csv")
    (project / "retrain.yml").write_text(text)
    # The value keeps the name the user wrote; only where it leads is checked.
    assert load_config(project / "retrain.yml").pipelines["tiny"].parameters["training_data"] == str(project / "current.csv")


def test_an_absolute_store_is_the_users_choice(project: Path, tmp_path: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("backend: local", f"backend: {{kind: local, store: {tmp_path / 'store'}}}")
    (project / "retrain.yml").write_text(text)
    assert load_config(project / "retrain.yml").backend == LocalBackendConfig(store=tmp_path / "store")


def test_a_value_up_to_the_limit_passes_and_one_byte_more_does_not(project: Path) -> None:
    from retrain.pipeline.types import MAX_VALUE_BYTES

    text = (project / "retrain.yml").read_text()
    at_limit = "f" * MAX_VALUE_BYTES  # shell-quoting adds nothing to plain letters
    pipeline = project / "pipelines" / "tiny" / "pipeline.yml"
    pipeline.write_text(pipeline.read_text().replace("    enum: [plain, fancy]\n", ""))
    (project / "retrain.yml").write_text(text.replace("learning_rate: 0.2", f"learning_rate: 0.2\n      flavour: {at_limit}"))
    assert load_config(project / "retrain.yml").pipelines["tiny"].parameters["flavour"] == at_limit
    assert problems(project, text.replace("learning_rate: 0.2", f"learning_rate: 0.2\n      flavour: \"{at_limit}'\"")) == [
        "retrain.yml:11:16: at pipelines.tiny.parameters.flavour: 'flavour' is 16,391 bytes on the command line; the limit is "
        "16,384 bytes (docs/limits.md). Put long content in a file in the repository and pass its path.",
    ]


def test_merge_keys_are_overridden_without_a_duplicate_key_error(project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("    timeout: 10m\n", "    timeout: 10m\n    <<: &common {timeout: 20m, make_default: true}\n")
    (project / "retrain.yml").write_text(text)
    tiny = load_config(project / "retrain.yml").pipelines["tiny"]
    assert (tiny.timeout_s, tiny.make_default) == (600.0, True)


def test_a_value_typed_by_hand_stays_inside_too(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--event", "dispatch", "--set", "training_data=data/other.csv"], {}) == 0
    capsys.readouterr()
    assert main(["plan", "--event", "dispatch", "--set", "training_data=../x.csv"], {}) == 2
    err = capsys.readouterr().err
    assert err == (f"error: training_data=../x.csv: 'training_data': '../x.csv' is outside the repository {project} "
                   f"(it resolves to {project.parent / 'x.csv'}). Keep it inside the repository; for data elsewhere give a URI: "
                   "azureml://..., https://..., or file:///absolute/path for local data (docs/limits.md). (given with --set)\n")
