"""What each verb costs through the command line, as a user runs it, each against its peer, side by side in one
run: the sides alternate round after round (a busy machine slows both alike), and each figure is the median of
``--runs`` rounds, printed as a ratio beside its target.

  validate   `retrain validate` on the income sample (examples/income)   vs  `python -c pass`           < 4x
  floor      importing only the modules validate cannot do without         vs  `python -c pass`     (for reference)
             (dataclasses, argparse, pathlib, ...): what no change inside
             retrain can remove
  --help     `retrain --help`                                             vs  `python -c "import azure.ai.ml"`  < 0.05x
             (the Azure ML SDK retrain does not need; the row is skipped, saying so, where it is not installed)
  10 steps   `retrain submit` of a pipeline of 10 trivial steps, followed  vs  a bash script running the same
             to its end: a chain, each step reading the one before's         10 commands, one after another   < 5x
             output and running `touch` of a file in its own output (an
             external program, so both sides start 10 processes)
  floor      python importing what a submit cannot do without (the above    vs  the bash script       (for reference)
             and sqlite3, subprocess, threading, ...), then the 10 `touch`
             processes one after another: no store, no report
  sleep 2    `retrain submit` of a one-step pipeline `sleep 2`, followed   vs  `sleep 2`                    < 1.05x
             to its end
  floor      the same imports, then `sleep 2` as a process                  vs  `sleep 2`              (for reference)

Every retrain side is the `retrain` console script of this interpreter's environment (what `pip install`
puts on a user's PATH: the figures include its start-up as a user pays it), or `python -m retrain` where the
environment has no such script (said in the output). The `retrain` it runs is this checkout's (PYTHONPATH),
its bytecode compiled first as `pip install` does; the submits run in temporary git repositories with
`backend: local`, each published once before the rounds, `--force` so no step is reused. retrain's cache of
file digests is a fresh one in the temporary folder (XDG_CACHE_HOME), as a user's holds their own files:
a test suite run on the same account fills the account's with thousands of temporary files, which every
command then reads (the size of that file is printed beside the figures).

    python bench/verb_costs.py [--runs 9]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "income"
STEPS = 10
# The modules `retrain validate` needs before any of its own code: dataclasses (and the inspect it loads), argparse,
# pathlib, enum, typing, re, hashlib, json. Not PyYAML: a validate whose parameter file, pipeline and workflows are
# remembered (every round after the first) does not parse them (docs/local-backend.md, "What it costs").
FLOOR = "import dataclasses, argparse, pathlib, enum, typing, re, hashlib, json"
# What a submit cannot do without: the same standard modules, and the store's and the steps' ones.
# What no change inside retrain can remove from a run's rows, before the steps' own processes (started here one
# after another, as the bash script starts them).
RUN_FLOOR = "import dataclasses, argparse, pathlib, enum, typing, re, hashlib, json, sqlite3, subprocess, threading, signal, select"


@dataclass(frozen=True)
class Side:
    label: str
    argv: list[str]
    cwd: Path | None = None


@dataclass(frozen=True)
class Row:
    name: str
    ours: Side
    peer: Side
    target: float


def retrain_command() -> tuple[list[str], str]:
    """The retrain a user of this environment runs, and how it was found."""
    script = Path(sys.executable).parent / "retrain"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], f"the console script {script}"
    return [sys.executable, "-m", "retrain"], f"{sys.executable} -m retrain (this environment has no retrain script)"


def git_repo(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for cmd in (["init", "-q"], ["config", "user.email", "bench@example.com"], ["config", "user.name", "bench"],
                ["add", "-A"], ["commit", "-q", "-m", "bench", "--allow-empty"]):
        subprocess.run(["git", *cmd], cwd=folder, check=True, capture_output=True)
    return folder


def chain_project(folder: Path) -> Path:
    """A parameter file and a pipeline of STEPS chained steps, each `touch` of a file in its own output."""
    folder.mkdir(parents=True)
    lines = ["type: pipeline", "jobs:"]
    for i in range(STEPS):
        lines += [f"  s{i}:", "    type: command"]
        if i:
            lines.append(f"    inputs: {{x: '${{{{parent.jobs.s{i - 1}.outputs.o}}}}'}}")
        lines += ["    outputs: {o: }", "    command: touch ${{outputs.o}}/done"]
    (folder / "pipeline.yml").write_text("\n".join(lines) + "\n")
    (folder / "retrain.yml").write_text("backend: local\npipelines:\n  ten:\n    definition: pipeline.yml\n    endpoint: ten\n")
    return git_repo(folder)


def sleep_project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "pipeline.yml").write_text("type: pipeline\njobs:\n  nap:\n    type: command\n    command: sleep 2\n")
    (folder / "retrain.yml").write_text("backend: local\npipelines:\n  nap:\n    definition: pipeline.yml\n    endpoint: nap\n")
    return git_repo(folder)


def bash_script(folder: Path) -> Path:
    """The same ten commands by hand: one script, each `touch` into its own folder."""
    folder.mkdir(parents=True)
    for i in range(STEPS):
        (folder / f"o{i}").mkdir()
    script = folder / "steps.sh"
    script.write_text("set -e\n" + "".join(f"touch {folder}/o{i}/done\n" for i in range(STEPS)))
    return script


def timed(side: Side, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(side.argv, cwd=side.cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{side.label} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="rounds; each figure is the median of this many (default 9)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    compileall.compile_dir(ROOT / "retrain", quiet=1)  # as pip does at install: no row pays for compiling
    retrain, how = retrain_command()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env["XDG_CACHE_HOME"] = str(root / "cache")
        sample = root / "income"
        shutil.copytree(SAMPLE, sample, ignore=shutil.ignore_patterns(".retrain", "__pycache__", "mlruns"))
        git_repo(sample)
        ten, nap = chain_project(root / "ten"), sleep_project(root / "nap")
        script = bash_script(root / "by-hand")
        for project in (ten, nap):
            timed(Side("retrain publish", [*retrain, "publish"], project), env)
        rows = [
            Row("validate", Side("retrain validate", [*retrain, "validate"], sample), Side("python -c pass", [py, "-c", "pass"]), 4.0),
            # Not a target: what validate cannot do without, before any of retrain's own code runs (the interpreter,
            # and the standard modules it reads files with), against the same yardstick.
            Row("floor", Side("import what validate needs", [py, "-c", FLOOR]), Side("python -c pass", [py, "-c", "pass"]), 0.0),
        ]
        if importlib.util.find_spec("azure") is not None and importlib.util.find_spec("azure.ai.ml") is not None:
            rows.append(Row("--help", Side("retrain --help", [*retrain, "--help"]),
                            Side("import azure.ai.ml", [py, "-c", "import azure.ai.ml"]), 0.05))
        else:
            print("--help row skipped: azure-ai-ml is not installed in this environment (pip install azure-ai-ml to measure it)")
        bash = Side("bash steps.sh", ["bash", str(script)])
        sleep = Side("sleep 2", ["sleep", "2"])
        touches = "; ".join(f"subprocess.run(['touch', {str(root / 'by-hand' / f'o{i}' / 'done')!r}])" for i in range(STEPS))
        rows += [
            Row(f"{STEPS} steps", Side("retrain submit ten", [*retrain, "submit", "ten", "--force"], ten), bash, 5.0),
            # Not targets: the interpreter and the modules a run needs, then the steps' processes started one
            # after another (no store, no reports): the least any Python tool pays for the same rows.
            Row("floor", Side("python: imports, 10 touch", [py, "-c", f"{RUN_FLOOR}; {touches}"]), bash, 0.0),
            Row("sleep 2", Side("retrain submit nap", [*retrain, "submit", "nap", "--force"], nap), sleep, 1.05),
            Row("floor", Side("python: imports, sleep 2", [py, "-c", f"{RUN_FLOOR}; subprocess.run(['sleep', '2'])"]), sleep, 0.0),
        ]
        for row in rows:  # one round unmeasured: files cached, the digest cache written
            timed(row.ours, env)
            timed(row.peer, env)
        sides = list({side.label: side for row in rows for side in (row.ours, row.peer)}.values())  # each once a round
        times: dict[str, list[float]] = {side.label: [] for side in sides}
        for _ in range(args.runs):
            for side in sides:
                times[side.label].append(timed(side, env))
    print(f"retrain: {how}; medians of {args.runs} interleaved rounds")
    account_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "retrain" / "digests.json"
    if account_cache.is_file():  # the single shared file of earlier versions (now one small file per pipeline folder)
        print(f"(not used here: this account's old digest cache {account_cache}, {account_cache.stat().st_size / 1e6:.1f} MB)")
    print(f"  {'row':<10} {'retrain':>10}  {'peer':<20} {'':>10}  {'ratio':>7}  target")
    for row in rows:
        ours, peer = statistics.median(times[row.ours.label]), statistics.median(times[row.peer.label])
        ratio = ours / peer
        goal = f"< {row.target:g}x " + ("met" if ratio < row.target else "NOT met") if row.target else "(for reference)"
        print(f"  {row.name:<10} {ours * 1000:7.1f} ms  {row.peer.label:<20} {peer * 1000:7.1f} ms  {ratio:6.2f}x  {goal}")


if __name__ == "__main__":
    main()
