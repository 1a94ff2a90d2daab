"""How fast retrain starts: `retrain validate` and `retrain plan` on the income sample, against a bare
`python -c pass`, as medians over repeated runs. Also which heavy modules the local path imports.

    python bench/startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "income" / "retrain.yml"


def timed(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    base = timed([py, "-c", "pass"], args.repeat)
    validate = timed([py, "-m", "retrain", "-f", str(SAMPLE), "validate"], args.repeat)
    plan = timed([py, "-m", "retrain", "-f", str(SAMPLE), "plan", "--event", "push", "--changed", str(SAMPLE.parent / "data" / "adult-nonus.csv")], args.repeat)
    heavy = subprocess.run(
        [py, "-c", "import sys, retrain.cli, retrain.commands, retrain.backends.factory;"
         "print(sorted(m for m in ('msal','jinja2','requests','cryptography','sklearn','pandas') if m in sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    print(f"median of {args.repeat} runs")
    print(f"  python -c pass          {base * 1000:7.1f} ms")
    print(f"  retrain validate        {validate * 1000:7.1f} ms  ({validate / base:.1f}x a bare interpreter)")
    print(f"  retrain plan            {plan * 1000:7.1f} ms  ({plan / base:.1f}x)")
    print(f"  heavy modules imported by the CLI on the local path: {heavy}")


if __name__ == "__main__":
    main()
