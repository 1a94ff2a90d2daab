"""Peak memory of a submit that uploads a large repository file to Azure ML's default datastore.

The fake Azure (tests/fakes/azure.py, spec-validating, remembering block sizes only) runs in a child
process, so only retrain's own memory is measured. The file is sparse (no disk needed) and is hashed,
streamed as Put Block calls of 4 MiB and committed with Put Block List. Prints the peak RSS of this
process before and after the upload, the blocks sent and the throughput. The goal: under 100 MB for 1 GiB.

    python bench/azure_upload_memory.py [--size-mib 1024] [--credentials AccountKey|Sas|None]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def serve(conn: multiprocessing.connection.Connection, tmp: str, credentials: str) -> None:
    from tests.fakes.azure import FakeAzure

    fake = FakeAzure(keep_blob_bytes=False, datastore_credentials=credentials).start(Path(tmp))
    conn.send({"url": fake.url, "ca": str(fake.ca_file), "tenant": fake.tenant, "client_id": fake.client_id,
               "secret": fake.client_secret, "subscription": fake.subscription, "rg": fake.resource_group, "ws": fake.workspace})
    conn.recv()  # until the parent is done
    conn.send({"blocks": len(fake.block_sizes), "largest_block": max(fake.block_sizes, default=0),
               "sizes": dict(fake.blob_sizes), "violations": fake.violations, "unknown": fake.unknown_operations})
    fake.stop()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--credentials", default="AccountKey", choices=["AccountKey", "Sas", "None"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        parent, child = multiprocessing.Pipe()
        server = multiprocessing.get_context("spawn").Process(target=serve, args=(child, tmp, args.credentials), daemon=True)
        server.start()
        info = parent.recv()

        from retrain.backends.azureml.auth import AzureAuth, AzureCredentials, TokenProvider
        from retrain.backends.azureml import AzureMLBackend
        from retrain.backends.azureml.client import ArmClient
        from retrain.backends.base import SubmitRequest
        from retrain.http import make_session
        from retrain.pipeline.load import load_pipeline

        session = make_session(backoff_factor=0.01)
        session.verify, session.trust_env = info["ca"], False
        provider = TokenProvider(AzureCredentials(info["tenant"], info["client_id"], client_secret=info["secret"]), session,
                                 authority_host=info["url"])
        client = ArmClient(info["url"], info["subscription"], info["rg"], info["ws"], session,
                           AzureAuth(provider, "https://management.azure.com/.default"), sleep=lambda s: None)
        backend = AzureMLBackend(client, compute="cpu-cluster", storage_endpoint=f"{info['url']}/blob")
        backend.publish(load_pipeline(ROOT / "examples" / "income" / "pipeline.yml"), endpoint="income-retrain",
                        make_default=False, source_commit=None)

        big = Path(tmp) / "big.csv"
        with big.open("wb") as f:
            f.truncate(args.size_mib * 1024 * 1024)  # sparse: reads as zeros, takes no disk
        before = peak_mb()
        started = time.perf_counter()
        backend.submit(SubmitRequest(pipeline="income", endpoint="income-retrain", version="default",
                                     parameters={"training_data": str(big)}, experiment="bench", key="rt-bench-upload"))
        elapsed = time.perf_counter() - started
        after = peak_mb()
        parent.send("done")
        result = parent.recv()
        server.join(10)

    uploaded = next((size for path, size in result["sizes"].items() if path.endswith("/big.csv")), 0)
    print(f"file: {args.size_mib} MiB, credentials: {args.credentials}")
    print(f"uploaded: {uploaded / 2**20:.0f} MiB in {result['blocks']} blocks (largest {result['largest_block'] / 2**20:.0f} MiB), "
          f"{uploaded / 2**20 / elapsed:.0f} MiB/s including hashing")
    print(f"peak RSS before the upload: {before:.1f} MB; after: {after:.1f} MB (goal: under 100 MB)")
    print(f"requests outside the description: {len(result['unknown'])}; rule violations: {len(result['violations'])}")
    if uploaded != args.size_mib * 2**20 or after >= 100 or result["unknown"] or result["violations"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
