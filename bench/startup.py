"""How fast retrain starts: `retrain --help`, `retrain validate` and `retrain plan` on the income sample,
each against its peer measured in the same run (the commands alternate), as medians. `--help` is
compared with `python -c "import azure.ai.ml"` (the Azure ML SDK retrain does not need) where that is
installed, else with a bare `python -c pass`. Also which heavy modules the local path imports.

    python bench/startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "income" / "retrain.yml"


def alternate(repeat: int, **commands: list[str]) -> dict[str, float]:
    """Median seconds of each command, the commands run in turn ``repeat`` times."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    retrain = [py, "-m", "retrain"]
    commands = {
        "base": [py, "-c", "pass"],
        "help": [*retrain, "--help"],
        "validate": [*retrain, "-f", str(SAMPLE), "validate"],
        "plan": [*retrain, "-f", str(SAMPLE), "plan", "--event", "push", "--changed", str(SAMPLE.parent / "data" / "adult-nonus.csv")],
    }
    azure = importlib.util.find_spec("azure") is not None and importlib.util.find_spec("azure.ai.ml") is not None
    if azure:
        commands["azure"] = [py, "-c", "import azure.ai.ml"]
    m = alternate(args.repeat, **commands)
    base = m["base"]
    heavy = subprocess.run(
        [py, "-c", "import sys, retrain.cli.main, retrain.cli.work, retrain.cli.runs, retrain.config.backend;"
         "print(sorted(m for m in ('msal','jinja2','requests','cryptography','sklearn','pandas') if m in sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    print(f"medians of {args.repeat} alternating runs")
    print(f"  python -c pass          {base * 1000:7.1f} ms")
    if azure:
        ratio = m["help"] / m["azure"]
        print(f"  import azure.ai.ml      {m['azure'] * 1000:7.1f} ms")
        print(f"  retrain --help          {m['help'] * 1000:7.1f} ms  ({ratio:.3f}x importing azure.ai.ml; goal < 0.05x: "
              f"{'met' if ratio < 0.05 else 'NOT met'})")
    else:
        ratio = m["help"] / base
        print(f"  retrain --help          {m['help'] * 1000:7.1f} ms  ({ratio:.2f}x a bare interpreter; goal < 4x: "
              f"{'met' if ratio < 4 else 'NOT met'}; azure.ai.ml is not installed here to compare with)")
    print(f"  retrain validate        {m['validate'] * 1000:7.1f} ms  ({m['validate'] / base:.1f}x a bare interpreter)")
    print(f"  retrain plan            {m['plan'] * 1000:7.1f} ms  ({m['plan'] / base:.1f}x)")
    print(f"  heavy modules imported by the CLI on the local path: {heavy}")

if __name__ == "__main__":
    main()
