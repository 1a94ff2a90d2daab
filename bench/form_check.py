"""What keeping the dispatch form in step costs: `retrain validate` with and without a workflow to check,
and the check itself in process, on a new repository made with `retrain init` from the income sample.
Medians over repeated runs.

    python bench/form_check.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INCOME = ROOT / "examples" / "income"


def timed(cmd: list[str], cwd: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        shutil.copy(INCOME / "pipeline.yml", repo / "pipeline.yml")
        shutil.copytree(INCOME / "components", repo / "components")
        shutil.copytree(INCOME / "src", repo / "src")
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        init = timed([py, "-m", "retrain", "init", "--force"], repo, args.repeat)
        with_form = timed([py, "-m", "retrain", "validate"], repo, args.repeat)

        sys.path.insert(0, str(ROOT))
        from retrain.config.load import load_config
        from retrain.github.dispatch_form.drift import check_workflows

        config = load_config(repo / "retrain.yml")
        pipelines = {n: p.pipeline for n, p in config.pipelines.items() if p.pipeline is not None}
        inner = []
        for _ in range(args.repeat * 10):
            t0 = time.perf_counter()
            check_workflows(config.path, pipelines, repo)
            inner.append(time.perf_counter() - t0)

        shutil.rmtree(repo / ".github")
        without = timed([py, "-m", "retrain", "validate"], repo, args.repeat)
    print(f"retrain init (income sample, 7 parameters): {init * 1000:.0f} ms")
    print(f"retrain validate with the workflow:          {with_form * 1000:.0f} ms")
    print(f"retrain validate without a workflow:         {without * 1000:.0f} ms")
    print(f"the form check alone (in process):           {statistics.median(inner) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
