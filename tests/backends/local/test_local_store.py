"""The local store keeps files once by content, protects them from steps, and gc keeps what retention says."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from retrain.backends.base import RunStatus, StepStatus
from retrain.backends.local import LocalBackend
from retrain.backends.local.retention import RetentionPolicy
from retrain.cli.main import main
from retrain.pipeline.load import load_pipeline
from tests.backends.local.runs import submit, wait_for, write_pipeline

# A step writing 2 MB that is the same every run, and one that reads it and writes a small summary.
BIG = """\
make:
  outputs: {o: }
  command: python3 -c "import sys; open(sys.argv[1] + '/big.bin', 'wb').write(bytes(range(256)) * 8192)" ${{outputs.o}}
summarize:
  inputs: {x: '${{parent.jobs.make.outputs.o}}'}
  outputs: {s: }
  command: wc -c ${{inputs.x}}/big.bin | cut -d' ' -f1 > ${{outputs.s}}/size.txt && cat ${{outputs.s}}/size.txt
"""


def published(tmp_path: Path, jobs: str = BIG, inputs: str = "") -> LocalBackend:
    backend = LocalBackend(tmp_path / "store", environ=os.environ)
    path = write_pipeline(tmp_path / "proj", jobs, inputs)
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    return backend


def output_file(backend: LocalBackend, run_id: str, step: str, rel: str) -> Path:
    return backend.store_dir / "runs" / run_id / "steps" / step / "outputs" / rel


def test_forced_reruns_with_unchanged_outputs_add_only_their_records(tmp_path: Path) -> None:
    backend = published(tmp_path)
    first = wait_for(backend, submit(backend, "k0", force=True))
    one = backend.usage().bytes
    runs = [first] + [wait_for(backend, submit(backend, f"k{i}", force=True)) for i in range(1, 10)]
    assert all(r.status is RunStatus.COMPLETED for r in runs)
    assert all(s.status is StepStatus.COMPLETED for r in runs for s in r.steps)  # forced: nothing reused
    ten = backend.usage().bytes
    # Every run's 2 MB output is the same file on disk ...
    inodes = {output_file(backend, r.id, "make", "o/big.bin").stat().st_ino for r in runs}
    assert len(inodes) == 1
    # ... and every run's output folders are links to one stored folder per content ...
    assert len(list((backend.store_dir / "trees").iterdir())) == 2
    assert all((backend.store_dir / "runs" / r.id / "steps" / "make" / "outputs").is_symlink() for r in runs)
    # ... so nine more runs cost their records (folders, logs, commands), far below one more copy.
    assert ten - one < 9 * 100_000, (one, ten)
    assert ten < 1.5 * one


def test_a_plain_submit_after_a_forced_run_reuses_it(tmp_path: Path) -> None:
    backend = published(tmp_path)
    forced = wait_for(backend, submit(backend, "k1", force=True))
    again = wait_for(backend, submit(backend, "k2"))
    assert [(s.status, s.reused_from) for s in again.steps] == [(StepStatus.REUSED, forced.id)] * 2
    assert backend.logs(again.id, "summarize")[0] == "2097152\n"


def test_stored_outputs_are_read_only_and_a_step_cannot_change_them(tmp_path: Path) -> None:
    # The downstream step does its worst to its input: makes it writable, overwrites and deletes.
    backend = published(tmp_path, BIG + """\
vandal:
  inputs: {x: '${{parent.jobs.make.outputs.o}}'}
  command: chmod -R u+w ${{inputs.x}} && echo ruined > ${{inputs.x}}/big.bin && rm -f ${{inputs.x}}/big.bin && echo done
""")
    first = wait_for(backend, submit(backend, "k1"))
    assert first.status is RunStatus.COMPLETED, first.message
    stored = output_file(backend, first.id, "make", "o/big.bin")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o444
    assert stored.stat().st_size == 2 * 1024 * 1024
    assert stored.read_bytes()[:4] == bytes(range(4))
    # The next run reuses the untouched output: the downstream steps read the right bytes.
    second = wait_for(backend, submit(backend, "k2"))
    assert {s.name: s.status for s in second.steps}["make"] is StepStatus.REUSED
    assert output_file(backend, second.id, "summarize", "s/size.txt").read_text() == "2097152\n"
    # The step's private copy of its input is gone once it ended: it was never part of the store.
    assert not (backend.store_dir / "runs" / first.id / "steps" / "vandal" / "inputs").exists()


def test_a_step_cannot_change_the_published_snapshot(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "src" / "tool.sh").write_text("echo original\n")
    (proj / "comp.yml").write_text("type: command\ncode: ./src\ncommand: chmod u+w tool.sh && echo 'echo hacked' > tool.sh && bash tool.sh\n")
    backend = LocalBackend(tmp_path / "store", environ=os.environ)
    path = write_pipeline(proj, "s:\n  component: ./comp.yml\n")
    backend.publish(load_pipeline(path), endpoint="ep-test", make_default=False, source_commit=None)
    run = wait_for(backend, submit(backend, "k1"))
    assert backend.logs(run.id, "s")[0] == "hacked\n"
    snapshots = list((backend.store_dir / "snapshots").rglob("tool.sh"))
    assert [p.read_text() for p in snapshots] == ["echo original\n"]
    # What the step changed in its working folder stays with the run; its unchanged code does not.
    assert (backend.store_dir / "runs" / run.id / "steps" / "s" / "code" / "tool.sh").read_text() == "echo hacked\n"


def test_gc_never_removes_a_live_run(tmp_path: Path) -> None:
    backend = published(tmp_path, "slow:\n  command: sleep 30\n")
    live = submit(backend, "k1")
    while backend.run(live.id).steps[0].status is not StepStatus.RUNNING:
        time.sleep(0.05)
    plan = backend.plan_gc(RetentionPolicy(default=0))
    assert live.id not in plan.remove_runs
    backend.gc(plan)
    assert backend.run(live.id).status in (RunStatus.QUEUED, RunStatus.RUNNING)
    assert backend.cancel(live.id).status is RunStatus.CANCELED


def run_cli(project: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["-f", str(project / "retrain.yml"), *argv], os.environ)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_gc_keeps_five_runs_and_what_versions_need(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(project, capsys, "publish")[0] == 0
    backend = LocalBackend(project / ".retrain", environ=os.environ)
    tiny = dict(pipeline="tiny", endpoint="tiny-retrain", experiment="tiny", parameters={})

    def submit_tiny(key: str, version: int | str = "default") -> str:
        from retrain.backends.base import SubmitRequest

        run = backend.submit(SubmitRequest(version=version, key=key, force=True, **tiny))  # type: ignore[arg-type]
        finished = wait_for(backend, run)
        assert finished.status is RunStatus.COMPLETED, finished.message
        return run.id

    v1_run = submit_tiny("v1")
    # Version 2 of the pipeline; version 1 stays the default, its one run is all it has.
    train = project / "pipelines" / "tiny" / "src" / "train.py"
    train.write_text(train.read_text() + "# v2\n")
    assert run_cli(project, capsys, "publish")[0] == 0
    ids = [submit_tiny(f"r{i}", version=2) for i in range(49)]
    before = backend.usage()
    assert before.runs == 50

    with (project / "retrain.yml").open("a") as f:
        f.write("retention: {keep: 5}\n")
    code, out, _ = run_cli(project, capsys, "status")
    assert code == 0 and "retrain gc would free" in out and "44 runs (retention: keep 5)" in out
    code, out, _ = run_cli(project, capsys, "gc", "--dry-run")
    assert code == 0 and out.count("would remove run ") == 44
    code, out, _ = run_cli(project, capsys, "gc", "--dry-run", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["dry_run"] is True and len(doc["remove_runs"]) == 44 and doc["frees_bytes"] > 0
    assert backend.usage().runs == 50  # a dry run removes nothing

    assert run_cli(project, capsys, "gc")[0] == 0
    kept = {r.id for r in backend.runs(limit=100)}
    assert kept == {v1_run, *ids[-5:]}  # the newest five, and version 1's latest completed run
    assert sorted(p.name for p in (project / ".retrain" / "runs").iterdir()) == sorted(kept)
    assert all(st.st_nlink > 1 for st in (os.stat(p) for p in (project / ".retrain" / "objects").iterdir()))
    after = backend.usage()
    assert after.bytes < before.bytes / 3, (before, after)

    for run_id in kept:
        code, out, _ = run_cli(project, capsys, "status", run_id, "--logs")
        assert code == 0, out
        assert "completed" in out and "score" in out and "--- train ---" in out and "trained" in out
    assert run_cli(project, capsys, "status", ids[0])[0] == 2  # removed: not found

    # What the removed runs computed can still be reused: the kept runs hold their own links to it.
    from retrain.backends.base import SubmitRequest

    again = wait_for(backend, backend.submit(SubmitRequest(version=2, key="again", force=False, **tiny)))  # type: ignore[arg-type]
    assert all(s.status is StepStatus.REUSED for s in again.steps)
    assert {s.reused_from for s in again.steps} <= kept


def test_status_with_no_run_shows_the_store(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(project, capsys, "publish")[0] == 0
    code, out, _ = run_cli(project, capsys, "status")
    assert code == 0
    assert out.startswith(f"local store {project / '.retrain'}: ") and "0 runs, 1 version." in out
    assert "retrain gc would free nothing (no retention is set, so every run is kept)." in out
    code, out, _ = run_cli(project, capsys, "status", "--json")
    doc = json.loads(out)
    assert doc["store"]["versions"] == 1 and doc["gc"]["remove_runs"] == [] and doc["store"]["bytes"] > 0


def test_retention_is_read_per_pipeline_and_checked_at_its_line(project: Path) -> None:
    from retrain.config.load import load_config
    from retrain.errors import InvalidFile

    path = project / "retrain.yml"
    base = path.read_text()
    path.write_text(base.replace("    timeout: 10m\n", "    timeout: 10m\n    retention: {keep: 3}\n") + "retention: {keep: 10}\n")
    config = load_config(path)
    assert config.retention is not None and config.retention.keep == 10
    assert config.retention_for("tiny").keep == 3  # type: ignore[union-attr]

    lines = base.count("\n")
    path.write_text(base.replace("    timeout: 10m\n", "    timeout: 10m\n    retention: {kep: 3}\n") + "retention: {keep: -1}\n")
    with pytest.raises(InvalidFile) as e:
        load_config(path)
    found = [str(p) for p in e.value.problems]
    assert found == [
        f"retrain.yml:{lines + 1}:16: at pipelines.tiny.retention: retention has no 'keep'. "
        "Write retention: {keep: 10} to keep the newest 10 runs of each pipeline.",
        f"retrain.yml:{lines + 1}:17: at pipelines.tiny.retention.kep: unknown key 'kep'. Did you mean 'keep'?",
        f"retrain.yml:{lines + 2}:19: at retention.keep: expected a whole number of runs (0 or more), got a number -1. "
        "Write e.g. keep: 10.",
    ]
    path.write_text(base + "retention: 5\n")
    with pytest.raises(InvalidFile) as e:
        load_config(path)
    assert [str(p) for p in e.value.problems] == [
        f"retrain.yml:{lines + 1}:12: at retention: expected the retention settings (a mapping of keys to values), got a number."
    ]


def test_gc_removes_the_folders_and_files_only_removed_runs_used(tmp_path: Path) -> None:
    backend = published(tmp_path, """\
write:
  inputs: {n: '${{parent.inputs.n}}'}
  outputs: {o: }
  command: python3 -c "import sys; open(sys.argv[2] + '/data.bin', 'wb').write(sys.argv[1].encode() * 100000)" ${{inputs.n}} ${{outputs.o}} && echo wrote ${{inputs.n}}
""", inputs="n: {type: integer, default: 1}\n")
    runs = [wait_for(backend, submit(backend, f"k{n}", n=n)) for n in range(1, 5)]
    assert all(r.status is RunStatus.COMPLETED for r in runs), [r.message for r in runs]
    trees = backend.store_dir / "trees"
    assert len(list(trees.iterdir())) == 4  # four different outputs
    old = time.time() - 3600  # made an hour ago: no step can be about to link to them
    for tree in trees.iterdir():
        os.utime(tree, (old, old))
    before = backend.usage()
    plan = backend.plan_gc(RetentionPolicy(default=1))
    assert plan.remove_runs == tuple(r.id for r in runs[:3]) and plan.frees_bytes > 3 * 100_000
    backend.gc(plan)
    after = backend.usage()
    assert before.bytes - after.bytes > 3 * 100_000
    assert len(list(trees.iterdir())) == 1
    assert all(st.st_nlink > 1 for st in (os.stat(p) for p in (backend.store_dir / "objects").iterdir()))
    last = backend.run(runs[-1].id)
    assert last.status is RunStatus.COMPLETED and backend.logs(last.id, "write")[0] == "wrote 4\n"
    assert output_file(backend, last.id, "write", "o/data.bin").read_bytes() == b"4" * 100000


def test_store_commands_on_azure_say_they_are_for_the_local_store(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "retrain.yml"
    path.write_text(path.read_text().replace(
        "backend: local\n", "backend: {kind: azureml, subscription_id: s, resource_group: g, workspace: w}\n"))
    for argv in (["status"], ["gc", "--dry-run"]):
        code, out, err = run_cli(project, capsys, *argv)
        assert code == 2 and out == ""
        assert "works on the local backend's store; " in err and "uses the azureml backend" in err


def test_gc_removes_a_draft_snapshot_once_no_kept_run_names_it(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(project, capsys, "publish")[0] == 0
    snapshots = project / ".retrain" / "snapshots"
    published_snapshots = {p.name for p in snapshots.iterdir()}
    train = project / "pipelines" / "tiny" / "src" / "train.py"
    code_before = train.read_text()
    train.write_text(code_before + "# draft one\n")
    assert run_cli(project, capsys, "submit", "tiny", "--draft")[0] == 0
    [first] = {p.name for p in snapshots.iterdir()} - published_snapshots
    train.write_text(code_before + "# draft two\n")
    assert run_cli(project, capsys, "submit", "tiny", "--draft")[0] == 0
    [second] = {p.name for p in snapshots.iterdir()} - published_snapshots - {first}
    with (project / "retrain.yml").open("a") as f:
        f.write("retention: {keep: 1}\n")

    code, out, _ = run_cli(project, capsys, "gc", "--dry-run")
    assert code == 0 and "would remove run tiny-" in out
    assert "draft snapshot" not in out  # a minute old at least: a publish or a draft may be about to name it
    old = time.time() - 3600
    for name in (first, second):
        os.utime(snapshots / name, (old, old))
    draft_file = next(p for p in (snapshots / first).rglob("train.py"))
    assert "# draft one" in draft_file.read_text()
    inode = draft_file.stat().st_ino

    code, out, _ = run_cli(project, capsys, "gc")
    assert code == 0 and f"removed draft snapshot {snapshots / first}" in out
    assert {p.name for p in snapshots.iterdir()} == published_snapshots | {second}  # the kept draft run's stays
    objects = project / ".retrain" / "objects"
    assert all(p.stat().st_ino != inode for p in objects.rglob("*") if p.is_file())  # its now-unused object went too
    runs = json.loads(run_cli(project, capsys, "runs", "--json")[1])
    [kept] = runs
    assert run_cli(project, capsys, "status", kept["id"])[0] == 0
    assert run_cli(project, capsys, "submit", "tiny")[0] == 0  # the version's snapshot still runs
