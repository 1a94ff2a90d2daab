"""The model the loader gives the backends for the shapes of Azure ML YAML beyond command components:
file: and azureml: references, inline steps' own outputs, literals typed as azure-ai-ml types them, pipeline
components, sweep, parallel and automl steps (kept with their YAML), and their mistakes at their lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrain.errors import InvalidFile
from retrain.pipeline.flatten import local_problems, local_steps
from retrain.pipeline.load import load_pipeline
from retrain.pipeline.model import ComponentRef, DataValue, InputType, ParentInput, StepOutput
from tests.azureml_examples import corpus_copy

JOBS = "azureml-examples/cli/jobs"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return corpus_copy(tmp_path_factory.mktemp("corpus")).parent


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path / "pipeline.yml"


def problems(tmp_path: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(InvalidFile) as e:
        load_pipeline(write(tmp_path, files), display_root=tmp_path)
    return [str(p) for p in e.value.problems]


def test_registered_components_are_kept_as_references(corpus: Path) -> None:
    p = load_pipeline(corpus / JOBS / "pipelines-with-components/basics/1b_e2e_registered_components/pipeline.yml")
    train = p.steps["train_job"]
    assert train.component.registered == ComponentRef("azureml:my_train@latest", "my_train", label="latest")
    assert train.component.type == "registered" and train.component.inputs == {}
    # Its bindings are typed from what they are bound to; a later step may read any of its outputs.
    assert isinstance(train.inputs["training_data"], DataValue)
    assert train.inputs["max_epocs"] == ParentInput("pipeline_job_training_max_epocs")
    assert p.steps["score_job"].inputs["model_input"] == StepOutput("train_job", "model_output")
    assert p.steps["score_job"].depends_on == ("train_job",)

    mm = load_pipeline(corpus / JOBS / "pipelines/automl/cli-aml-demand-forecast-pipeline/cli-aml-demand-forecast-mm/many_models_evaluation_pipeline.yml")
    refs = {n: s.component.registered for n, s in mm.steps.items() if s.component.registered}
    assert refs["automl_mm_training"] == ComponentRef("azureml://registries/azureml/components/automl_many_models_training",
                                                      "automl_many_models_training", registry="azureml")
    assert refs["compute_metrics"] == ComponentRef("azureml://registries/azureml/components/compute_metrics/versions/0.0.26",
                                                   "compute_metrics", version="0.0.26", registry="azureml")


def test_references_azure_ml_does_not_read_are_refused_at_their_line(tmp_path: Path) -> None:
    text = "type: pipeline\njobs:\n  a:\n    component: azureml:Bad Name@@1\n"
    assert problems(tmp_path, {"pipeline.yml": text}) == [
        "pipeline.yml:4:16: at jobs.a.component: azureml:Bad Name@@1 is not a component reference azure-ai-ml reads. "
        "Write azureml:NAME:VERSION, azureml:NAME@latest or azureml://registries/REGISTRY/components/NAME/versions/VERSION.",
    ]
    ok = "type: pipeline\njobs:\n  a:\n    component: azureml:train:3\n  b:\n    component: azureml://registries/r1/components/c/labels/latest\n"
    p = load_pipeline(write(tmp_path, {"pipeline.yml": ok}))
    assert p.steps["a"].component.registered == ComponentRef("azureml:train:3", "train", version="3")
    assert p.steps["b"].component.registered == ComponentRef("azureml://registries/r1/components/c/labels/latest", "c",
                                                             label="latest", registry="r1")


def test_inline_steps_declare_their_own_outputs(corpus: Path) -> None:
    p = load_pipeline(corpus / JOBS / "basics/hello-pipeline-customize-output-file.yml")
    step = p.steps["hello_world"]
    # Declared by the step, typed as the pipeline output it is bound to (a uri_file at a datastore path).
    assert step.component.inline and step.component.outputs["output"].type is InputType.URI_FILE
    assert step.outputs == {"output": "output"}
    assert p.outputs["output"].mode == "rw_mount"
    assert step.component.command.endswith("> ${{outputs.output}}")


def test_literals_are_typed_and_coerced_as_azure_ai_ml_does(tmp_path: Path) -> None:
    text = """\
type: pipeline
inputs:
  limit: 1000
  rate: 0.5
  flag: true
  name: hello
jobs:
  a:
    component:
      type: command
      inputs:
        word: {type: string, default: true}
        enabled: {type: boolean, default: "true"}
        n: {type: number, default: "0.5"}
      command: echo ${{inputs.word}} ${{inputs.enabled}} ${{inputs.n}}
"""
    p = load_pipeline(write(tmp_path, {"pipeline.yml": text}))
    assert {n: (port.type, port.default) for n, port in p.parameters.items()} == {
        "limit": (InputType.INTEGER, 1000), "rate": (InputType.NUMBER, 0.5),
        "flag": (InputType.BOOLEAN, True), "name": (InputType.STRING, "hello"),
    }
    ports = p.steps["a"].component.inputs
    # azure-ai-ml's load_component gives 'True' (str() of the YAML boolean), True and 0.5.
    assert (ports["word"].default, ports["enabled"].default, ports["n"].default) == ("True", True, 0.5)


def test_sweep_steps_keep_their_trial_and_search_space(corpus: Path) -> None:
    p = load_pipeline(corpus / JOBS / "pipelines-with-components/pipeline_with_hyperparameter_sweep/pipeline.yml")
    step = p.steps["sweep_step"]
    assert step.type == "sweep" and step.component.name == "train_model"
    sweep = step.sweep
    assert sweep is not None
    assert (sweep.sampling_algorithm, sweep.primary_metric, sweep.goal) == ("random", "training_f1_score", "minimize")
    assert (sweep.max_total_trials, sweep.max_concurrent_trials, sweep.timeout_s) == (5, 3, 7200.0)
    assert {n: s.type for n, s in sweep.search_space.items()} == {"c_value": "uniform", "kernel": "choice", "coef0": "uniform"}
    assert sweep.search_space["kernel"].values == ("rbf", "linear", "poly")
    assert sweep.search_space["coef0"].params == {"min_value": 0.1, "max_value": 1.0}
    assert isinstance(step.inputs["data"], DataValue) and step.inputs["degree"] == 3
    assert p.steps["predict_step"].depends_on == ("sweep_step",)
    # The node's YAML, with the line of any part of it.
    assert step.doc is not None and step.doc.where((*step.key_path, "search_space", "kernel")).line == 36


def test_parallel_steps_keep_their_task(corpus: Path) -> None:
    p = load_pipeline(corpus / JOBS / "parallel/2a_iris_batch_prediction/pipeline.yml")
    step = p.steps["batch_prediction"]
    task = step.parallel
    assert step.type == "parallel" and step.component.type == "parallel" and task is not None
    assert (task.task_type, task.entry_script, task.input_data, task.mini_batch_size) == ("run_function", "iris_prediction.py", "input_data", "10kb")
    assert (task.max_concurrency_per_instance, task.error_threshold, task.mini_batch_error_threshold) == (2, 5, 5)
    assert (task.append_row_to, task.max_retries, task.retry_timeout_s) == ("job_output_file", 2, 60.0)
    assert task.program_arguments.startswith("--model ${{inputs.score_model}}")
    assert step.component.code is not None and step.component.code.name == "script"
    assert step.environment_variables == {"AZUREML_PARALLEL_EXAMPLE": "2a_yaml"}


def test_automl_and_spark_steps_are_kept_for_azure_and_refused_locally(corpus: Path) -> None:
    path = corpus / JOBS / "pipelines/automl/cli-automl-classification-task-bankmarketing-pipeline/pipeline.yml"
    p = load_pipeline(path)
    node = p.steps["classification_node"]
    assert (node.type, node.component.type) == ("automl", "automl")
    assert node.spec["task"] == "classification" and node.depends_on == ("preprocessing_node",)
    assert [str(x) for x in local_problems(p)] == [
        f"{path}:32:3: at jobs.classification_node: the step 'classification_node' is an automl step (automated ML): "
        "only the Azure ML service runs it; the local backend does not run it. "
        "Run this pipeline on the azureml backend (backend: {kind: azureml, ...} in retrain.yml).",
    ]
    spark = load_pipeline(corpus / JOBS / "pipelines-with-components/shakespear_sample_and_word_count_using_spark/pipeline.yml")
    assert {s.component.type for s in spark.steps.values()} == {"spark"}
    assert all("spark" in str(x) for x in local_problems(spark)) and len(local_problems(spark)) == 2


def test_pipeline_components_nest_and_flatten(corpus: Path) -> None:
    base = corpus / JOBS / "pipelines-with-components/pipeline_with_pipeline_component/nyc_taxi_data_regression_with_pipeline_component"
    p = load_pipeline(base / "pipeline.yml")
    data = p.steps["data_pipeline"].component
    assert data.type == "pipeline" and list(data.jobs) == ["prep_job", "transform_job"]
    assert base / "data_pipeline" / "prep_src" / "prep.yml" in p.files
    flat = local_steps(p)
    assert list(flat.steps)[:2] == ["data_pipeline.prep_job", "data_pipeline.transform_job"]
    train_inputs = {n: b for n, b in flat.steps.items() if n.startswith("train_pipeline.")}
    first = next(iter(train_inputs.values()))
    # The outer step's read of data_pipeline.outputs.train_data is the inner step that writes it.
    assert StepOutput("data_pipeline.transform_job", "transformed_data") in first.inputs.values()
    # An input a component does not declare (azure-ai-ml passes it on) is not given to the inner steps.
    assert "test_split_ratio" in p.steps["data_pipeline"].inputs


def test_sweep_and_parallel_mistakes_at_their_lines(tmp_path: Path) -> None:
    trial = "type: command\ninputs:\n  lr: {type: number}\noutputs:\n  model: {type: uri_folder}\ncommand: echo ${{inputs.lr}}\n"
    text = """\
type: pipeline
jobs:
  tune:
    type: sweep
    trial: ./trial.yml
    sampling_algorithm: grid
    search_space:
      lr: {type: uniform, min_value: 1, max_value: 0.1}
      depth: {type: gaussian}
      alpha: {type: choice}
    objective: {goal: up}
  score:
    type: parallel
    inputs:
      files: {type: uri_folder, path: ./data}
    input_data: ${{inputs.filez}}
    task: {type: run_function, code: ./src, entry_script: s.py}
"""
    (tmp_path / "src").mkdir()
    assert problems(tmp_path, {"pipeline.yml": text, "trial.yml": trial}) == [
        "pipeline.yml:8:18: at jobs.tune.search_space.lr.type: grid sampling takes choice only, not uniform. "
        "Use random sampling, or another distribution.",
        "pipeline.yml:8:38: at jobs.tune.search_space.lr.min_value: min_value 1 is above max_value 0.1. Swap them.",
        "pipeline.yml:9:7: at jobs.tune.search_space.depth: the trial 'trial' has no input 'depth' to tune. Its inputs: lr.",
        "pipeline.yml:9:14: at jobs.tune.search_space.depth: 'depth' needs a type: one of choice, randint, uniform, loguniform, "
        "quniform, qloguniform, normal, qnormal, lognormal, qlognormal. Write e.g. {type: uniform, min_value: 0.01, max_value: 0.1}.",
        "pipeline.yml:10:7: at jobs.tune.search_space.alpha: the trial 'trial' has no input 'alpha' to tune. Its inputs: lr.",
        "pipeline.yml:10:14: at jobs.tune.search_space.alpha: the choice distribution of 'alpha' needs values. "
        "Give the values to choose from, e.g. values: [0.01, 0.1].",
        "pipeline.yml:11:16: at jobs.tune.objective: the sweep has no objective.primary_metric. "
        "Name the metric the trials log, e.g. objective: {primary_metric: accuracy, goal: maximize}.",
        "pipeline.yml:11:23: at jobs.tune.objective.goal: the sweep's goal must be maximize or minimize, not 'up'.",
        "pipeline.yml:16:17: at jobs.score.input_data: input_data must name one of the step's inputs as ${{inputs.NAME}}, "
        "not '${{inputs.filez}}'. Its inputs: files.",
    ]


def test_bare_parameters_take_the_range_and_description_of_the_component_inputs_they_feed(tmp_path: Path) -> None:
    component = ("type: command\ninputs:\n  rate: {type: number, min: 0.001, max: 1, description: Step size.}\n"
                 "  mode: {type: string, enum: [fast, exact]}\ncommand: echo ${{inputs.rate}} ${{inputs.mode}}\n")
    text = ("type: pipeline\ninputs:\n  rate: 0.1\n  mode: fast\njobs:\n  a:\n    component: ./c.yml\n"
            "    inputs:\n      rate: ${{parent.inputs.rate}}\n      mode: ${{parent.inputs.mode}}\n")
    p = load_pipeline(write(tmp_path, {"pipeline.yml": text, "c.yml": component}))
    rate, mode = p.parameters["rate"], p.parameters["mode"]
    assert (rate.min, rate.max, rate.description, mode.enum) == (0.001, 1.0, "Step size.", ("fast", "exact"))
    bad = text.replace("rate: 0.1", "rate: 5")
    assert problems(tmp_path / "bad", {"pipeline.yml": bad, "c.yml": component}) == [
        "pipeline.yml:3:9: at inputs.rate: the value does not fit the component input it is bound to: "
        "'rate' must be at most 1; 5 is above. Change the value, or the component input's min, max or enum.",
    ]
