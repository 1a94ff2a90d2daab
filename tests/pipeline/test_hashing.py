"""File digests remembered by stat signature: a changed file is always seen, a fresh one never cached."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrain.pipeline import hashing


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    """The cache file of the pipeline folder tmp_path, in a cache folder of its own."""
    hashing.use_cache(tmp_path / "cache")
    path = hashing.cache_file(tmp_path)
    assert path is not None
    yield path
    hashing.use_cache(None)


def test_a_rewrite_that_keeps_size_and_mtime_still_changes_the_hash(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "RACY_S", -1.0)  # cache even a file written this instant
    script = tmp_path / "step.py"
    script.write_text("print(1)\n")
    before = hashing.content_hash([script], tmp_path)
    assert str(script) in json.loads(cache.read_text())["files"]
    stat = script.stat()
    script.write_text("print(2)\n")  # same size
    os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old mtime back
    hashing.use_cache(cache.parent)  # a new command reads the cache file
    assert hashing.content_hash([script], tmp_path) != before
    script.write_text("print(1)\n")
    assert hashing.content_hash([script], tmp_path) == before


def test_a_file_written_just_now_is_not_remembered(tmp_path: Path, cache: Path) -> None:
    script = tmp_path / "step.py"
    script.write_text("print(1)\n")
    hashing.content_hash([script], tmp_path)
    assert not cache.exists() or str(script) not in json.loads(cache.read_text())["files"]


def test_a_damaged_cache_file_is_only_a_miss(tmp_path: Path, cache: Path) -> None:
    script = tmp_path / "step.py"
    script.write_text("print(1)\n")
    expected = hashing.content_hash([script], tmp_path)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("{not json")
    hashing.use_cache(cache.parent)
    assert hashing.content_hash([script], tmp_path) == expected


def test_each_pipeline_folder_has_its_own_small_cache_file(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a command reads is its own pipeline's digests, not those of every project the user ever hashed."""
    monkeypatch.setattr(hashing, "RACY_S", -1.0)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "step.py").write_text(f"print({name!r})\n")
        hashing.content_hash([tmp_path / name / "step.py"], tmp_path / name)
    files = {name: json.loads(hashing.cache_file(tmp_path / name).read_text())["files"] for name in ("a", "b")}
    assert list(files["a"]) == [str(tmp_path / "a" / "step.py")]
    assert list(files["b"]) == [str(tmp_path / "b" / "step.py")]
    assert not cache.exists()  # nothing was hashed for tmp_path itself


def test_a_full_cache_file_keeps_its_newest_half(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "RACY_S", -1.0)
    monkeypatch.setattr(hashing, "CACHE_LIMIT", 4)
    scripts = [tmp_path / f"step{i}.py" for i in range(5)]
    for script in scripts:
        script.write_text(f"print({script.name!r})\n")
        hashing.content_hash([script], tmp_path)
    assert list(json.loads(cache.read_text())["files"]) == [str(s) for s in scripts[-2:]]
