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

ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def retrain(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "retrain", *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=300, check=False)


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
