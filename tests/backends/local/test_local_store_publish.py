"""Publishing into the local store is whole or absent: a killed publish or a full disk leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retrain.backends.local.snapshot import STAGING_PREFIX, _staging, remove_leftovers
from tests.cli_process import ENV, retrain


def staging(project: Path) -> list[Path]:
    folder = project / ".retrain" / "snapshots"
    return sorted(folder.glob(STAGING_PREFIX + "*")) if folder.is_dir() else []


def test_a_killed_publish_leaves_nothing_for_the_next_command(project: Path) -> None:
    many = project / "pipelines" / "tiny" / "src" / "many"
    many.mkdir()
    for i in range(4000):  # enough files that the copy takes a while, so the kill lands in the middle
        (many / f"f{i}.txt").write_text(f"file {i}\n")
    proc = subprocess.Popen([sys.executable, "-m", "retrain", "publish"], cwd=project, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    give_up = time.monotonic() + 120
    while not staging(project) and proc.poll() is None and time.monotonic() < give_up:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the publish finished before it could be killed"
    left = staging(project)
    assert left, "the kill did not land while the snapshot was being staged"

    status = retrain(project, "status")
    assert status.returncode == 0 and "1 leftover folder" in status.stdout, status.stdout + status.stderr

    again = retrain(project, "publish")
    assert again.returncode == 0, again.stderr
    assert staging(project) == []
    snapshots = [p for p in (project / ".retrain" / "snapshots").iterdir()]
    assert len(snapshots) == 1
    assert len(list((snapshots[0] / "src" / "many").iterdir())) == 4000  # whole, not the killed one's half
    endpoints = retrain(project, "endpoints", "tiny-retrain")
    assert endpoints.returncode == 0 and "\n" in endpoints.stdout


def test_a_live_publish_keeps_its_staging_folder(tmp_path: Path) -> None:
    (tmp_path / "snapshots").mkdir()
    folder, fd = _staging(tmp_path / "snapshots")
    assert fd is not None
    assert remove_leftovers(tmp_path) == [] and folder.exists()  # locked: another process is writing it
    os.close(fd)  # what the publish's death does
    assert remove_leftovers(tmp_path) == [folder] and not folder.exists()


def test_a_staging_folder_removed_before_its_lock_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two publishes into one store: the other one's cleanup of leftovers runs between this one's mkdtemp and
    its lock, sees an unlocked staging folder and removes it. This publish makes another, and is not an
    internal error (exit 3)."""
    import tempfile

    parents = tmp_path / "snapshots"
    parents.mkdir()
    made: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp_then_the_other_publishes_cleanup(*args: object, **kwargs: object) -> str:
        folder = real_mkdtemp(*args, **kwargs)  # type: ignore[call-overload]
        made.append(Path(folder))
        if len(made) == 1:
            assert remove_leftovers(tmp_path) == [Path(folder)]  # the interleaving: taken before the lock
        return folder

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp_then_the_other_publishes_cleanup)  # snapshot imports it when it stages
    folder, fd = _staging(parents)
    assert fd is not None and len(made) == 2 and folder == made[1]
    assert not made[0].exists() and folder.exists()
    assert folder.stat().st_mode & 0o777 == 0o755  # a snapshot-to-be is readable by the runner's user
    assert remove_leftovers(tmp_path) == [] and folder.exists()  # locked: the other publish leaves it alone
    os.close(fd)


def _can_mount() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount(), reason="needs unprivileged user and mount namespaces (unshare -rm) for a small disk")
def test_a_full_disk_during_publish_is_exit_1_naming_the_store(project: Path) -> None:
    (project / "pipelines" / "tiny" / "src" / "weights.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    store = project / ".retrain"
    store.mkdir()
    # In a private mount namespace, the store is a 512 KB disk: the database fits, the 2 MB snapshot does not.
    script = f"""
mount -t tmpfs -o size=512k tmpfs {store} || exit 99
{sys.executable} -m retrain publish > out.txt 2> err.txt
echo "rc=$?"
echo "left=$(ls -A {store}/snapshots 2>/dev/null | tr '\\n' ' ')"
{sys.executable} -m retrain endpoints --json
"""
    out = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=project, env=ENV, capture_output=True, text=True,
                         timeout=300)
    lines = out.stdout.splitlines()
    assert "rc=1" in lines, out.stdout + out.stderr
    assert "left=" in lines  # no staging folder, no half snapshot
    assert out.stdout.split("left=\n", 1)[1].strip() == "[]"  # no version was recorded
    shown = (project / "out.txt").read_text()
    assert shown.splitlines()[-1] == (
        f"tiny: failure: the local store {store} is out of disk space: the snapshot of pipeline.yml was not saved "
        "and nothing was published. Free space (retrain gc removes runs beyond retention), then publish again.")
    assert "Traceback" not in shown + (project / "err.txt").read_text()
