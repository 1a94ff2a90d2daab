"""Parsed YAML files remembered by their bytes (retrain/yamlfile.py): the same document either way, never a stale one,
and a command that reads only remembered files does not load PyYAML."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrain import yamlfile
from retrain.errors import InvalidFile
from retrain.yamlfile import load_yaml

from .paths import ROOT

TEXT = """\
# a parameter file's shapes: nested mappings, lists, numbers as keys, every scalar type
backend: local
pipelines:
  income:
    definition: pipeline.yml
    parameters: {learning_rate: 0.05, epochs: 3, early: true, note: null, big: 1e400}
    on: [push, dispatch]
codes:
  1: one
  2.5: two and a half
"""


def shape(doc: yamlfile.YamlDoc) -> tuple[object, ...]:
    """What a reader of the document uses: the data, and where every value and key is."""
    return (doc.data, {k: str(v) for k, v in doc.value_locations.items()}, {k: str(v) for k, v in doc.key_locations.items()})


def test_a_remembered_file_is_the_same_document(tmp_path: Path, yaml_cache: Path) -> None:
    path = tmp_path / "retrain.yml"
    path.write_text(TEXT)
    yamlfile.use_cache(None)
    parsed = load_yaml(path, display="retrain.yml")
    yamlfile.use_cache(yaml_cache)
    first = load_yaml(path, display="retrain.yml")
    assert len(list(yaml_cache.iterdir())) == 1
    second = load_yaml(path, display="retrain.yml")
    assert shape(first) == shape(second) == shape(parsed)
    assert str(second.where(("pipelines", "income", "parameters", "epochs"))) == "retrain.yml:6:47"
    assert str(second.where_key(("codes", 2.5))) == "retrain.yml:10:3"
    # The display is the reader's, not the one the entry was written under.
    assert str(load_yaml(path, display="elsewhere/retrain.yml").where(("backend",))) == "elsewhere/retrain.yml:2:10"


def test_a_command_reading_remembered_files_does_not_load_pyyaml(tmp_path: Path, yaml_cache: Path) -> None:
    path = tmp_path / "retrain.yml"
    path.write_text(TEXT)
    load_yaml(path)
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from retrain import yamlfile\n"
        f"yamlfile.use_cache(Path({str(yaml_cache)!r}))\n"
        f"doc = yamlfile.load_yaml(Path({str(path)!r}))\n"
        "print(json.dumps({'yaml': 'yaml' in sys.modules, 'epochs': doc.data['pipelines']['income']['parameters']['epochs']}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert json.loads(done.stdout) == {"yaml": False, "epochs": 3}


def test_a_changed_file_is_parsed_again_whatever_its_size_and_time(tmp_path: Path, yaml_cache: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text("epochs: 3\n")
    assert load_yaml(path).data == {"epochs": 3}
    stat = path.stat()
    path.write_text("epochs: 4\n")  # the same size, and the same times as before
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert load_yaml(path).data == {"epochs": 4}


def test_a_damaged_entry_is_parsed_again_and_replaced(tmp_path: Path, yaml_cache: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text("epochs: 3\nrate: 0.1\n")
    load_yaml(path)
    [entry] = yaml_cache.iterdir()
    for damage in (b"", b"\x00not marshal", entry.read_bytes()[:7]):
        entry.write_bytes(damage)
        assert load_yaml(path).data == {"epochs": 3, "rate": 0.1}
        assert load_yaml(path).data == {"epochs": 3, "rate": 0.1}  # from the rewritten entry
    assert list(yaml_cache.iterdir()) == [entry]


def test_what_is_reported_every_time_is_not_remembered(tmp_path: Path, yaml_cache: Path) -> None:
    dates = tmp_path / "dates.yml"
    dates.write_text("since: 2024-01-31\n")  # a date: marshal cannot hold it
    duplicated = tmp_path / "dup.yml"
    duplicated.write_text("a: 1\na: 2\n")
    bad = tmp_path / "bad.yml"
    bad.write_text("a: [1, 2\n")
    for _ in range(2):
        assert str(load_yaml(dates).data["since"]) == "2024-01-31"
        assert [p.message for p in load_yaml(duplicated).duplicate_keys] == [
            "the key 'a' appears twice; the second one would silently win."]
        with pytest.raises(InvalidFile, match="YAML syntax error"):
            load_yaml(bad)
    assert not yaml_cache.exists() or list(yaml_cache.iterdir()) == []


def test_a_cache_that_cannot_be_written_only_costs_a_parse(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    yamlfile.use_cache(blocked / "yaml")
    try:
        path = tmp_path / "p.yml"
        path.write_text("epochs: 3\n")
        assert load_yaml(path).data == load_yaml(path).data == {"epochs": 3}
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    finally:
        yamlfile.use_cache(None)


def test_the_folder_keeps_at_most_its_limit(tmp_path: Path, yaml_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlfile, "PARSED_LIMIT", 10)
    path = tmp_path / "p.yml"
    for i in range(25):
        path.write_text(f"epochs: {i}\n")
        load_yaml(path)
        assert len(list(yaml_cache.iterdir())) <= 10
    path.write_text("epochs: 24\n")
    [entry] = [e for e in yaml_cache.iterdir() if e.stat().st_mtime_ns == max(x.stat().st_mtime_ns for x in yaml_cache.iterdir())]
    assert load_yaml(path).data == {"epochs": 24}
    assert entry.exists()  # the newest entries are the ones kept
