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
    path = tmp_path / "cache" / "digests.json"
    hashing.use_cache_file(path)
    yield path
    hashing.use_cache_file(None)


def test_a_rewrite_that_keeps_size_and_mtime_still_changes_the_hash(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "RACY_S", -1.0)  # cache even a file written this instant
    script = tmp_path / "step.py"
    script.write_text("print(1)\n")
    before = hashing.content_hash([script], tmp_path)
    assert str(script) in json.loads(cache.read_text())["files"]
    stat = script.stat()
    script.write_text("print(2)\n")  # same size
    os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old mtime back
    hashing.use_cache_file(cache)  # a new command reads the cache file
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
    hashing.use_cache_file(cache)
    assert hashing.content_hash([script], tmp_path) == expected
