"""A workflow's dispatch form remembered by the file's bytes (retrain/github/dispatch_form/workflow.py): the same form
and the same warnings either way, a changed file read again, and a `retrain validate` whose workflows did not change
does not load PyYAML."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from retrain import yamlfile
from retrain.github.dispatch_form.workflow import read_form

from tests.github.workflow_texts import BY_HAND, put
from tests.paths import ROOT

OTHER = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n"


def test_a_remembered_form_is_the_same_form(project: Path, yaml_cache: Path) -> None:
    path = put(project, BY_HAND)
    other = put(project, OTHER, "other.yml")
    yamlfile.use_cache(None)
    parsed = read_form(path, ".github/workflows/retrain.yml")
    yamlfile.use_cache(yaml_cache)
    first = read_form(path, ".github/workflows/retrain.yml")
    assert read_form(other, "other.yml") is None  # no retrain step: remembered as such too
    assert len(list(yaml_cache.iterdir())) == 2
    second = read_form(path, ".github/workflows/retrain.yml")
    assert parsed is not None and first == second == parsed
    assert [(i.name, i.type, i.default, str(i.location)) for i in second.inputs][1] == \
        ("epochs", "string", "3", ".github/workflows/retrain.yml:10:7")
    assert dict(second.steps[0].wired) == {"training_data": "training_data", "epochs": "epochs", "dropout": "dropout"}
    assert second.other_refs == frozenset({"version"})
    assert read_form(other, "other.yml") is None
    # The display is the reader's, not the one the entry was written under.
    assert str(read_form(path, "elsewhere.yml").form_location) == "elsewhere.yml:6:5"  # type: ignore[union-attr]


def test_a_changed_workflow_is_read_again(project: Path, yaml_cache: Path) -> None:
    path = put(project, BY_HAND)
    assert [i.type for i in read_form(path, "w.yml").inputs][1] == "string"  # type: ignore[union-attr]
    assert len(list(yaml_cache.iterdir())) == 1  # remembered
    stat = path.stat()
    path.write_text(BY_HAND.replace("type: string   # should be a number", "type: number   # should be a number"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same size and times: only the bytes differ
    assert [i.type for i in read_form(path, "w.yml").inputs][1] == "number"  # type: ignore[union-attr]


def test_a_form_with_a_date_is_read_every_time(project: Path, yaml_cache: Path) -> None:
    path = put(project, BY_HAND.replace("default: data/train.csv", "default: 2026-12-05"))
    first = read_form(path, "w.yml")
    assert first is not None and str(first.inputs[0].default) == "2026-12-05"
    assert not yaml_cache.exists()  # nothing remembered: marshal holds no date
    assert read_form(path, "w.yml") == first


def test_validate_with_unchanged_workflows_does_not_load_pyyaml(project: Path, tmp_path: Path) -> None:
    put(project, BY_HAND)
    put(project, OTHER, "other.yml")
    script = (
        "import json, sys\n"
        "from retrain.cli.main import main\n"
        f"code = main(['validate'], {{'XDG_CACHE_HOME': {str(tmp_path / 'xdg')!r}}})\n"
        "print(json.dumps({'code': code, 'yaml': 'yaml' in sys.modules}))\n"
    )
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=project,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
            for _ in range(2)]
    assert [json.loads(r.stdout.splitlines()[-1]) for r in runs] == [{"code": 0, "yaml": True}, {"code": 0, "yaml": False}]
    warnings = [r.stderr.splitlines() for r in runs]
    assert len(warnings[0]) == 4 and warnings[1] == warnings[0]
    assert all(line.startswith("warning: .github/workflows/retrain.yml:") for line in warnings[0]), warnings[0]
