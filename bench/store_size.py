"""How the local store grows with forced reruns of the income sample on unchanged data.

Copies examples/income to a temporary folder, publishes it, submits one forced run and measures the store
(on disk, each file once however many links it has, as `du` counts), then submits N-1 more forced runs and
measures again. Prints both sizes and their ratio (the goal: under 2x), then what `retrain gc` with
`retention: {keep: 5}` brings the store down to.

    python bench/store_size.py [--runs 50]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def retrain(folder: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "retrain", *args], cwd=folder, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"retrain {' '.join(args)} exited {out.returncode}:\n{out.stdout}{out.stderr}")
    return out.stdout


def store_bytes(folder: Path) -> int:
    # The same figure `retrain status` prints, read through the backend.
    from retrain.backends.local import LocalBackend

    backend = LocalBackend(folder / ".retrain", environ={})
    try:
        return backend.usage().bytes
    finally:
        backend.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "income"
        shutil.copytree(ROOT / "examples" / "income", folder, ignore=shutil.ignore_patterns(".retrain", "__pycache__"))
        data = sum(p.stat().st_size for p in (folder / "data").glob("*.csv"))
        retrain(folder, "publish")
        t0 = time.perf_counter()
        retrain(folder, "submit", "--force")
        one = store_bytes(folder)
        for _ in range(args.runs - 1):
            retrain(folder, "submit", "--force")
        elapsed = time.perf_counter() - t0
        many = store_bytes(folder)
        print(f"input data: {data / 1e6:.1f} MB")
        print(f"store after 1 forced run: {one / 1e6:.2f} MB")
        print(f"store after {args.runs} forced runs: {many / 1e6:.2f} MB "
              f"({(many - one) / max(1, args.runs - 1) / 1e3:.0f} KB per further run; {elapsed / args.runs:.1f} s per run)")
        print(f"ratio {args.runs} runs / 1 run: {many / one:.2f}x (goal: under 2x)")
        with (folder / "retrain.yml").open("a") as f:
            f.write("retention: {keep: 5}\n")
        retrain(folder, "gc")
        after = store_bytes(folder)
        print(f"after retrain gc with retention keep 5: {after / 1e6:.2f} MB ({after / one:.2f}x one run)")


if __name__ == "__main__":
    main()
