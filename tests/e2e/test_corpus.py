"""The corpus of hostile inputs: every case is refused the same way, and nothing is harmed.

Each case starts from the same project (``tests/conftest.py``'s tiny pipeline, in Git) whose local store
already holds a published version and a finished run, changes one thing, runs one command as a user
would (``retrain.cli.main``), and must:

- exit with the expected code (2 for bad input unless the row says otherwise), with no traceback and
  no "internal error";
- name what is wrong: every string of the row's ``says`` appears in the message (the file and line,
  the key, the limit);
- leave the store intact: every version, finished run, step and snapshot file unchanged, and SQLite's
  ``PRAGMA integrity_check`` answering ok;
- leave nothing running: no process whose command line or working folder is in the project.

Two sources of cases, both parametrized one case each:

- ``tests/corpus/yaml/*.yml``: hostile YAML files. Each is tried as the parameter file *and* as the
  pipeline definition. The file's first line, ``# expect: TEXT``, is what the message must contain.
- ``CASES`` below: one row each, ``Case(id, change, argv, says=..., exit=...)``; ``change`` edits the
  project (helpers: :func:`edit`, :func:`put`, :func:`link`, :func:`chain`).

Families other helpers add here as they land (the expectations above stay as they are; a fault row
may need a ``run`` step that starts work before the fault, and its own ``exit``):

- faults of the local backend (a killed worker, a step ignoring SIGTERM, a full disk, a killed
  publish, a damaged row): exit 1 and the run recorded as failed, the store intact otherwise;
- output escaping in the action (workflow commands in step output, newlines in values): the job log
  holds no raw ``::command::`` line;
- event payload shapes and sizes (``commits: "x"``, deep nesting): exit 2 naming the payload field.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from retrain.cli.main import main
from tests.conftest import RETRAIN, TINY, commit_all, git, write
from tests.fakes.github_api import FakeGitHub
from tests.paths import ROOT

CORPUS = ROOT / "tests" / "corpus"
PARAMETER_FILE = "retrain.yml"
PIPELINE_FILE = "pipelines/tiny/pipeline.yml"
PREP_FILE = "pipelines/tiny/components/prep.yml"
TRAIN_FILE = "pipelines/tiny/components/train.yml"
MB = 1024 * 1024
# What a person's shell gives retrain: steps find the Python that runs the tests.
ENV = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": os.environ.get("HOME", "/")}

Change = Callable[[Path], None]


# -- changes a row can make -------------------------------------------------------------------------

def edit(file: str, old: str, new: str) -> Change:
    """Replace ``old`` (which must be there) by ``new`` in ``file``."""
    def change(root: Path) -> None:
        text = (root / file).read_text()
        assert old in text, f"{old!r} is not in {file}: the corpus row is out of date"
        (root / file).write_text(text.replace(old, new, 1))
    return change


def put(file: str, content: str | bytes | Callable[[], str | bytes]) -> Change:
    """Write ``file`` (made by ``content()`` when it is big, so the corpus stays small on disk)."""
    def change(root: Path) -> None:
        data = content() if callable(content) else content
        path = root / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return change


def link(file: str, target: str) -> Change:
    """Make ``file`` a symlink to ``target`` ({outside} is a folder beside the repository)."""
    def change(root: Path) -> None:
        path = root / file
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        path.symlink_to(target.format(outside=root.parent / "outside", root=root))
    return change


def chain(*changes: Change) -> Change:
    def change(root: Path) -> None:
        for c in changes:
            c(root)
    return change


def param(name: str, value: str) -> Change:
    """Give the tiny pipeline's parameter ``name`` the YAML ``value`` in the parameter file."""
    return edit(PARAMETER_FILE, "      learning_rate: 0.2\n", f"      learning_rate: 0.2\n      {name}: {value}\n")


def many_keys() -> str:
    return "".join(f"k{i}: {i}\n" for i in range(60_000))


def chain_of_steps(n: int = 1500) -> str:
    """A valid pipeline of ``n`` steps each reading the one before, listed last first (deepest first)."""
    jobs = ["  s0:\n    command: echo > ${{outputs.o}}\n    outputs: {o: {type: uri_folder}}"]
    for i in range(1, n):
        jobs.append(f"  s{i}:\n    command: cat ${{{{inputs.i}}}} > ${{{{outputs.o}}}}\n"
                    f"    inputs: {{i: '${{{{parent.jobs.s{i - 1}.outputs.o}}}}'}}\n    outputs: {{o: {{type: uri_folder}}}}")
    return "type: pipeline\ninputs:\n  training_data: {type: uri_file, path: ./data/train.csv}\n" \
        "  learning_rate: 0.1\njobs:\n" + "\n".join(reversed(jobs)) + "\n"


def twenty_megabytes() -> str:
    return RETRAIN + "# " + "x" * (20 * MB) + "\n"


@dataclass(frozen=True)
class Case:
    id: str
    change: Change
    argv: tuple[str, ...] = ("validate",)
    says: tuple[str, ...] = ()
    exit: int = 2
    # Run as the GitHub Action instead (argv is ignored): these action inputs, a workflow_dispatch
    # event, and a fake GitHub API; ``says`` is then looked for in the whole job log.
    action: tuple[tuple[str, str], ...] | None = None


OUT = "{outside}"
CASES: list[Case] = [
    # The repository is the boundary (docs/limits.md).
    Case("definition-climbs-out", edit(PARAMETER_FILE, "definition: pipelines/tiny/pipeline.yml", "definition: ../outside/pipeline.yml"),
         says=("retrain.yml:4:17", "pipelines.tiny.definition", "outside the repository")),
    Case("definition-absolute", edit(PARAMETER_FILE, "definition: pipelines/tiny/pipeline.yml", "definition: /etc/hostname"),
         says=("retrain.yml:4:17", "pipelines.tiny.definition", "'/etc/hostname' is outside the repository")),
    Case("definition-symlink-out", chain(link("pipelines/tiny/pipeline.yml", OUT + "/pipeline.yml")),
         says=("retrain.yml:4:17", "pipelines.tiny.definition", "outside the repository", "it resolves to")),
    Case("component-climbs-out", edit(PIPELINE_FILE, "component: ./components/prep.yml", "component: ../../../outside/prep.yml"),
         says=("pipeline.yml:22:16", "jobs.prep.component", "component file", "outside the repository")),
    Case("component-symlink-out", link(PREP_FILE, OUT + "/prep.yml"),
         says=("pipeline.yml:22:16", "jobs.prep.component", "outside the repository")),
    Case("code-is-root", edit(PREP_FILE, "code: ../src", "code: /"),
         says=("prep.yml:10:7", "code", "'/' is outside the repository")),
    Case("code-climbs-out", edit(PREP_FILE, "code: ../src", "code: ../../../../outside"),
         says=("prep.yml:10:7", "code", "outside the repository")),
    Case("code-holds-link-out", link("pipelines/tiny/src/secret.txt", OUT + "/secret.txt"),
         says=("prep.yml:10:7", "holds secret.txt, a link to", "outside the repository")),
    Case("definition-symlink-loop", link(PIPELINE_FILE, "{root}/" + PIPELINE_FILE),
         says=("retrain.yml:4:17", "pipelines.tiny.definition", "does not exist")),
    Case("code-holds-symlink-loop", link("pipelines/tiny/src/loop", "{root}/pipelines/tiny/src/loop"),
         says=("prep.yml:10:7", "holds loop, a symbolic link that loops back on itself")),
    Case("parameter-file-symlink-loop", link(PARAMETER_FILE, "{root}/" + PARAMETER_FILE),
         says=("retrain.yml cannot be read", "Too many levels of symbolic links")),
    Case("data-parameter-climbs-out", edit(PARAMETER_FILE, "training_data: data/train.csv", "training_data: ../../etc/passwd"),
         says=("retrain.yml:9:22", "pipelines.tiny.parameters.training_data", "'../../etc/passwd' is outside the repository")),
    Case("data-parameter-absolute", edit(PARAMETER_FILE, "training_data: data/train.csv", "training_data: /etc/shadow"),
         says=("retrain.yml:9:22", "training_data", "'/etc/shadow' is outside the repository", "file:///")),
    Case("data-parameter-home", edit(PARAMETER_FILE, "training_data: data/train.csv", "training_data: ~/.ssh/id_rsa"),
         says=("retrain.yml:9:22", "training_data", "outside the repository")),
    Case("data-parameter-symlink-out", chain(link("data/train.csv", OUT + "/secret.txt")),
         says=("retrain.yml:9:22", "training_data", "outside the repository")),
    Case("data-default-climbs-out", edit(PIPELINE_FILE, "path: ./data/train.csv", "path: ../../../outside/secret.txt"),
         says=("pipeline.yml:8:11", "inputs.training_data.path", "outside the repository")),
    Case("data-file-uri-remote-host", edit(PARAMETER_FILE, "training_data: data/train.csv", "training_data: file://fileserver/share/x.csv"),
         says=("retrain.yml:9:22", "training_data", "a file:// URI here must be local")),
    Case("store-climbs-out", edit(PARAMETER_FILE, "backend: local", "backend: {kind: local, store: ../elsewhere}"),
         says=("retrain.yml:1:31", "backend.store", "outside the repository")),
    Case("store-is-a-file", chain(edit(PARAMETER_FILE, "backend: local", "backend: {kind: local, store: README.md}")),
         says=("retrain.yml:1:31", "backend.store", "is a file, not a folder", "README.md")),
    Case("set-data-climbs-out", lambda root: None, ("plan", "--event", "dispatch", "--set", "training_data=../../etc/passwd"),
         says=("training_data=../../etc/passwd", "outside the repository", "given with --set")),
    Case("action-parameters-data-climbs-out", lambda root: None,
         action=(("command", "plan"), ("parameters", "training_data=../../etc/passwd")),
         says=("training_data=../../etc/passwd", "outside the repository", "given with the action's parameters input")),
    Case("action-parameters-value-of-one-megabyte", lambda root: None,
         action=(("command", "submit"), ("parameters", "flavour=" + "x" * MB)),
         says=("flavour=xxx", "the limit is 16,384 bytes", "given with the action's parameters input")),
    Case("set-data-absolute", lambda root: None, ("submit", "tiny", "--no-wait", "--set", "training_data=/etc/shadow"),
         says=("training_data=/etc/shadow", "outside the repository", "given with --set")),
    # Values a command line cannot carry; numbers no consumer can hold.
    Case("value-of-one-megabyte", param("flavour", "'" + "x" * MB + "'"),
         says=("retrain.yml:11:16", "pipelines.tiny.parameters.flavour", "the limit is 16,384 bytes")),
    Case("set-value-of-one-megabyte", lambda root: None, ("plan", "--event", "dispatch", "--set", "training_data=" + "d" * MB),
         says=("training_data=ddd", "the limit is 16,384 bytes", "given with --set")),
    Case("integer-of-5000-digits", param("epochs", "7" * 5000),
         says=("retrain.yml:11:15", "pipelines.tiny.parameters.epochs", "beyond 64 bits")),
    Case("set-integer-of-5000-digits", lambda root: None, ("plan", "--event", "dispatch", "--set", "epochs=" + "7" * 5000),
         says=("epochs=777", "5,000 digits", "64 bits", "given with --set")),
    Case("timeout-infinite", edit(PARAMETER_FILE, "timeout: 10m", "timeout: .inf"),
         says=("retrain.yml:14:14", "pipelines.tiny.timeout", "longer than 30 days")),
    Case("cli-timeout-of-5000-digits", lambda root: None, ("submit", "tiny", "--no-wait", "--timeout", "7" * 5000 + "h"),
         says=("longer than 30 days",)),
    Case("version-of-30-digits", edit(PARAMETER_FILE, "version: default", "version: '" + "9" * 30 + "'"),
         says=("retrain.yml:6:14", "pipelines.tiny.version", "expected a version number")),
    Case("cli-version-of-30-digits", lambda root: None, ("submit", "tiny", "--no-wait", "--version", "9" * 30),
         says=("expected a version number",)),
    Case("runs-limit-of-20-digits", lambda root: None, ("runs", "--limit", "9" * 20),
         says=("--limit", "is not a number from 1 to 100000")),
    Case("environment-variable-name-with-equals", edit(PREP_FILE, "code: ../src", "code: ../src\nenvironment_variables: {'A=B': x}"),
         says=("prep.yml:11:25", "environment_variables.A=B", "is not a valid environment variable name")),
    Case("environment-variable-of-one-megabyte", edit(PREP_FILE, "code: ../src", "code: ../src\nenvironment_variables: {BIG: " + "x" * MB + "}"),
         says=("prep.yml:11:30", "environment_variables.BIG", "longer than 16,384 bytes")),
    Case("command-of-one-megabyte", edit(PREP_FILE, "python prep.py", "python prep.py " + "x" * MB),
         says=("prep.yml:12:10", "at command:", "longer than 65,536 bytes")),
    # YAML read within limits (the per-file cases are in tests/corpus/yaml/).
    Case("parameter-file-of-20-megabytes", put(PARAMETER_FILE, twenty_megabytes),
         says=("retrain.yml", "larger than 4 MB (the limit)")),
    Case("pipeline-of-20-megabytes", put(PIPELINE_FILE, twenty_megabytes),
         says=("pipelines/tiny/pipeline.yml", "larger than 4 MB (the limit)")),
    Case("parameter-file-with-60000-keys", put(PARAMETER_FILE, many_keys),
         says=("retrain.yml:50000:9", "more than 100000 keys and values (the limit)")),
    Case("parameter-file-with-2000-unknown-keys", put(PARAMETER_FILE, lambda: RETRAIN + "".join(f"junk{i}: {i}\n" for i in range(2_000))),
         says=("2000 problems in the parameter file", "retrain.yml:15:1: at junk0: unknown key", "... and 1,950 more")),
    # Valid, only long: ordering 1,500 chained steps recursed past Python's limit (an internal error).
    Case("pipeline-of-1500-chained-steps", put(PIPELINE_FILE, chain_of_steps), says=(), exit=0),
    Case("parameter-file-is-a-folder", chain(lambda root: (root / PARAMETER_FILE).unlink(), lambda root: (root / PARAMETER_FILE).mkdir()),
         says=("retrain.yml is a folder",)),
    Case("parameter-file-is-a-fifo", chain(lambda root: (root / PARAMETER_FILE).unlink(), lambda root: os.mkfifo(root / PARAMETER_FILE)),
         says=("retrain.yml is not a regular file",)),
    Case("pipeline-is-dev-zero", edit(PARAMETER_FILE, "definition: pipelines/tiny/pipeline.yml", "definition: /dev/zero"),
         says=("pipelines.tiny.definition", "outside the repository")),
]


def _yaml_cases() -> Iterator[object]:
    for file in sorted((CORPUS / "yaml").glob("*.yml")):
        first = file.read_bytes().split(b"\n", 1)[0].decode()
        assert first.startswith("# expect: "), f"{file.name} must start with '# expect: TEXT'"
        expect = first.removeprefix("# expect: ")
        for target in (PARAMETER_FILE, PIPELINE_FILE):
            shown = "parameter-file" if target == PARAMETER_FILE else "pipeline"
            yield pytest.param(Case(f"{file.stem}", put(target, file.read_bytes()), says=(target, expect)),
                               id=f"yaml/{file.stem}-as-{shown}")


# -- the project, its store, and what must not change -----------------------------------------------

@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny project in Git with a published version and a finished run in its store."""
    base = tmp_path_factory.mktemp("seed")
    root = base / "repo"
    write(root, {**TINY, PARAMETER_FILE: RETRAIN, "README.md": "not pipeline content\n", ".gitignore": ".retrain/\n"})
    commit_all(root)
    with contextlib.chdir(root):
        assert main(["publish"], ENV) == 0
        assert main(["submit", "tiny"], ENV) == 0
    return root


@pytest.fixture
def project(seeded: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "repo"
    shutil.copytree(seeded, root, symlinks=True)
    outside = tmp_path / "outside"
    write(outside, {"pipeline.yml": (seeded / PIPELINE_FILE).read_text(), "prep.yml": (seeded / PREP_FILE).read_text(),
                    "secret.txt": "not for the store\n"})
    with contextlib.chdir(root):
        yield root


def store_state(store: Path) -> dict[str, object]:
    """What must survive any bad input: rows of finished work and the bytes of every snapshot."""
    db = sqlite3.connect(f"file:{store / 'retrain.db'}?mode=ro", uri=True)
    try:
        state: dict[str, object] = {
            "integrity": db.execute("PRAGMA integrity_check").fetchall(),
            "endpoints": db.execute("SELECT * FROM endpoints ORDER BY name").fetchall(),
            "versions": db.execute("SELECT * FROM versions ORDER BY endpoint, number").fetchall(),
            "runs": db.execute("SELECT * FROM runs WHERE status IN ('completed', 'failed', 'canceled') ORDER BY id").fetchall(),
            "run ids": {row[0] for row in db.execute("SELECT id FROM runs")},
            "steps": db.execute("SELECT * FROM steps ORDER BY run_id, ord").fetchall(),
        }
    finally:
        db.close()
    snapshots = store / "snapshots"
    state["snapshots"] = sorted(
        (p.relative_to(snapshots).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
        for p in snapshots.rglob("*") if p.is_file()
    )
    return state


def lingering(root: Path) -> list[str]:
    """Processes started for this project that are still there (other than this test's own)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if str(root) in cmdline or cwd == str(root) or cwd.startswith(f"{root}/"):
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def action_env(project: Path, github: FakeGitHub, inputs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """What GitHub's runner gives the action for a workflow_dispatch (see tests/github_runner.py)."""
    runner = project.parent / "runner"
    runner.mkdir(exist_ok=True)
    payload = json.loads((ROOT / "tests" / "fixtures" / "github" / "workflow_dispatch.json").read_text())
    payload["repository"]["full_name"] = github.repository
    (runner / "event.json").write_text(json.dumps(payload))
    for name in ("output", "summary"):
        (runner / name).touch()
    return {
        **ENV, "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "workflow_dispatch",
        "GITHUB_EVENT_PATH": str(runner / "event.json"), "GITHUB_WORKSPACE": str(project),
        "GITHUB_REPOSITORY": github.repository, "GITHUB_SHA": git(project, "rev-parse", "HEAD"),
        "GITHUB_REF": "refs/heads/main", "GITHUB_API_URL": github.url, "GITHUB_RUN_ID": "7781",
        "GITHUB_OUTPUT": str(runner / "output"), "GITHUB_STEP_SUMMARY": str(runner / "summary"),
        "INPUT_GITHUB-TOKEN": github.token, "INPUT_PARAMETER-FILE": PARAMETER_FILE,
        **{f"INPUT_{name.upper()}": value for name, value in inputs},
    }


# Rows that wait for work on another branch; strict, so the row fails (XPASS) once it is fixed, and then
# the mark is removed here.
WAITING: dict[str, str] = {}


def _rows() -> Iterator[object]:
    for c in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=WAITING[c.id])] if c.id in WAITING else []
        yield pytest.param(c, id=c.id, marks=marks)


@pytest.mark.parametrize("case", [*_rows(), *_yaml_cases()])
def test_hostile_input_is_refused_and_harms_nothing(case: Case, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = project / ".retrain"
    before = store_state(store)
    assert before["integrity"] == [("ok",)] and before["versions"] and before["runs"]
    case.change(project)

    if case.action is not None:
        github = FakeGitHub().start()
        try:
            code = main(["action"], action_env(project, github, case.action))
        finally:
            github.stop()
        assert github.violations == []
    else:
        code = main(list(case.argv), ENV)

    out, err = capsys.readouterr()
    if case.action is not None:
        err = out + err  # the action reports on the job log (stdout) as ::error:: lines
    shown = (out + err)[:3000]
    assert code == case.exit, shown
    assert "Traceback" not in out + err and "internal error" not in err, shown
    for text in case.says:
        assert text in err, f"{text!r} not in:\n{shown}"
    after = store_state(store)
    if case.exit == 2:  # bad input starts nothing
        assert after["run ids"] == before["run ids"]
    after["run ids"] = before["run ids"]  # a fault row may add runs; what was finished must stay as it was
    assert after == before
    assert lingering(project) == []
