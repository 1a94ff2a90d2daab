"""A generated pipeline of 10,000 steps validates and runs: a chain listed in reverse order (the worst case
for an ordering that recursed), its steps trivial. Prints how long validation and the run take, and the
time per step, so growth with the step count shows (compare --steps 1000).

    python bench/scale.py [--steps 10000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()
    n = args.steps
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        jobs = []
        for i in range(n):
            job = f"  s{i}:\n"
            if i:
                job += f"    inputs: {{x: '${{{{parent.jobs.s{i - 1}.outputs.o}}}}'}}\n"
            jobs.append(job + "    outputs: {o: }\n    command: touch ${{outputs.o}}/done\n")
        (folder / "pipeline.yml").write_text("type: pipeline\njobs:\n" + "".join(reversed(jobs)))
        (folder / "retrain.yml").write_text(
            f"backend: {{kind: local, store: {folder / 'store'}}}\npipelines:\n  big:\n    definition: pipeline.yml\n    endpoint: big-ep\n")
        retrain = [sys.executable, "-m", "retrain", "-f", str(folder / "retrain.yml")]
        t0 = time.perf_counter()
        subprocess.run([*retrain, "validate"], check=True, capture_output=True)
        validate = time.perf_counter() - t0
        subprocess.run([*retrain, "publish"], check=True, capture_output=True)
        t0 = time.perf_counter()
        done = subprocess.run([*retrain, "submit", "big"], capture_output=True, text=True)
        run = time.perf_counter() - t0
        last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()
    print(f"{n} steps in a chain, listed in reverse")
    print(f"  retrain validate  {validate:8.2f} s")
    print(f"  retrain submit    {run:8.2f} s  ({run / n * 1000:.1f} ms a step; exit {done.returncode}: {last})")


if __name__ == "__main__":
    main()
