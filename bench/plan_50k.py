"""How long planning takes for a push of many files: reading an Actions payload and planning a compare
answer of 50,000 changed files (and a webhook payload listing them in its commits), as medians.

    python bench/plan_50k.py [--files 50000] [--repeat 5]

Planning is meant to be linear: the figure for 50,000 files should stay well under a second, and double
with twice the files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrain.config.load import load_config  # noqa: E402
from retrain.flow.event import Event  # noqa: E402
from retrain.action.payload import event_from_payload  # noqa: E402
from retrain.flow.plan import make_plan  # noqa: E402

SAMPLE = ROOT / "examples" / "income" / "retrain.yml"
PAYLOAD = ROOT / "tests" / "fixtures" / "github" / "push-new-branch.json"


def median_s(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = load_config(SAMPLE)
    root = ROOT
    for n in (args.files // 2, args.files):
        files = tuple(f"examples/income/data/part-{i}.csv" if i % 2 else f"src/module_{i}.py" for i in range(n))
        event = Event("push", ref="refs/heads/main", default_branch="main", changed_files=files)
        plan_s = median_s(lambda: make_plan(config, event, repo_root=root), args.repeat)
        payload = json.loads(PAYLOAD.read_text())
        payload.update(ref="refs/heads/main", before="1" * 40, created=False)
        # 20 commits listing the files between them, with repeats (each file modified twice).
        chunk = max(1, n // 10)
        payload["commits"] = [dict(payload["commits"][0], modified=list(files[(i % 10) * chunk:(i % 10 + 1) * chunk]))
                              for i in range(19)]
        read_s = median_s(lambda: event_from_payload("push", payload), args.repeat)
        print(f"{n:>7} changed files: plan {plan_s * 1000:7.1f} ms, read webhook payload listing them {read_s * 1000:7.1f} ms (medians of {args.repeat})")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
