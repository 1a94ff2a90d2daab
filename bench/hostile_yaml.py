"""What hostile YAML costs `retrain validate`: time to the refusal and peak memory, per case.

Each case is a parameter file written into a copy of examples/income and validated in a fresh
process (`python -m retrain validate`), as a user or CI would. We print, per case, the exit code, the
median wall time over N repetitions and the peak RSS of the child (ru_maxrss), next to a valid file
for scale. Before the limits (issue 11) the alias bomb and the 20 MB file did not finish in 25 s.

    python bench/hostile_yaml.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

INCOME = Path(__file__).resolve().parent.parent / "examples" / "income"


def alias_bomb() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(8):
        prev, name = chr(97 + i), chr(98 + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def cases(valid: str) -> dict[str, Callable[[], str]]:
    return {
        "valid (examples/income)": lambda: valid,
        "alias bomb (9^9 values)": lambda: valid + alias_bomb(),
        "20 MB file": lambda: valid + "# " + "x" * (20 * 1024 * 1024) + "\n",
        "3.9 MB value": lambda: valid + "note: '" + "x" * 3_900_000 + "'\n",
        "60,000 keys": lambda: valid + "".join(f"k{i}: {i}\n" for i in range(60_000)),
        "nesting 10,000 deep": lambda: valid + "x: " + "[" * 10_000 + "]" * 10_000 + "\n",
        "integer of 5,000 digits": lambda: valid + "n: " + "7" * 5000 + "\n",
    }


# The child reports its own peak (VmHWM of its address space) as it exits. ru_maxrss from wait4 would
# not do: Linux carries the parent's high-water mark across fork and exec into the child's figure.
CHILD = """
import atexit, os, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(sys.argv[1], "w").write(line.split()[1])
atexit.register(peak)
from retrain.cli.main import main
sys.exit(main(["validate"]))
"""


def run(folder: Path) -> tuple[int, float, int]:
    """Exit code, wall seconds, peak RSS in MB of one `retrain validate` in a child process."""
    report = folder.parent / "peak.txt"
    start = time.perf_counter()
    code = subprocess.run([sys.executable, "-c", CHILD, str(report)], cwd=folder, check=False,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    elapsed = time.perf_counter() - start
    return code, elapsed, int(report.read_text()) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "income"
        shutil.copytree(INCOME, folder, ignore=shutil.ignore_patterns(".retrain"))
        valid = (folder / "retrain.yml").read_text()
        print(f"{'case':28} {'exit':>4} {'median s':>9} {'peak MB':>8}")
        for name, make in cases(valid).items():
            (folder / "retrain.yml").write_text(make())
            results = [run(folder) for _ in range(args.repeat)]
            codes = {r[0] for r in results}
            median = statistics.median(r[1] for r in results)
            peak = max(r[2] for r in results)
            print(f"{name:28} {'/'.join(map(str, sorted(codes))):>4} {median:9.3f} {peak:8d}")


if __name__ == "__main__":
    main()
