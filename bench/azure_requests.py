"""Azure requests and wall time of publish + submit for the income sample: retrain next to azure-ai-ml 1.35.2 doing
the same work, both through the fake Azure (tests/fakes/azure.py), each round on a fresh fake (an empty workspace).

The same work, for azure-ai-ml: register the pipeline as a pipeline component (its step components, code and data
uploaded), create the batch endpoint, deploy the component version on it, make it the default, submit a pipeline
job on that component version. For retrain: ``publish`` (the same, content-addressed) and ``submit`` on the pinned
version. Also shown: a pipeline job straight from the YAML (retrain's draft submit, the SDK's ``az ml job create``).
Requests are counted at the fake: Resource Manager, long-running operation polls and blob storage; Azure AD token
requests are shown apart (both cache tokens). Prints medians over the rounds.

    python bench/azure_requests.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrain.backends.base import SubmitRequest  # noqa: E402
from retrain.pipeline.load import load_pipeline  # noqa: E402
from tests.fakes.azure import FakeAzure  # noqa: E402
from tests.backends.azureml.workspace import make_backend  # noqa: E402
from tests.fakes.sdk_driver import _Credential, income_for_sdk, sdk_environment, seed_computes  # noqa: E402
from tests.fakes.sdk_driver import sdk_publish_submit as sdk_publish  # noqa: E402

INCOME = ROOT / "examples" / "income" / "pipeline.yml"
DATA = ROOT / "examples" / "income" / "data" / "adult-us.csv"  # the run's data: a repository file, uploaded by both


def counted(fake: FakeAzure) -> dict[str, Any]:
    kinds: Counter[str] = Counter()
    for method, path, _h, _b in fake.requests:
        if f"/{fake.tenant}/" in path:
            kinds["token"] += 1
        elif path.startswith("/blob/"):
            kinds["blob"] += 1
        elif path.startswith("/operations/"):
            kinds["lro poll"] += 1
        else:
            kinds[f"arm {method}"] += 1
    return {"azure": sum(n for k, n in kinds.items() if k != "token"), **kinds}


def fresh(tmp: Path, name: str) -> FakeAzure:
    (tmp / name).mkdir()
    fake = FakeAzure(record_api_versions=True, datastore_credentials="Sas", polls_to_finish=2).start(tmp / name)
    seed_computes(fake, INCOME.parent)
    return fake


def retrain_publish_submit(tmp: Path) -> tuple[float, dict[str, Any]]:
    fake = fresh(tmp, "retrain")
    try:
        began = time.perf_counter()
        backend = make_backend(fake)
        pipeline = load_pipeline(INCOME)
        published = backend.publish(pipeline, endpoint="income-retrain", make_default=True, source_commit="c1")
        backend.submit(SubmitRequest(pipeline="income", endpoint="income-retrain", version=published.version.number,
                                     parameters={"training_data": str(DATA)}, experiment="income", key="rt-bench", tags={}))
        return time.perf_counter() - began, counted(fake)
    finally:
        fake.stop()


def retrain_draft(tmp: Path) -> tuple[float, dict[str, Any]]:
    fake = fresh(tmp, "draft")
    try:
        began = time.perf_counter()
        pipeline = load_pipeline(INCOME)
        make_backend(fake).submit_draft(pipeline, SubmitRequest(pipeline="income", endpoint="income-retrain", version="default",
                                                                parameters={}, experiment="income", key="rt-draft", tags={}))
        return time.perf_counter() - began, counted(fake)
    finally:
        fake.stop()


def sdk_publish_submit(tmp: Path) -> tuple[float, dict[str, Any]]:
    fake = fresh(tmp, "sdk")
    try:
        done = sdk_publish(fake, income_for_sdk(tmp / "sdk-copy"), endpoint="income-retrain", data=DATA)
        if done.error:
            raise SystemExit(f"azure-ai-ml failed: {done.error}")
        return done.seconds, counted(fake)
    finally:
        fake.stop()


def sdk_job(tmp: Path) -> tuple[float, dict[str, Any]]:
    fake = fresh(tmp, "sdk-job")
    path = income_for_sdk(tmp / "sdk-job-copy")
    try:
        with sdk_environment(fake):
            from azure.ai.ml import MLClient, load_job

            began = time.perf_counter()
            client = MLClient(_Credential(fake), fake.subscription, fake.resource_group, fake.workspace)
            client.jobs.create_or_update(load_job(path), experiment_name="income")
            return time.perf_counter() - began, counted(fake)
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runs: dict[str, list[tuple[float, dict[str, Any]]]] = {k: [] for k in ("retrain", "sdk", "retrain draft", "sdk job")}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            runs["retrain"].append(retrain_publish_submit(Path(tmp)))
            runs["sdk"].append(sdk_publish_submit(Path(tmp)))
            runs["retrain draft"].append(retrain_draft(Path(tmp)))
            runs["sdk job"].append(sdk_job(Path(tmp)))
    print(f"income sample, {args.rounds} rounds, medians (each round on an empty fake workspace)")
    print(f"{'':34} {'requests':>9} {'wall s':>8}  by kind")
    medians = {}
    for label, title in (("retrain", "retrain publish + submit"), ("sdk", "azure-ai-ml, the same work"),
                         ("retrain draft", "retrain draft (job from the YAML)"), ("sdk job", "azure-ai-ml job create")):
        requests = statistics.median(r[1]["azure"] for r in runs[label])
        wall = statistics.median(r[0] for r in runs[label])
        medians[label] = requests
        kinds = runs[label][len(runs[label]) // 2][1]
        detail = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()) if k != "azure")
        print(f"{title:34} {requests:9.0f} {wall:8.2f}  {detail}")
    print(f"requests retrain / azure-ai-ml: publish + submit {medians['retrain'] / medians['sdk']:.2f}, "
          f"job from the YAML {medians['retrain draft'] / medians['sdk job']:.2f}")


if __name__ == "__main__":
    main()
