"""Memory of following a run whose step writes 200 MB of output: the peak RSS of `retrain submit` (which
streams the step's log while it runs) and of `retrain status RUN --logs` (which prints all of it), for a
step that succeeds, one that fails (its failure message quotes the end of the log), and one whose 200 MB
are a single line with no newline. The goal: under 100 MB each. Peak RSS is the process's own
(``ru_maxrss``), printed by a small wrapper around retrain's entry point; stdout goes to /dev/null.

    python bench/log_memory.py [--mb 200]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

GOAL_MB = 100
WRAPPER = (
    "import resource, sys\n"
    "from retrain.cli.main import main\n"
    "code = main(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
    "sys.exit(code)\n"
)

STEPS = {
    "lines, succeeds": "import sys\nfor _ in range({n}): sys.stdout.write('x' * 99 + '\\n')\n",
    "lines, fails": "import sys\nfor _ in range({n}): sys.stdout.write('x' * 99 + '\\n')\nsys.exit(1)\n",
    "one line, no newline": "import sys\nfor _ in range({n}): sys.stdout.write('x' * 100)\n",
}


def peak_mb(folder: Path, *args: str) -> tuple[float, int]:
    out = folder / "rss.txt"
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(out), "-f", str(folder / "retrain.yml"), *args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if not out.exists():
        raise SystemExit(f"retrain {' '.join(args)} did not finish: {done.stderr}")
    return int(out.read_text()) / 1024, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    n = args.mb * 1024 * 1024 // 100
    print(f"peak RSS with a step writing {args.mb} MB of output (goal < {GOAL_MB} MB)")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, script) in enumerate(STEPS.items()):
            folder = Path(tmp) / f"p{i}"
            (folder / "src").mkdir(parents=True)
            (folder / "src" / "loud.py").write_text(script.format(n=n))
            (folder / "pipeline.yml").write_text("type: pipeline\njobs:\n  loud:\n    code: src\n    command: python loud.py\n")
            (folder / "retrain.yml").write_text(
                f"backend: {{kind: local, store: {folder / 'store'}}}\n"
                "pipelines:\n  loud:\n    definition: pipeline.yml\n    endpoint: loud-ep\n")
            subprocess.run([sys.executable, "-m", "retrain", "-f", str(folder / "retrain.yml"), "publish"], check=True,
                           capture_output=True)
            submit, code = peak_mb(folder, "submit", "loud", "--force")
            run_id = subprocess.run([sys.executable, "-m", "retrain", "-f", str(folder / "retrain.yml"), "runs", "--json"],
                                    check=True, capture_output=True, text=True).stdout.split('"id": "')[1].split('"')[0]
            status, _ = peak_mb(folder, "status", run_id, "--logs")
            for what, mb in (("retrain submit", submit), ("retrain status --logs", status)):
                verdict = "met" if mb < GOAL_MB else "NOT met"
                print(f"  {label:<22} {what:<22} {mb:6.1f} MB  ({verdict}; submit exit {code})")


if __name__ == "__main__":
    main()
