"""What the local backend adds over running the same steps by hand, each figure a ratio against its peer
measured in the same run (runs alternate, so a busy machine slows both sides alike). Medians.

  1. a one-step pipeline `sleep 2` against `sleep 2`, through the backend (submit, follow to the end, in
     one process);
  2. ten trivial steps in a chain (`touch` of a file in the step's output) against a bash script running
     the same ten commands, and a step's share of the worker's span against a command of the script;
  3. a chain of 1,000 such steps against a chain of 300 (linear scheduling: the bash script's own ratio is
     printed beside it);
  4. a fully reused re-run of the ten steps against a no-op `dvc repro` of the same ten stages, where dvc is
     installed (skipped with a note where it is not; dvc is not a dependency of retrain).

The same figures through the command line as a user runs it (`retrain submit`, its start-up included) are
bench/verb_costs.py's; this script keeps what only an in-process backend shows: the backend's own share,
scaling with the number of steps, and reuse.

    python bench/local_overhead.py [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from retrain.backends.base import SubmitRequest
from retrain.backends.local import LocalBackend
from retrain.flow.follow import follow
from retrain.pipeline.load import load_pipeline

GOALS = {"sleep": 1.05, "ten": 5.0, "scale": 3.5, "dvc": 0.1}


def chain(folder: Path, n: int, command: str) -> Path:
    """A pipeline of ``n`` steps, each reading the previous step's output."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["type: pipeline", "jobs:"]
    for i in range(n):
        lines.append(f"  s{i}:")
        if i:
            lines.append(f"    inputs: {{x: '${{{{parent.jobs.s{i - 1}.outputs.o}}}}'}}")
        lines.append("    outputs: {o: }")
        lines.append(f"    command: {command}")
    (folder / "pipeline.yml").write_text("\n".join(lines) + "\n")
    (folder / "retrain.yml").write_text(
        f"backend: {{kind: local, store: {folder / 'store'}}}\npipelines:\n  bench:\n    definition: pipeline.yml\n    endpoint: bench-ep\n")
    return folder / "pipeline.yml"


def bash_script(folder: Path, n: int) -> Path:
    """The same commands by hand: one bash script, each step's `touch` into its own folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"o{i}").mkdir(exist_ok=True)
    script = folder / "steps.sh"
    script.write_text("set -e\n" + "".join(f"touch {folder}/o{i}/done\n" for i in range(n)))
    return script


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def alternate(repeat: int, **sides: Callable[[], object]) -> dict[str, float]:
    """Median seconds of each side, the sides run in turn ``repeat`` times."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeat):
        for name, fn in sides.items():
            times[name].append(timed(fn))
    return {name: statistics.median(t) for name, t in times.items()}


class Through:
    """Submit and follow through one backend, in this process."""

    def __init__(self, folder: Path, pipeline: Path) -> None:
        self.backend = LocalBackend(folder / "store")
        self.worker_s: list[float] = []
        self.total_s: list[float] = []
        self.backend.publish(load_pipeline(pipeline), endpoint="bench-ep", make_default=False, source_commit=None)

    def run(self, force: bool = True) -> None:
        t0 = time.perf_counter()
        run = self.backend.submit(SubmitRequest(pipeline="bench", endpoint="bench-ep", version="default", parameters={},
                                                experiment="bench", key=str(uuid.uuid4()), force=force))
        done = follow(self.backend, run, timeout_s=3600, on_change=lambda r: None, on_log=lambda s, t: None)
        if done.run.status.value != "completed":
            raise SystemExit(f"bench run {run.id} ended {done.run.status.value}: {done.run.message}")
        # Where the time went: the worker's own span (from the run record) and the rest (submit: loading the
        # version's snapshot and recording the run; following: noticing the end).
        self.worker_s.append((done.run.ended - done.run.started).total_seconds())  # type: ignore[operator]
        self.total_s.append(time.perf_counter() - t0)


def line(label: str, ours: float, peer: float, peer_label: str, goal: float | None) -> None:
    ratio = ours / peer
    verdict = "" if goal is None else ("  (goal < %.2fx: %s)" % (goal, "met" if ratio < goal else "NOT met"))
    print(f"  {label:<44} {ours * 1000:9.1f} ms  vs {peer_label} {peer * 1000:8.1f} ms  = {ratio:5.2f}x{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="skip the 1,000-step chain")
    args = parser.parse_args()
    r = args.repeat
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"medians of {r} alternating runs")

        one = root / "sleep"
        sleep_backend = Through(one, chain(one, 1, "sleep 2"))
        m = alternate(r, hand=lambda: subprocess.run(["sleep", "2"], check=True), backend=sleep_backend.run)
        line("1 step `sleep 2`, backend in-process", m["backend"], m["hand"], "sleep 2", GOALS["sleep"])

        ten = root / "ten"
        ten_backend = Through(ten, chain(ten, 10, "touch ${{outputs.o}}/done"))
        script = bash_script(root / "ten-hand", 10)
        ten_backend.run()  # warm the file cache once
        m = alternate(r, hand=lambda: subprocess.run(["bash", str(script)], check=True), backend=ten_backend.run)
        line("10 trivial steps, backend in-process", m["backend"], m["hand"], "bash   ", GOALS["ten"])
        # A step's own cost: the worker's span (its first record to its last) over the ten steps, beside the
        # script's cost per command.
        span = statistics.median(ten_backend.worker_s)
        line("  a step in the worker's span (span / 10)", span / 10, m["hand"] / 10, "a command", None)

        if not args.quick:
            big, small = root / "c1000", root / "c300"
            big_backend = Through(big, chain(big, 1000, "touch ${{outputs.o}}/done"))
            small_backend = Through(small, chain(small, 300, "touch ${{outputs.o}}/done"))
            big_script, small_script = bash_script(root / "h1000", 1000), bash_script(root / "h300", 300)
            m = alternate(r, big=big_backend.run, small=small_backend.run,
                          hand_big=lambda: subprocess.run(["bash", str(big_script)], check=True),
                          hand_small=lambda: subprocess.run(["bash", str(small_script)], check=True))
            line("1,000 steps against 300, backend", m["big"], m["small"], "300    ", GOALS["scale"])
            line("1,000 commands against 300, bash script", m["hand_big"], m["hand_small"], "300    ", None)
            big_w, small_w = statistics.median(big_backend.worker_s), statistics.median(small_backend.worker_s)
            line("  of which the worker's own span", big_w, small_w, "300    ", None)

        reused = alternate(r, backend=lambda: ten_backend.run(force=False))["backend"]
        dvc = shutil.which("dvc")
        if dvc is None:
            print(f"  {'reused re-run of 10 steps':<44} {reused * 1000:9.1f} ms  (no dvc here to compare a no-op "
                  "`dvc repro` with: pip install dvc to measure it; retrain does not depend on it)")
        else:
            stages = root / "dvc"
            stages.mkdir()
            subprocess.run(["git", "init", "-q"], cwd=stages, check=True)
            subprocess.run([dvc, "init", "-q"], cwd=stages, check=True)
            yaml = ["stages:"]
            for i in range(10):
                yaml += [f"  s{i}:", f"    cmd: mkdir -p o{i} && touch o{i}/done", f"    outs: [o{i}]"]
                if i:
                    yaml.append(f"    deps: [o{i - 1}]")
            (stages / "dvc.yaml").write_text("\n".join(yaml) + "\n")
            subprocess.run([dvc, "repro", "-q"], cwd=stages, check=True, capture_output=True)
            m = alternate(r, backend=lambda: ten_backend.run(force=False),
                          dvc=lambda: subprocess.run([dvc, "repro", "-q"], cwd=stages, check=True, capture_output=True))
            line("reused re-run of 10 steps", m["backend"], m["dvc"], "dvc    ", GOALS["dvc"])


if __name__ == "__main__":
    main()
