"""What the registry of record adds to a job: the requests and the time of its pull and its writes, against the
job's own time, on the income sample.

Each job is the action as a runner starts it (``entrypoint.py action``, a push event) on a fresh workspace (a
new copy of the sample, no store), against the fake GitHub on loopback, which keeps the registry between
jobs as the repository would. The first job publishes version 1 and runs it; every later job reads the
registry (versions, runs, the snapshot) and runs the default version on changed data, so its registry grows
by a run each time. The action logs its registry's requests and seconds; this prints their medians over
the later jobs, and the ratio to the job's wall time. Loopback answers in well under a millisecond, so the
time is retrain's own work (and the requests, times GitHub's latency, are what a real job adds: at ~0.1 s a
request, multiply).

    python bench/registry_cost.py [--jobs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PULLED = re.compile(r"registry: .*taken into .* \((\d+) requests, ([0-9.]+) s\)")
WROTE = re.compile(r"registry: (\d+) write\(s\) \((\d+) requests, ([0-9.]+) s\)")


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True, env=env).stdout.strip()


def job(origin: Path, tmp: Path, n: int, fake) -> dict[str, float]:  # type: ignore[no-untyped-def]
    workspace = tmp / f"job{n}" / "income"
    shutil.copytree(origin, workspace, ignore=shutil.ignore_patterns(".retrain"))
    if n:  # new data on each later push: the default version runs again on it
        with (workspace / "data" / "adult-us.csv").open("a") as f:
            f.write((workspace / "data" / "adult-us.csv").read_text().splitlines()[1 + n] + "\n")
        git(workspace, "commit", "-qam", f"data {n}")
    sha = git(workspace, "rev-parse", "HEAD")
    runner = tmp / f"job{n}" / "runner"
    runner.mkdir()
    payload = {"ref": "refs/heads/main", "before": "0" * 39 + "1", "after": sha, "created": False, "deleted": False,
               "forced": False, "commits": [], "head_commit": {"id": sha},
               "repository": {"full_name": fake.repository, "default_branch": "main"}}
    (runner / "event.json").write_text(json.dumps(payload))
    fake.compare_files = ["data/adult-us.csv"] if n else ["pipeline.yml"]
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(runner),
           "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(runner / "event.json"),
           "GITHUB_WORKSPACE": str(workspace), "GITHUB_REPOSITORY": fake.repository, "GITHUB_SHA": sha,
           "GITHUB_REF": "refs/heads/main", "GITHUB_API_URL": fake.url, "GITHUB_RUN_ID": str(100 + n),
           "GITHUB_OUTPUT": str(runner / "output"), "GITHUB_STEP_SUMMARY": str(runner / "summary"),
           "INPUT_GITHUB-TOKEN": fake.token, "INPUT_PARAMETER-FILE": "retrain.yml"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(ROOT / "entrypoint.py"), "action"], env=env, cwd=workspace,
                          capture_output=True, text=True, timeout=900, check=False)
    wall = time.monotonic() - started
    pulled, wrote = PULLED.search(proc.stdout), WROTE.search(proc.stdout)
    if proc.returncode != 0 or pulled is None or wrote is None:
        raise SystemExit(f"job {n} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return {"wall": wall, "requests": int(pulled.group(1)) + int(wrote.group(2)),
            "seconds": float(pulled.group(2)) + float(wrote.group(3)), "writes": int(wrote.group(1))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5, help="jobs after the first (default 5)")
    args = parser.parse_args()
    from tests.fakes.github_api import FakeGitHub

    fake = FakeGitHub().start()
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            origin = tmp / "origin" / "income"
            shutil.copytree(ROOT / "examples" / "income", origin, ignore=shutil.ignore_patterns(".retrain", "__pycache__"))
            git(origin, "init", "-q", "-b", "main")
            git(origin, "add", "-A")
            git(origin, "commit", "-qm", "income sample")
            first = job(origin, tmp, 0, fake)
            later = [job(origin, tmp, n, fake) for n in range(1, args.jobs + 1)]
    finally:
        fake.stop()
    wall = statistics.median(j["wall"] for j in later)
    spent = statistics.median(j["seconds"] for j in later)
    asked = statistics.median(j["requests"] for j in later)
    print(f"first job (publishes version 1): {first['wall']:.2f} s, registry {first['requests']} requests, "
          f"{first['seconds']:.3f} s in {first['writes']} write(s)")
    print(f"later jobs, median of {len(later)}: job {wall:.2f} s; registry {asked:.0f} requests "
          f"(pull + {statistics.median(j['writes'] for j in later):.0f} writes), {spent:.3f} s "
          f"= {spent / wall:.1%} of the job")
    print(f"at 0.1 s per request to GitHub, the registry would add about {asked * 0.1:.1f} s "
          f"({asked * 0.1 / wall:.0%} of this job)")


if __name__ == "__main__":
    main()
