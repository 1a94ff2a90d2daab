"""Azure's own pipeline YAML (Azure/azureml-examples, cli/jobs; tests/fixtures/README.md) as a new user brings it.

For every pipeline job of the corpus that azure-ai-ml 1.35.2's ``load_job`` loads (the oracle, offline):
- on the azureml backend, ``retrain validate`` and ``retrain plan`` accept it (exit 0), with no network:
  the backend's host is an address nothing listens on;
- on the local backend, ``retrain validate`` accepts it, unless it has automl or spark steps, prompt
  flows or registered components, which are refused (exit 2) at the step's file:line, saying why.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml

from retrain.cli.main import main
from tests.azureml_examples import CORPUS, corpus_copy, pipeline_jobs
from tests.paths import ROOT

JOBS = pipeline_jobs()
AZURE = ("backend:\n  kind: azureml\n  subscription_id: 00000000-0000-0000-0000-000000000000\n  resource_group: rg\n"
         "  workspace: ws\n  arm_endpoint: https://127.0.0.1:9\n")
ENV = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = corpus_copy(tmp_path_factory.mktemp("corpus"))
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.fixture(scope="module")
def sdk_loads(corpus: Path) -> dict[str, str]:
    """What azure-ai-ml's load_job says of each pipeline job: "ok" or its error."""
    sdk = pytest.importorskip("azure.ai.ml")
    logging.getLogger("azure").setLevel(logging.CRITICAL)
    verdicts = {}
    for rel in JOBS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # marshmallow's deprecation notes, which the suite turns into errors
                sdk.load_job(corpus / rel)
            verdicts[rel] = "ok"
        except Exception as e:  # the oracle's refusal, whatever its type
            verdicts[rel] = f"{type(e).__name__}: {e}"
    return verdicts


def retrain(corpus: Path, backend: str, rel: str, verb: str) -> tuple[int, str]:
    config = corpus / f"retrain-{verb}.yml"
    config.write_text(backend + f"pipelines:\n  p:\n    definition: {rel}\n    endpoint: corpus-endpoint\n")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["-f", str(config), verb], ENV)
    return code, err.getvalue() + out.getvalue()


def step_kinds(path: Path) -> set[str]:
    """The node types and component references of a pipeline file and the pipeline components it uses."""
    data = yaml.safe_load(path.read_text())
    kinds: set[str] = set()
    for node in (data.get("jobs") or {}).values():
        kinds.add(str(node.get("type", "command")))
        ref = node.get("component")
        if isinstance(ref, str) and ref.startswith("azureml:"):
            kinds.add("registered")
        elif isinstance(ref, str) and re.search(r"flow\.dag\.yaml$|run\.yml$", ref):
            kinds.add("flow")
        elif isinstance(ref, str):
            target = path.parent / ref.removeprefix("file:")
            comp = yaml.safe_load(target.read_text()) if target.is_file() else {}
            if isinstance(comp, dict) and comp.get("type") in ("spark", "pipeline"):
                kinds |= {comp["type"]} if comp["type"] == "spark" else step_kinds(target)
    return kinds


def test_the_corpus_is_what_the_readme_says() -> None:
    assert len(JOBS) == 66
    assert (CORPUS / "cli/jobs/pipelines-with-components/basics/1a_e2e_local_components/pipeline.yml").is_file()


@pytest.mark.parametrize("rel", JOBS)
def test_azure_ml_pipelines_validate_and_plan_on_both_backends(corpus: Path, sdk_loads: dict[str, str], rel: str) -> None:
    if sdk_loads[rel] != "ok":
        pytest.skip(f"azure-ai-ml refuses it: {sdk_loads[rel][:200]}")
    for verb in ("validate", "plan"):
        code, said = retrain(corpus, AZURE, rel, verb)
        assert code == 0, f"azureml backend, retrain {verb}:\n{said}"
        assert "Traceback" not in said

    code, said = retrain(corpus, "backend: local\n", rel, "validate")
    kinds = step_kinds(corpus / rel)
    refused = kinds & {"automl", "spark", "registered", "flow"}
    if not refused:
        assert code == 0, f"local backend:\n{said}"
        return
    assert code == 2, said
    assert "Traceback" not in said
    name = Path(rel).name
    # Each refusal names the file and line, the step, and the reason.
    lines = [line for line in said.splitlines() if re.search(rf"{re.escape(name)}:\d+:\d+: at jobs\.\w+", line)]
    assert lines, said
    reasons = {"automl": "automl step", "spark": "spark", "registered": "registered component", "flow": "prompt flow"}
    assert any(reasons[k] in said for k in refused), said
    for line in lines:
        step = re.search(r"at jobs\.(\w+)", line).group(1)  # type: ignore[union-attr]
        assert f"the step '{step}'" in line and "the local backend" in line, line


def test_azure_ai_ml_loads_every_pipeline_of_the_corpus(sdk_loads: dict[str, str]) -> None:
    """With the stand-ins for the sources not copied, the oracle takes all 66 (none is skipped above)."""
    assert {rel: verdict[:300] for rel, verdict in sdk_loads.items() if verdict != "ok"} == {}


def test_the_income_sample_loads_with_azure_ai_ml_as_it_is() -> None:
    """Item 7 of issue 18: `az ml job create -f examples/income/pipeline.yml` takes the sample unchanged."""
    sdk = pytest.importorskip("azure.ai.ml")
    sample = ROOT / "examples" / "income" / "pipeline.yml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        job = sdk.load_job(sample)
    assert sorted(job.inputs) == ["label_column", "learning_rate", "max_iter", "max_leaf_nodes", "seed", "test_fraction",
                                  "training_data"]
    assert sorted(job.jobs) == ["clean_missing_data", "evaluate_model", "import_data", "score_model", "split_data", "train_model"]
