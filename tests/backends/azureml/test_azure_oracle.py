"""azure-ai-ml 1.35.2 as the oracle of what retrain sends to Azure ML.

For every pipeline job of the azureml-examples corpus (tests/fixtures/azureml-examples) and the income sample,
retrain's draft submit (a pipeline job of the YAML's own graph) goes through one fake Azure and azure-ai-ml's
``load_job`` + ``jobs.create_or_update`` through another. The two job bodies are compared field by field, with
every workspace asset id (component, environment, code, data) replaced by what it names: the registered
componentSpec, the environment's content, the uploaded files. What differs must be one of LISTED, each with its
reason in docs/azure.md ("Differences from azure-ai-ml"); anything else fails, naming the field and both values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from retrain.backends.base import SubmitRequest
from retrain.errors import RetrainError
from retrain.pipeline.load import load_pipeline
from tests.backends.azureml.workspace import make_backend
from tests.fakes.azure import FakeAzure
from tests.fakes.sdk_driver import (Difference, Listed, corpus, differences, income_for_sdk, resolve_refs, sdk_loads,
                                    sdk_publish_submit,
                                    sdk_submit, seed_computes, sent, stage, unexplained)

pytestmark = pytest.mark.filterwarnings("ignore")  # azure-ai-ml warns about its experimental classes as it imports

# The differences docs/azure.md lists, by name (the docs give the reason of each).
LISTED = (
    Listed("component identity", r"properties\.jobs\.[^.]+\.(trial\.)?componentId\.<component>\.(name|version)"),
    Listed("component identity", r"properties\.jobs\.[^.]+\.componentId\.<component>\.jobs\.[^.]+\.componentId\.<component>\.(name|version)"),
    Listed("retrain's run tags", r"properties\.tags\.retrain\.(key|pipeline|endpoint|draft)"),
    Listed("git properties", r"properties\.properties\.(mlflow\.source\.git\.(branch|commit|repoURL)|azureml\.git\.dirty)",
           lambda d: d.ours == "<absent>"),
    Listed("draft display name", r"properties\.displayName", lambda d: str(d.ours).endswith(" draft")),
)


@contextmanager
def fakes(tmp_path: Path, project: Path) -> Iterator[tuple[FakeAzure, FakeAzure]]:
    """Two fake workspaces, retrain's and azure-ai-ml's, with the computes ``project`` names; stopped after."""
    pair = []
    try:
        for side in ("ours", "sdk"):
            (tmp_path / side).mkdir()
            pair.append(FakeAzure(record_api_versions=True, datastore_credentials="Sas").start(tmp_path / side))
            seed_computes(pair[-1], project)
        yield pair[0], pair[1]
    finally:
        for fake in pair:
            fake.stop()


@contextmanager
def both(tmp_path: Path, path: Path) -> Iterator[tuple[FakeAzure, FakeAzure, dict | None, dict | None, str]]:
    """retrain's draft through one fake, azure-ai-ml's job create through another; both job bodies."""
    with fakes(tmp_path, path.parent) as (ours, sdk):
        pipeline = load_pipeline(path)
        make_backend(ours).submit_draft(pipeline, SubmitRequest(pipeline=pipeline.name, endpoint="oracle", version="default",
                                                                 parameters={}, experiment="oracle", key="rt-oracle", tags={}))
        theirs = sdk_submit(sdk, path)
        yield ours, sdk, sent(ours).job(), theirs.job(), theirs.error


def compare(tmp_path: Path, path: Path) -> tuple[list[Difference], dict[str, int]]:
    with both(tmp_path, path) as (ours, sdk, mine, theirs, error):
        assert not error, f"azure-ai-ml could not submit {path.name} through the fake: {error}"
        assert mine is not None and theirs is not None
        assert not ours.violations and not ours.unknown_operations, (ours.violations, ours.unknown_operations)
        return unexplained(differences(resolve_refs(ours, mine), resolve_refs(sdk, theirs)), LISTED)


def _refusal(path: Path) -> str:
    try:
        load_pipeline(path)
    except RetrainError as e:
        return str(e).splitlines()[0]
    return ""


# Examples retrain does not yet send as the SDK does, by path, with the reason (none now; an entry makes its case an
# expected failure that must raise RetrainError).
NOT_YET: dict[str, str] = {}
CASES = [pytest.param(p, marks=pytest.mark.xfail(reason=NOT_YET[str(p)], raises=RetrainError)) if str(p) in NOT_YET else p
         for p in corpus()]


# Where azure-ai-ml itself cannot submit the example through the fake: nothing to compare with.
SDK_CANNOT = {
    "pipelines-with-components/pipeline_job_with_flow_as_component/pipeline.yml": "a flow needs promptflow's flow.tools.json",
    "spark/attached-spark-pipeline-default-identity.yml": "compute <ATTACHED_SPARK_POOL_NAME> is a placeholder",
    "spark/attached-spark-pipeline-managed-identity.yml": "compute <ATTACHED_SPARK_POOL_NAME> is a placeholder",
    "spark/attached-spark-pipeline-user-identity.yml": "compute <ATTACHED_SPARK_POOL_NAME> is a placeholder",
}


@pytest.mark.parametrize("relative", CASES, ids=lambda p: str(p).removeprefix("cli/jobs/"))
def test_the_job_retrain_sends_is_the_one_azure_ai_ml_sends(relative: Path, tmp_path: Path) -> None:
    if reason := SDK_CANNOT.get(str(relative).removeprefix("cli/jobs/")):
        pytest.skip(f"azure-ai-ml cannot submit it through the fake: {reason}")
    path = stage(tmp_path / "corpus", relative)
    if verdict := sdk_loads(path):
        pytest.skip(f"azure-ai-ml's load_job refuses it too (a component file or a sub-pipeline): {verdict[:120]}")
    # retrain must load every pipeline azure-ai-ml loads (issue 18: the whole format, every step type)
    assert not (refused := _refusal(path)), f"retrain refuses what azure-ai-ml loads: {refused}"
    left, _ = compare(tmp_path, path)
    assert not left, "bodies differ where docs/azure.md lists no difference:\n" + "\n".join(map(str, left))


@pytest.mark.parametrize("relative", [c for c in CASES if str(getattr(c, "values", [c])[0]).removeprefix("cli/jobs/") not in SDK_CANNOT],
                         ids=lambda p: str(p).removeprefix("cli/jobs/"))
def test_every_step_type_translates_to_the_nodes_azure_ai_ml_sends(relative: Path, tmp_path: Path) -> None:
    """The nodes of ``jobs`` for every example azure-ai-ml loads, whatever the loader models yet: parallel, sweep,
    spark, automl, pipeline components, registered components (backend.jobs_of reads the YAML itself)."""
    path = stage(tmp_path / "corpus", relative)
    if verdict := sdk_loads(path):
        pytest.skip(f"azure-ai-ml's load_job refuses it too (a component file or a sub-pipeline): {verdict[:120]}")
    with fakes(tmp_path, path.parent) as (ours, sdk):
        mine = make_backend(ours).jobs_of(path)
        theirs = sdk_submit(sdk, path)
        assert not theirs.error and theirs.job() is not None, theirs.error
        assert not ours.violations and not ours.unknown_operations, (ours.violations, ours.unknown_operations)
        found = differences(resolve_refs(ours, {"properties": {"jobs": mine}}),
                            resolve_refs(sdk, {"properties": {"jobs": theirs.job()["properties"]["jobs"]}}))  # type: ignore[index]
        left, _ = unexplained(found, LISTED)
        assert not left, "nodes differ where docs/azure.md lists no difference:\n" + "\n".join(map(str, left))


def test_the_income_sample_sends_what_azure_ai_ml_sends(tmp_path: Path) -> None:
    """The sample as azure-ai-ml reads it (sdk_driver.income_for_sdk says what its copy changes)."""
    path = income_for_sdk(tmp_path)
    assert sdk_loads(path) == ""
    left, seen = compare(tmp_path, path)
    assert not left, "\n".join(map(str, left))
    assert seen["component identity"] == 12  # six steps, each its own component: name and version


def test_each_inline_step_runs_its_own_command(tmp_path: Path) -> None:
    """hello-pipeline-abc: steps b and c used to be registered with a's component (keyed by the pipeline file)."""
    path = stage(tmp_path / "corpus", Path("cli/jobs/basics/hello-pipeline-abc.yml"))
    with both(tmp_path, path) as (ours, sdk, mine, _, _):
        assert mine is not None
        specs = {name: ours.resources[node["componentId"]]["properties"]["componentSpec"] for name, node in mine["properties"]["jobs"].items()}
        assert {n: s["command"] for n, s in specs.items()} == {
            "a": "echo hello ${{inputs.hello_string}}", "b": 'echo "world" >> ${{outputs.world_output}}/world.txt',
            "c": "echo ${{inputs.world_input}}/world.txt"}
        # declared by type, as azure-ai-ml declares them; the bindings stay on the node
        assert specs["a"]["inputs"] == {"hello_string": {"type": "string"}}
        assert specs["b"]["outputs"] == {"world_output": {"type": "uri_folder"}}
        assert mine["properties"]["jobs"]["c"]["inputs"]["world_input"] == {
            "value": "${{parent.jobs.b.outputs.world_output}}", "job_input_type": "literal"}


def test_node_settings_local_data_and_environments_are_carried(tmp_path: Path) -> None:
    """cifar-10 (node compute, resources, distribution) and 4a (an inline {image: python} environment, a node's
    local data folder): carried and uploaded, not dropped or sent as a local path."""
    cifar = stage(tmp_path / "corpus", Path("cli/jobs/pipelines/cifar-10/pipeline.yml"))
    (tmp_path / "cifar").mkdir()
    with both(tmp_path / "cifar", cifar) as (ours, sdk, mine, _, _):
        assert mine is not None
        train = mine["properties"]["jobs"]["train_model"]
        assert train["computeId"].endswith("/computes/gpu-cluster")
        assert train["resources"] == {"instance_count": 2}
        assert train["distribution"] == {"process_count_per_instance": 1, "distribution_type": "PyTorch"}
    local = stage(tmp_path / "corpus", Path("cli/jobs/pipelines-with-components/basics/4a_local_data_input/pipeline.yml"))
    (tmp_path / "4a").mkdir()
    with both(tmp_path / "4a", local) as (ours, sdk, mine, _, _):
        assert mine is not None
        node = mine["properties"]["jobs"]["hello_python_world_job"]
        uri = node["inputs"]["sample_input_data"]["uri"]
        assert uri.startswith(ours.workspace_path + "/data/") and str(tmp_path) not in uri
        spec = ours.resources[node["componentId"]]["properties"]["componentSpec"]
        env = spec["environment"].removeprefix("azureml:")
        assert re.fullmatch(r".*/environments/CliV2AnonymousEnvironment/versions/[0-9a-f]{64}", env)
        assert ours.resources[env]["properties"] == {"image": "python", "isAnonymous": True, "isArchived": False}
        # the same name and version azure-ai-ml derives for the same environment
        assert any(k.endswith(env.split("/environments/")[1]) for k in sdk.resources)
        assert mine["properties"]["outputs"] == {"pipeline_sample_output_data": {"mode": "Upload", "jobOutputType": "uri_folder"}}


def test_the_comparison_names_a_difference_it_does_not_list() -> None:
    ours = {"properties": {"jobs": {"a": {"computeId": None, "componentId": {"<component>": {"name": "a", "command": "x"}}}}}}
    sdk = {"properties": {"jobs": {"a": {"computeId": "/c/gpu", "componentId": {"<component>": {"name": "azureml_anonymous", "command": "x"}}}}}}
    left, seen = unexplained(differences(ours, sdk), LISTED)
    assert [str(d) for d in left] == ["properties.jobs.a.computeId: retrain None / azure-ai-ml '/c/gpu'"]
    assert seen == {"component identity": 1}


def test_the_fake_checks_component_specs_nodes_and_settings_with_azure_ai_mls_schemas(tmp_path: Path) -> None:
    """What the REST description leaves open (componentSpec, jobs, settings) is checked: the specs retrain used to
    send for an inline step (its bindings as port declarations) are refused as the SDK's schema refuses them."""
    fake = FakeAzure().start(tmp_path)
    # the bodies below are wrong on purpose: the fake refuses and records each (teardown checks they all came)
    for problem in ("component schema: inputs.hello_string", "jobs.a.inputs.hello_string.value must be a string",
                    "settings.default_compute must be an ARM id", "settings.continue_on_step_failure must be a boolean"):
        fake.expect_violation(problem)
    try:
        backend = make_backend(fake)
        ws = backend.arm
        bad_spec = {"name": "a", "version": "1", "type": "command", "command": "echo ${{inputs.hello_string}}",
                    "environment": "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
                    "inputs": {"hello_string": "${{parent.inputs.hello_string_top_level_input}}"}}
        answer = ws.session.put(ws.url("/components/a/versions/1"), params={"api-version": "2025-12-01"}, auth=ws.auth,
                                json={"properties": {"componentSpec": bad_spec, "isAnonymous": False}})
        assert answer.status_code == 400 and "component schema" in answer.text and "inputs.hello_string" in answer.text
        good_spec = {**bad_spec, "inputs": {"hello_string": {"type": "string"}}}
        answer = ws.session.put(ws.url("/components/a/versions/1"), params={"api-version": "2025-12-01"}, auth=ws.auth,
                                json={"properties": {"componentSpec": good_spec, "isAnonymous": False}})
        assert answer.status_code == 201, answer.text
        job = {"properties": {"jobType": "Pipeline", "jobs": {"a": {
            "name": "a", "type": "command", "componentId": ws.workspace_id + "/components/a/versions/1",
            "inputs": {"hello_string": {"job_input_type": "literal", "value": 3}}}},
            "settings": {"default_compute": "cpu-cluster", "continue_on_step_failure": "false"}}}
        answer = ws.session.put(ws.url("/jobs/j1"), params={"api-version": "2025-12-01"}, auth=ws.auth, json=job,
                                headers={"x-azureml-token": ws.token("https://ml.azure.com/.default")})
        assert answer.status_code == 400
        for problem in ("jobs.a.inputs.hello_string.value must be a string", "settings.default_compute must be an ARM id",
                        "settings.continue_on_step_failure must be a boolean"):
            assert problem in answer.text
    finally:
        fake.stop()


# The publish + submit path: retrain's pipeline component version, deployment and pinned job next to azure-ai-ml
# registering the same pipeline as a component and running a job on it.
PUBLISHED = LISTED + (
    Listed("component identity", r"(componentSpec|componentId\.<component>)\.(name|version)"),
    Listed("component identity", r"componentSpec\.jobs\.[^.]+\.componentId\.<component>\.(name|version)"),
    Listed("component identity", r"componentId\.<component>\.jobs\.[^.]+\.componentId\.<component>\.(name|version)"),
    Listed("retrain's run tags", r"tags\.retrain\.(key|pipeline|endpoint|version)"),
    Listed("version tags", r"tags\.retrain\.(content_hash|version|commit)"),
    Listed("named pipeline component", r"isAnonymous", lambda d: d.ours is False and d.sdk is True),
    Listed("declared pipeline interface", r"(componentSpec|componentId\.<component>)\.(inputs|outputs)", lambda d: d.sdk == "<absent>"),
    Listed("git properties", r"properties\.(mlflow\.source\.git\.(branch|commit|repoURL)|azureml\.git\.dirty)", lambda d: d.ours == "<absent>"),
    Listed("version display name", r"displayName", lambda d: re.fullmatch(r".+ v\d+", str(d.ours)) is not None),
)


def test_publish_and_submit_send_what_azure_ai_ml_sends(tmp_path: Path) -> None:
    income = income_for_sdk(tmp_path)
    data = income.parent / "data" / "adult-us.csv"
    with fakes(tmp_path, income.parent) as (ours, sdk):
        backend = make_backend(ours)
        published = backend.publish(load_pipeline(income.parent.resolve() / "pipeline.yml"), endpoint="income-retrain",
                                    make_default=True, source_commit="c1")
        backend.submit(SubmitRequest(pipeline="income", endpoint="income-retrain", version=published.version.number,
                                     parameters={"training_data": str(data)}, experiment="income", key="rt-pub", tags={}))
        theirs = sdk_publish_submit(sdk, income, endpoint="income-retrain", data=data)
        assert not theirs.error, theirs.error
        mine = sent(ours)
        ws = ours.workspace_path
        ours_component = mine.writes["PUT /components/income_retrain/versions/1"]
        sdk_component = next(b for k, b in theirs.writes.items() if "/components/" in k and b["properties"]["componentSpec"]["type"] == "pipeline")
        found = differences(resolve_refs(ours, ours_component["properties"]), resolve_refs(sdk, sdk_component["properties"]))
        assert f"{ws}/jobs/rt-pub" in ours.resources
        found += differences(resolve_refs(ours, mine.job()["properties"]), resolve_refs(sdk, theirs.job()["properties"]))  # type: ignore[index]
        left, seen = unexplained(found, PUBLISHED)
        assert not left, "\n".join(map(str, left))
        assert {"component identity", "declared pipeline interface", "version display name"} <= set(seen)


@pytest.mark.parametrize("seconds", [1, 59, 60, 90, 3600, 3661, 7200, 86400, 90061, 2.5])
def test_limits_are_iso_durations_as_azure_ai_ml_writes_them(seconds: float) -> None:
    from datetime import timedelta

    import isodate  # azure-ai-ml's own dependency, what its to_iso_duration_format uses

    from retrain.backends.azureml.nodes import iso_duration

    assert iso_duration(seconds) == isodate.duration_isoformat(timedelta(seconds=seconds))


@pytest.mark.parametrize("image, conda", [("python", None), ("mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04", {
    "name": "env", "channels": ["conda-forge"], "dependencies": ["python=3.10", {"pip": ["mlflow", "pandas>=2"]}]})])
def test_inline_environments_get_the_name_and_version_azure_ai_ml_derives(image: str, conda: dict | None, tmp_path: Path) -> None:
    import yaml
    from azure.ai.ml.entities import Environment

    from retrain.backends.azureml.environments import anonymous_environment

    spec: dict = {"image": image}
    if conda is not None:
        (tmp_path / "conda.yaml").write_text(yaml.safe_dump(conda))
        spec["conda_file"] = "./conda.yaml"
    name, version, props = anonymous_environment(spec, tmp_path)
    theirs = Environment(image=image, conda_file=str(tmp_path / "conda.yaml") if conda else None, is_anonymous=True)
    assert (name, version) == (theirs.name, theirs.version)
    assert props.get("condaFile") == theirs._to_rest_object().properties.conda_file


def test_a_published_version_keeps_its_steps_own_settings_and_its_pipeline_settings(tmp_path: Path) -> None:
    """Published and run pinned: a GPU step keeps its compute, every inline step its own command, and the pipeline's
    continue_on_step_failure reaches the run (through the deployment that keeps it with the version)."""
    (tmp_path / "pipeline.yml").write_text(
        "type: pipeline\nsettings:\n  default_compute: azureml:cpu-cluster\n  continue_on_step_failure: true\n"
        "inputs:\n  epochs: 3\njobs:\n"
        "  prep:\n    command: echo prep\n    environment: {image: python}\n"
        "  train:\n    command: echo train ${{inputs.epochs}}\n    environment: {image: python}\n    compute: azureml:gpu-cluster\n"
        "    resources: {instance_count: 2}\n    inputs:\n      epochs: ${{parent.inputs.epochs}}\n")
    fake = FakeAzure().start(tmp_path)
    try:
        backend = make_backend(fake, compute=None)
        published = backend.publish(load_pipeline(tmp_path / "pipeline.yml"), endpoint="gpu", make_default=True, source_commit=None)
        run = backend.submit(SubmitRequest(pipeline="gpu", endpoint="gpu", version=published.version.number, parameters={},
                                           experiment="gpu", key="rt-gpu", tags={}))
        ws = fake.workspace_path
        spec = fake.resources[f"{ws}/components/gpu/versions/1"]["properties"]["componentSpec"]
        commands = {n: fake.resources[node["componentId"]]["properties"]["componentSpec"]["command"] for n, node in spec["jobs"].items()}
        assert commands == {"prep": "echo prep", "train": "echo train ${{inputs.epochs}}"}
        assert spec["jobs"]["train"]["computeId"] == f"{ws}/computes/gpu-cluster"
        assert spec["jobs"]["train"]["resources"] == {"instance_count": 2}
        assert "computeId" not in spec["jobs"]["prep"]
        settings = fake.resources[f"{ws}/jobs/{run.id}"]["properties"]["settings"]
        assert settings == {"_source": "REMOTE.WORKSPACE.JOB", "default_compute": f"{ws}/computes/cpu-cluster",
                            "continue_on_step_failure": True}
    finally:
        fake.stop()


def test_a_prompt_flow_component_is_refused_on_submit_with_what_to_do(tmp_path: Path) -> None:
    """azure-ai-ml cannot submit the flow example either (it needs promptflow's .promptflow/flow.tools.json); retrain
    says so before sending anything, rather than registering the flow as a command component the service refuses."""
    path = stage(tmp_path / "corpus", Path("cli/jobs/pipelines-with-components/pipeline_job_with_flow_as_component/pipeline.yml"))
    fake = FakeAzure().start(tmp_path)
    try:
        pipeline = load_pipeline(path)
        with pytest.raises(RetrainError) as refused:
            make_backend(fake).submit_draft(pipeline, SubmitRequest(pipeline=pipeline.name, endpoint="oracle", version="default",
                                                                   parameters={}, experiment="oracle", key="rt-flow", tags={}))
        assert refused.value.exit_code == 2
        message = str(refused.value)
        assert "./basic/flow.dag.yaml is a prompt flow" in message and "az ml component create" in message
        assert not [k for k in fake.resources if "/components/" in k or "/jobs/" in k]
    finally:
        fake.stop()
