"""Shared fixtures: small real projects on disk (a Git repository with a pipeline and a parameter file)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported where used: both modules import this one
    from tests.fakes.azure import FakeAzure
    from tests.fakes.github_api import FakeGitHub
    from tests.github_runner import Runner

PIPELINE = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
display_name: tiny
experiment_name: tiny
inputs:
  training_data:
    type: uri_file
    path: ./data/train.csv
  learning_rate: 0.1
  epochs:
    type: integer
    default: 3
    min: 1
    max: 100
  flavour:
    type: string
    default: plain
    enum: [plain, fancy]
jobs:
  prep:
    type: command
    component: ./components/prep.yml
    inputs:
      data: ${{parent.inputs.training_data}}
  train:
    type: command
    component: ./components/train.yml
    inputs:
      prepared: ${{parent.jobs.prep.outputs.prepared}}
      learning_rate: ${{parent.inputs.learning_rate}}
      epochs: ${{parent.inputs.epochs}}
      flavour: ${{parent.inputs.flavour}}
"""

PREP = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: prep
inputs:
  data:
    type: uri_file
outputs:
  prepared:
    type: uri_folder
code: ../src
environment: azureml:AzureML-sklearn-1.5@latest
command: >-
  python prep.py --data ${{inputs.data}} --out ${{outputs.prepared}}
"""

TRAIN = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: train
inputs:
  prepared:
    type: uri_folder
  learning_rate:
    type: number
  epochs:
    type: integer
  flavour:
    type: string
    optional: true
outputs:
  model:
    type: uri_folder
code: ../src
environment: azureml:AzureML-sklearn-1.5@latest
command: >-
  python train.py --prepared ${{inputs.prepared}} --lr ${{inputs.learning_rate}}
  --epochs ${{inputs.epochs}} $[[--flavour ${{inputs.flavour}}]] --model ${{outputs.model}}
"""

PREP_PY = """\
import argparse, pathlib, shutil
p = argparse.ArgumentParser()
p.add_argument("--data"); p.add_argument("--out")
a = p.parse_args()
out = pathlib.Path(a.out); out.mkdir(parents=True, exist_ok=True)
rows = pathlib.Path(a.data).read_text().splitlines()
(out / "rows.txt").write_text(str(len(rows) - 1))
print("prepared", len(rows) - 1, "rows")
"""

TRAIN_PY = """\
import argparse, json, pathlib
p = argparse.ArgumentParser()
p.add_argument("--prepared"); p.add_argument("--lr", type=float); p.add_argument("--epochs", type=int)
p.add_argument("--flavour", default="none"); p.add_argument("--model")
a = p.parse_args()
rows = int((pathlib.Path(a.prepared) / "rows.txt").read_text())
out = pathlib.Path(a.model); out.mkdir(parents=True, exist_ok=True)
score = round(min(0.99, 0.5 + a.lr * a.epochs / 10 + rows / 1000), 4)
(out / "metrics.json").write_text(json.dumps({"score": score, "rows": rows}))
print("trained", a.flavour, "score", score)
"""

RETRAIN = """\
backend: local
pipelines:
  tiny:
    definition: pipelines/tiny/pipeline.yml
    endpoint: tiny-retrain
    version: default
    experiment: tiny
    parameters:
      training_data: data/train.csv
      learning_rate: 0.2
    data: ["data/**/*.csv"]
    publish_on: [merge]
    submit_on: [merge, data, dispatch]
    timeout: 10m
"""


# The tiny two-step pipeline (stdlib only), its data and the repository's data file: every test project's files but
# the parameter file.
TINY = {
    "pipelines/tiny/pipeline.yml": PIPELINE,
    "pipelines/tiny/components/prep.yml": PREP,
    "pipelines/tiny/components/train.yml": TRAIN,
    "pipelines/tiny/src/prep.py": PREP_PY,
    "pipelines/tiny/src/train.py": TRAIN_PY,
    "pipelines/tiny/data/train.csv": "x,y\n1,2\n3,4\n",
    "data/train.csv": "x,y\n1,2\n3,4\n5,6\n",
}


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if text.startswith("\n") else text)


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True, env=env).stdout.strip()


def commit_all(root: Path) -> None:
    """Make ``root`` a Git repository on main whose first commit holds every file in it."""
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, exited but not yet reaped, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A Git repository holding the tiny two-step pipeline, its data and retrain.yml; cwd is its root."""
    root = tmp_path / "repo"
    write(root, {**TINY, "retrain.yml": RETRAIN, "data/other.csv": "x,y\n9,9\n", "README.md": "not pipeline content\n"})
    commit_all(root)
    with contextlib.chdir(root):
        yield root


def slow_step(project: Path) -> None:
    """The tiny pipeline's train step made to run for a minute (for timeouts and cancels)."""
    train = project / "pipelines" / "tiny" / "src" / "train.py"
    train.write_text("import time\nprint('training', flush=True)\ntime.sleep(60)\n")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """The fake GitHub API on loopback (tests/fakes/github_api.py), stopped at the end."""
    from tests.fakes.github_api import FakeGitHub

    fake = FakeGitHub().start()
    yield fake
    fake.stop()


@pytest.fixture
def runner(project: Path, github: FakeGitHub, tmp_path: Path) -> Runner:
    """GitHub's runner for the action on ``project`` (tests/github_runner.py), its files in ``tmp_path / "runner"``."""
    from tests.github_runner import Runner

    (tmp_path / "runner").mkdir()
    return Runner(project, github, tmp_path / "runner")


@pytest.fixture
def yaml_cache(tmp_path: Path) -> Iterator[Path]:
    """What files' bytes make remembered in a folder of ``tmp_path`` for this test (retrain/yamlfile.py), as the
    command line remembers it in the user's cache folder; in-process tests otherwise remember nothing."""
    from retrain import yamlfile

    folder = tmp_path / "cache" / "yaml"
    yamlfile.use_cache(folder)
    yield folder
    yamlfile.use_cache(None)


@pytest.fixture
def azure(tmp_path: Path) -> Iterator[FakeAzure]:
    """The fake Azure (AD, Resource Manager, blob storage, MLflow, over TLS on loopback; tests/fakes/azure.py)."""
    from tests.fakes.azure import fake_azure

    with fake_azure(tmp_path) as fake:
        yield fake


@pytest.fixture(autouse=True)
def fakes_saw_no_violations() -> Iterator[None]:
    """Fail the test at teardown when a fake it started (Azure, GitHub) recorded a request the service would refuse,
    unless the test said it expected it (``fake.expect_violation("...")``)."""
    from tests.fakes import ledger

    ledger.take()  # fakes left by an earlier test's failure are not this test's
    yield
    reports = [r for f in ledger.take() if not getattr(f, "violations_checked", False) and (r := f.violation_report())]
    if reports:
        pytest.fail("\n".join(reports), pytrace=False)


# -- Azurite, the Azure Storage emulator, for the blob upload tests -------------------------------------------------

AZURITE_VERSION = "3.37.0"
# The emulator's one account and its key, published in Azurite's README ("well-known storage account and key").
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "azurite: needs the Azurite storage emulator (installed with npm by the azurite fixture)")
    # The suite's thousands of temporary pipelines stay out of the account's own digest cache (~/.cache/retrain):
    # every command the suite starts, in this process or a child, remembers digests in a folder of the run's.
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="retrain-suite-cache-")


@dataclass(frozen=True)
class Azurite:
    """A running azurite-blob: path-style URLs, ``{url}/{account}/{container}/{blob}``."""

    url: str
    account: str = AZURITE_ACCOUNT
    key: str = field(default=AZURITE_KEY, repr=False)


def _azurite_binary(npm: str) -> Path:
    """azurite-blob from a cache folder shared by test runs, installed there once (under a lock, as several test runs
    on one machine may ask at the same time). RETRAIN_AZURITE_DIR names another folder."""
    import fcntl

    home = Path(os.environ.get("RETRAIN_AZURITE_DIR") or f"/var/tmp/retrain-azurite-{AZURITE_VERSION}")
    home.mkdir(parents=True, exist_ok=True)
    binary = home / "node_modules" / ".bin" / "azurite-blob"
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            done = subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund", f"azurite@{AZURITE_VERSION}"],
                                  cwd=home, capture_output=True, text=True, timeout=900)
            if done.returncode != 0 or not binary.exists():
                pytest.fail(f"npm could not install azurite@{AZURITE_VERSION} into {home} (exit {done.returncode}):\n"
                            f"{done.stderr[-3000:]}", pytrace=False)
    return binary


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """azurite-blob on a free loopback port, in strict mode, with its data in a temporary folder; stopped at the end.

    Strict mode is Azurite's default: it refuses headers and parameters it does not support. (``--loose=false`` would
    turn loose mode *on*: Azurite treats any value of the flag as set.) Without npm the tests are skipped, saying why;
    with npm, an emulator that cannot be installed or started fails them."""
    import queue
    import shutil
    import threading

    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("Node.js and npm are not installed: the Azurite (Azure Storage emulator) tests need them")
    binary = _azurite_binary(npm)
    location = tmp_path_factory.mktemp("azurite")
    process = subprocess.Popen([str(binary), "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(location),
                                "--disableTelemetry", "--silent"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def drain() -> None:  # read everything it prints, so its pipe never fills
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
    threading.Thread(target=drain, daemon=True).start()
    seen, url = [], None
    try:
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline and process.poll() is None:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(line)
            if "successfully listens on " in line:
                url = line.rsplit("successfully listens on ", 1)[1].strip()
        if url is None:
            pytest.fail(f"azurite-blob did not start (exit {process.poll()}):\n{''.join(seen)[-3000:]}", pytrace=False)
        yield Azurite(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
