"""Loading Azure ML v2 pipeline YAML: the shapes of real examples, and every mistake at its line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrain.errors import InvalidFile
from retrain.pipeline.load import load_pipeline
from retrain.pipeline.model import DataValue, InputType, ParentInput, StepOutput
from tests.paths import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "pipelines"


def test_local_components_with_outputs_bound_to_the_pipeline() -> None:
    p = load_pipeline(FIXTURES / "e2e_local_components" / "pipeline.yml")
    assert list(p.steps) == ["train_job", "score_job", "evaluate_job"]
    assert p.experiment_name == "pipeline_samples"
    params = p.parameters
    assert (params["pipeline_job_training_max_epocs"].type, params["pipeline_job_training_max_epocs"].default) == (InputType.INTEGER, 20)
    assert (params["pipeline_job_training_learning_rate"].type, params["pipeline_job_training_learning_rate"].default) == (InputType.NUMBER, 1.8)
    assert params["pipeline_job_training_input"].default == str(FIXTURES / "e2e_local_components" / "data")
    score = p.steps["score_job"]
    assert score.inputs["model_input"] == StepOutput("train_job", "model_output")
    assert score.inputs["test_data"] == ParentInput("pipeline_job_test_input")
    assert score.depends_on == ("train_job",)
    assert p.steps["train_job"].outputs == {"model_output": "pipeline_job_trained_model"}
    train = p.steps["train_job"].component
    assert train.name == "train_model" and train.version == "0.0.1"
    assert train.inputs["learning_rate"].optional and train.inputs["learning_rate"].default == 0.01
    assert train.code == FIXTURES / "e2e_local_components" / "train_src"


def test_inline_component_with_min_max_enum_and_a_datastore_uri() -> None:
    p = load_pipeline(FIXTURES / "registered_shape" / "pipeline.yml")
    data = p.parameters["data"]
    assert (data.type, data.default) == (InputType.URI_FILE, "azureml://datastores/workspaceblobstore/paths/iris/iris.csv")
    epochs = p.parameters["epochs"]
    assert (epochs.min, epochs.max, epochs.default) == (1, 50, 10)
    assert p.parameters["optimizer"].enum == ("adam", "sgd")
    assert p.parameters["early_stop"].type is InputType.BOOLEAN
    assert p.steps["train"].component.source == FIXTURES / "registered_shape" / "pipeline.yml"


def test_inline_command_jobs_infer_their_input_types() -> None:
    p = load_pipeline(FIXTURES / "inline_jobs" / "pipeline.yml")
    train = p.steps["train"]
    assert train.inputs == {"training_data": StepOutput("prep", "prep_data"), "test_split_ratio": 0.2}
    assert train.component.inputs["test_split_ratio"].type is InputType.NUMBER
    assert train.component.inputs["training_data"].type is InputType.URI_FOLDER
    assert train.component.code == FIXTURES / "inline_jobs" / "src"


def test_steps_come_in_dependency_order(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text(
        "type: pipeline\njobs:\n"
        "  last:\n    inputs: {x: '${{parent.jobs.first.outputs.o}}'}\n    command: cat ${{inputs.x}}/f\n"
        "  first:\n    outputs: {o: }\n    command: echo hi > ${{outputs.o}}/f\n"
    )
    p = load_pipeline(tmp_path / "p.yml")
    assert list(p.steps) == ["first", "last"]


def problems_of(tmp_path: Path, files: dict[str, str]) -> list[str]:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(InvalidFile) as e:
        load_pipeline(tmp_path / "pipeline.yml", display_root=tmp_path)
    return [str(p) for p in e.value.problems]


COMPONENT = """\
type: command
name: train
inputs:
  data: {type: uri_file}
  rate: {type: number}
  tag: {type: string, optional: true}
outputs:
  model: {type: uri_folder}
command: python t.py ${{inputs.data}} ${{inputs.rate}} ${{inputs.tag}} $[[--r ${{inputs.rate}}]] ${{outputs.modle}}
"""

MISTAKES = """\
type: pipeline
inputs:
  data: {type: uri_file, path: ./d.csv}
  rate: {type: numbr, default: 1}
  epochs: {type: integer, default: 200, max: 100}
jobs:
  a:
    component: ./train.yml
    inputs:
      data: ${{parent.inputs.dta}}
      rat: 0.1
    outputs:
      model:
  b:
    component: ./missing.yml
  c:
    component: ./train.yml
    inputs:
      data: ${{parent.jobs.zz.outputs.model}}
      rate: 0.5
    resourcez: {}
"""


def test_every_mistake_in_a_pipeline_at_its_line(tmp_path: Path) -> None:
    assert problems_of(tmp_path, {"pipeline.yml": MISTAKES, "train.yml": COMPONENT}) == [
        "pipeline.yml:4:16: at inputs.rate.type: unknown type 'numbr'. Did you mean 'number'?",
        "pipeline.yml:5:36: at inputs.epochs.default: the default does not fit: 'epochs' must be at most 100; 200 is above.",
        "pipeline.yml:10:7: at jobs.a.inputs: the step 'a' does not give the required input 'rate'. "
        "Bind it, e.g. rate: ${{parent.inputs.rate}}.",
        "pipeline.yml:10:13: at jobs.a.inputs.data: the binding ${{parent.inputs.dta}} names the pipeline input 'dta', "
        "which does not exist. Did you mean 'data'?",
        "pipeline.yml:11:7: at jobs.a.inputs.rat: the component 'train' has no input 'rat'. Its inputs: data, rate, tag.",
        "pipeline.yml:15:16: at jobs.b.component: the component file ./missing.yml does not exist. "
        "Paths are relative to pipeline.yml's folder.",
        "pipeline.yml:19:13: at jobs.c.inputs.data: the binding ${{parent.jobs.zz.outputs.model}} names the step 'zz', "
        "which does not exist. Steps: a, b, c.",
        "pipeline.yml:21:5: at jobs.c.resourcez: unknown key 'resourcez'. Did you mean 'resources'?",
        "train.yml:9:10: at command: the command uses ${{outputs.modle}}, which the component does not declare. Did you mean 'model'?",
        "train.yml:9:10: at command: the input 'rate' is inside $[[ ]] but is not optional. "
        "Only optional inputs may be in $[[ ]]: add optional: true, or take it out of the brackets.",
        "train.yml:9:10: at command: the optional input 'tag' is used outside $[[ ]]. "
        "Wrap the part of the command that uses it in $[[ ]], so it is left out when no value is given.",
    ]


def test_cycles_are_named(tmp_path: Path) -> None:
    text = (
        "type: pipeline\njobs:\n"
        "  a:\n    inputs: {x: '${{parent.jobs.b.outputs.o}}'}\n    outputs: {o: }\n    command: cp -r ${{inputs.x}} ${{outputs.o}}\n"
        "  b:\n    inputs: {x: '${{parent.jobs.a.outputs.o}}'}\n    outputs: {o: }\n    command: cp -r ${{inputs.x}} ${{outputs.o}}\n"
    )
    assert problems_of(tmp_path, {"pipeline.yml": text}) == [
        "pipeline.yml:3:3: at jobs.a: the steps form a cycle: a -> b -> a. "
        "A step may only read outputs of steps that do not read its own.",
    ]


def test_unknown_step_types_and_missing_pipeline_components_say_what_to_do(tmp_path: Path) -> None:
    text = (
        "type: pipeline\njobs:\n"
        "  odd:\n    type: comand\n    command: echo\n"
        "  nested:\n    type: pipeline\n    component: file:./sub.yml\n"
    )
    assert problems_of(tmp_path, {"pipeline.yml": text}) == [
        "pipeline.yml:4:11: at jobs.odd.type: unknown step type 'comand'. Did you mean 'command'?",
        "pipeline.yml:8:16: at jobs.nested.component: the component file ./sub.yml does not exist. "
        "Paths are relative to pipeline.yml's folder.",
    ]


def test_not_a_pipeline(tmp_path: Path) -> None:
    assert problems_of(tmp_path, {"pipeline.yml": "type: command\ncommand: echo\n"}) == [
        "pipeline.yml:1:1: the pipeline has no jobs. Add jobs: with at least one step.",
        "pipeline.yml:1:7: at type: expected type: pipeline, got 'command'. A pipeline job file starts with type: pipeline.",
        "pipeline.yml:2:1: at command: unknown key 'command'. Known keys here: type, name, display_name, experiment_name, "
        "description, tags, settings, inputs, outputs, jobs, compute, identity, properties.",
    ]


def test_a_copy_elsewhere_loads_the_same(tmp_path: Path) -> None:
    original = load_pipeline(FIXTURES / "e2e_local_components" / "pipeline.yml")
    copy = tmp_path / "moved"
    shutil.copytree(FIXTURES / "e2e_local_components", copy)
    moved = load_pipeline(copy / "pipeline.yml")
    assert moved.content_hash == original.content_hash
    assert [f.relative_to(moved.root) for f in moved.files] == [f.relative_to(original.root) for f in original.files]


def test_data_values_given_in_place_are_absolute(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a\n")
    (tmp_path / "pipeline.yml").write_text(
        "type: pipeline\njobs:\n  a:\n    inputs:\n      x: {type: uri_file, path: ./d.csv}\n    command: cat ${{inputs.x}}\n"
    )
    p = load_pipeline(tmp_path / "pipeline.yml")
    assert p.steps["a"].inputs["x"] == DataValue(InputType.URI_FILE, str(tmp_path / "d.csv"))


def test_inside_a_boundary_every_path_must_stay_in_it(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "shared"
    shutil.copytree(FIXTURES / "e2e_local_components", repo)
    shutil.copytree(FIXTURES / "e2e_local_components", outside)
    (outside / "elsewhere.csv").write_text("a\n")
    (repo / "pipeline.yml").write_text((repo / "pipeline.yml").read_text().replace(
        "component: ./train.yml", "component: ../shared/train.yml"))
    # Without a boundary (a stored snapshot, checked when it was published) the file loads as written.
    assert load_pipeline(repo / "pipeline.yml").steps["train_job"].component.source == outside / "train.yml"
    with pytest.raises(InvalidFile) as e:
        load_pipeline(repo / "pipeline.yml", boundary=repo, display_root=tmp_path)
    assert [str(p) for p in e.value.problems] == [
        f"repo/pipeline.yml:33:16: at jobs.train_job.component: the component file '../shared/train.yml' is outside the "
        f"repository {repo} (it resolves to {outside / 'train.yml'}). Move it into the repository: a pipeline's files "
        "are published from there (docs/limits.md).",
    ]


def test_a_step_given_data_in_place_by_file_uri_reads_that_path(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "data.csv").write_text("a\n")
    (tmp_path / "repo" / "pipeline.yml").write_text(
        "type: pipeline\njobs:\n  a:\n    inputs:\n"
        f"      x: {{type: uri_file, path: '{(tmp_path / 'data.csv').as_uri()}'}}\n"
        "      y: {type: uri_file, path: ../data.csv}\n"
        "    command: cat ${{inputs.x}} ${{inputs.y}}\n"
    )
    with pytest.raises(InvalidFile) as e:
        load_pipeline(tmp_path / "repo" / "pipeline.yml", boundary=tmp_path / "repo", display_root=tmp_path)
    assert [p.key for p in e.value.problems] == ["jobs.a.inputs.y"]  # x, named on purpose, is fine
    (tmp_path / "repo" / "pipeline.yml").write_text((tmp_path / "repo" / "pipeline.yml").read_text().replace(
        "      y: {type: uri_file, path: ../data.csv}\n", "").replace(" ${{inputs.y}}", ""))
    p = load_pipeline(tmp_path / "repo" / "pipeline.yml", boundary=tmp_path / "repo")
    assert p.steps["a"].inputs["x"] == DataValue(InputType.URI_FILE, str(tmp_path / "data.csv"))
