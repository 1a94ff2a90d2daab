"""How much of the runner's cancel budget the action uses.

GitHub's runner cancels a job with SIGINT, sends SIGTERM 7.5 s later and kills 2.5 s after that
(actions/runner ProcessInvoker.cs). This runs the action as the runner does (entrypoint.py in a process,
the local backend, the fake GitHub on loopback) on a step that ignores SIGTERM, so that the local backend's
cancel needs its whole kill grace (3 s), sends SIGINT once the run is going, and prints the medians of:
the time until the check run is completed (`cancelled`), and the time until the action exits (130), each
also as a share of the 7.5 s before the SIGTERM.

    python bench/cancel_budget.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIGTERM_AFTER_S = 7.5


def one_round(tmp: Path) -> tuple[float, float, int]:
    from tests.conftest import RETRAIN, TINY, commit_all, write
    from tests.fakes.github_api import FakeGitHub
    from tests.github_runner import ENTRYPOINT, Runner

    project = tmp / "repo"
    write(project, {  # the tests' tiny project, its training step one that ignores SIGTERM and sleeps
        **TINY, "retrain.yml": RETRAIN, "data/other.csv": "x,y\n9,9\n",
        "pipelines/tiny/src/train.py": "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)\n",
    })
    commit_all(project)
    (tmp / "runner").mkdir()
    github = FakeGitHub().start()
    try:
        runner = Runner(project, github, tmp / "runner")
        proc = subprocess.Popen([sys.executable, str(ENTRYPOINT), "action"], env=runner.env("push", runner.push(["data/other.csv"])),
                                cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not any(c.get("details_url") for c in github.runs_named("retrain / tiny")):
            time.sleep(0.02)
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        completed = None
        while proc.poll() is None:
            if completed is None and github.runs_named("retrain / tiny")[0]["status"] == "completed":
                completed = time.monotonic() - sent
            if time.monotonic() - sent > SIGTERM_AFTER_S:
                proc.send_signal(signal.SIGTERM)
            time.sleep(0.005)
        exited = time.monotonic() - sent
        return (completed if completed is not None else exited), exited, proc.returncode
    finally:
        github.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    completed, exited, codes = [], [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            c, e, code = one_round(Path(tmp))
        completed.append(c)
        exited.append(e)
        codes.append(code)
    mc, me = statistics.median(completed), statistics.median(exited)
    print(f"rounds: {args.rounds}, exit codes: {sorted(set(codes))}")
    print(f"SIGINT -> check run completed: median {mc:.3f} s ({mc / SIGTERM_AFTER_S:.1%} of the 7.5 s before SIGTERM)")
    print(f"SIGINT -> action exited:       median {me:.3f} s ({me / SIGTERM_AFTER_S:.1%} of the 7.5 s before SIGTERM)")


if __name__ == "__main__":
    main()
