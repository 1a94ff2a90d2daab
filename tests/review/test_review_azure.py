"""Review on Azure ML v2, against the fake Azure: a gated publish moves the batch endpoint's default deployment
only after its run passes; a draft is a pipeline job of the pull request's graph with no pipeline-component
version and no deployment. (The fake's runs report auc 0.91 from their last step.)"""

from __future__ import annotations

from pathlib import Path

from retrain.flow.execute import Conclusion
from tests.fakes.azure import FakeAzure
from tests.backends.azureml.workspace import project
from tests.review.azure_gate import default_deployment, run


def test_a_gate_moves_the_default_deployment_only_when_the_run_passes(azure: FakeAzure, tmp_path: Path) -> None:
    project(tmp_path)
    [first], _ = run(azure, tmp_path, ">= 0.95", publish=True)
    assert first.published.version.number == 1 and default_deployment(azure) == "v1"  # the first version is the default

    project(tmp_path, code="print('v2')\n")
    [weaker], text = run(azure, tmp_path, ">= 0.95", publish=True)
    assert weaker.conclusion is Conclusion.FAILURE
    assert weaker.message.startswith("The gate failed: auc is 0.91, needs >= 0.95.")
    assert "Version 2 was published but not promoted: the default stays at version 1." in weaker.message
    assert weaker.run.version == 2  # the gate ran the new version, not the default
    assert default_deployment(azure) == "v1"

    project(tmp_path, code="print('v3')\n")
    [better], text = run(azure, tmp_path, ">= 0.9", publish=True)
    assert better.conclusion is Conclusion.SUCCESS and better.promoted
    assert default_deployment(azure) == "v3"
    assert "baseline: none (the default version 1 has no completed run with the parameter file's values yet)" in text
    assert azure.violations == []


def test_a_draft_is_a_pipeline_job_with_no_version_and_no_deployment(azure: FakeAzure, tmp_path: Path) -> None:
    project(tmp_path)
    run(azure, tmp_path, ">= 0.9", publish=True)
    [baseline], _ = run(azure, tmp_path, ">= 0.9", publish=False)
    assert baseline.run.version == 1

    project(tmp_path, code="print('a change under review')\n")
    [draft], text = run(azure, tmp_path, ">= 0.95", publish=False, draft=True)
    assert draft.conclusion is Conclusion.SUCCESS  # a draft's gate is a preview: it never fails the run
    job = azure.resources[f"{azure.workspace_path}/jobs/{draft.run.id}"]["properties"]
    assert "componentId" not in job and list(job["jobs"]) == ["train"]
    assert job["tags"]["retrain.draft"] == "true"
    assert job["jobs"]["train"]["componentId"] in azure.resources  # the changed command component, content-addressed
    ws = azure.workspace_path
    assert [k for k in azure.resources if k.startswith(f"{ws}/components/income_retrain/versions/")] == [
        f"{ws}/components/income_retrain/versions/1"]
    assert [k for k in azure.resources if k.startswith(f"{ws}/batchEndpoints/income-retrain/deployments/")] == [
        f"{ws}/batchEndpoints/income-retrain/deployments/v1"]
    assert draft.review.comparison.baseline_run == baseline.run.id
    assert draft.review.comparison.differences()["auc"] == {"value": 0.91, "baseline": 0.91, "difference": 0.0,
                                                           "goal": "max", "verdict": "same"}  # listed runs carry no metrics: read
    assert "DRAFT: the pull request's pipeline" in text
    assert "gate (preview: a draft is never promoted): FAILED" in text
    assert default_deployment(azure) == "v1"
    assert azure.violations == []


def test_a_review_lists_the_runs_once(azure: FakeAzure, tmp_path: Path) -> None:
    # The baseline and the history are chosen from the same listing of completed runs: one request, not one each
    # (Azure ML pages through every pipeline job of the workspace for it).
    project(tmp_path)
    run(azure, tmp_path, ">= 0.9", publish=True)
    [earlier], _ = run(azure, tmp_path, ">= 0.9", publish=False)
    before = azure.count("GET", r"/jobs$")
    [submitted], _ = run(azure, tmp_path, ">= 0.9", publish=False, commit="beef")  # another commit: a new run
    assert submitted.conclusion is Conclusion.SUCCESS
    assert submitted.review.comparison.baseline_run == earlier.run.id  # chosen from the listing
    assert [r.id for r in submitted.review.trend] == [earlier.run.id, submitted.run.id]  # and the trend from it too
    assert azure.count("GET", r"/jobs$") - before == 1
    assert azure.violations == []
