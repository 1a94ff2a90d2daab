"""What the local backend adds over running the same steps by hand.

A pipeline of ten trivial steps in a chain (each `python -c pass`, so the step itself costs what a
real process start costs). We time, as medians over N repetitions:
  - by hand: the ten commands run one after another with subprocess;
  - retrain: submit through the local backend and follow the run to its end (forced: no reuse);
  - reused: the same submit again without --force, every step reused.
and print the overhead per step: (retrain - by hand) / 10.

    python bench/local_overhead.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from retrain.backends.base import SubmitRequest
from retrain.backends.local import LocalBackend
from retrain.follow import follow
from retrain.pipeline.load import load_pipeline

STEPS = 10


def pipeline_file(folder: Path) -> Path:
    lines = ["type: pipeline", "jobs:"]
    for i in range(STEPS):
        lines.append(f"  s{i}:")
        if i:
            lines.append(f"    inputs: {{x: '${{{{parent.jobs.s{i - 1}.outputs.o}}}}'}}")
        lines.append("    outputs: {o: }")
        lines.append(f"    command: {sys.executable} -c pass" + (" ${{inputs.x}}" if i else "") + " ${{outputs.o}}")
    (folder / "pipeline.yml").write_text("\n".join(lines) + "\n")
    return folder / "pipeline.yml"


def by_hand() -> float:
    t0 = time.perf_counter()
    for _ in range(STEPS):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def through_backend(backend: LocalBackend, force: bool) -> float:
    t0 = time.perf_counter()
    run = backend.submit(SubmitRequest(pipeline="bench", endpoint="bench-ep", version="default", parameters={},
                                       experiment="bench", key=str(uuid.uuid4()), force=force))
    done = follow(backend, run, timeout_s=300, on_change=lambda r: None, on_log=lambda s, t: None)
    elapsed = time.perf_counter() - t0
    assert done.run.status.value == "completed", done.run.message
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        backend = LocalBackend(folder / "store")
        backend.publish(load_pipeline(pipeline_file(folder)), endpoint="bench-ep", make_default=False, source_commit=None)
        through_backend(backend, force=True)  # warm the file cache once
        hand = statistics.median(by_hand() for _ in range(args.repeat))
        ours = statistics.median(through_backend(backend, force=True) for _ in range(args.repeat))
        reused = statistics.median(through_backend(backend, force=False) for _ in range(args.repeat))
    print(f"{STEPS} trivial steps, median of {args.repeat} runs")
    print(f"  by hand (subprocess, one after another)  {hand * 1000:8.1f} ms")
    print(f"  retrain local backend, no reuse           {ours * 1000:8.1f} ms  ({ours / hand:.2f}x by hand)")
    print(f"  overhead per step                         {(ours - hand) / STEPS * 1000:8.1f} ms")
    print(f"  fully reused re-run                       {reused * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
