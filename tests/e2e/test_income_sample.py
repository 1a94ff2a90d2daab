"""The seed's story end to end with the CLI: publish the income sample, train on US data, retrain on
the non-US data by setting the training_data parameter, and pin a version while a new one appears."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_process import retrain
from tests.paths import ROOT

pytest.importorskip("sklearn", reason="the income sample needs the sample extra: pip install '.[sample]'")
pytest.importorskip("pandas", reason="the income sample needs the sample extra: pip install '.[sample]'")

SAMPLE = ROOT / "examples" / "income"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A copy anywhere must run: the sample folder is self-contained.
    target = tmp_path_factory.mktemp("elsewhere") / "income"
    shutil.copytree(SAMPLE, target, ignore=shutil.ignore_patterns(".retrain", "__pycache__"))
    return target


def test_publish_train_and_retrain_on_other_data(sample: Path) -> None:
    published = retrain(sample, "publish")
    assert published.returncode == 0, published.stderr
    assert "income: published version 1 of endpoint income-retrain (the default)" in published.stdout

    us = retrain(sample, "submit", "income")
    assert us.returncode == 0, us.stdout + us.stderr
    for step in ("import_data", "clean_missing_data", "split_data", "train_model", "score_model", "evaluate_model"):
        assert f"  {step}: done" in us.stdout  # progress, step by step
    assert "[import_data] imported 29170 rows, 15 columns from adult-us.csv" in us.stdout

    nonus = retrain(sample, "submit", "income", "--set", "training_data=data/adult-nonus.csv")
    assert nonus.returncode == 0, nonus.stdout + nonus.stderr
    assert "[import_data] imported 3391 rows, 15 columns from adult-nonus.csv" in nonus.stdout

    runs = json.loads(retrain(sample, "runs", "--json").stdout)
    assert [Path(r["parameters"]["training_data"]).name for r in runs] == ["adult-nonus.csv", "adult-us.csv"]
    assert all(r["version"] == 1 and r["status"] == "completed" for r in runs)
    nonus_metrics, us_metrics = runs[0]["metrics"], runs[1]["metrics"]
    assert us_metrics["auc"] > 0.85  # held-out AUC on the US subset
    assert nonus_metrics["auc"] > 0.8
    assert set(us_metrics) >= {"auc", "accuracy", "precision", "recall", "f1"}
    assert nonus_metrics != us_metrics
    table = retrain(sample, "runs").stdout
    assert "training_data=data/adult-nonus.csv" in table and "auc=" in table


def test_versions_and_pins(sample: Path) -> None:
    assert retrain(sample, "publish").returncode == 0
    unchanged = retrain(sample, "publish")
    assert "income: unchanged, endpoint income-retrain keeps version 1" in unchanged.stdout

    script = sample / "src" / "import_data.py"
    script.write_text(script.read_text().replace('print(f"imported', 'print("version two of import_data")\nprint(f"imported'))
    changed = retrain(sample, "publish")
    assert "income: published version 2 of endpoint income-retrain" in changed.stdout
    # The sample has a promote: gate: version 2 trained as well as it must, so its run moved the default.
    assert "The gate passed (6 conditions): version 2 is now the default." in changed.stdout  # auc >= 0.9, 5 not worse
    endpoint = json.loads(retrain(sample, "endpoints", "income-retrain", "--json").stdout)
    assert [(v["number"], v["is_default"]) for v in endpoint["versions"]] == [(1, False), (2, True)]

    pinned = retrain(sample, "submit", "income", "--version", "1")
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    assert "version two of import_data" not in pinned.stdout  # version 1's code ran, not the working tree
    latest = retrain(sample, "submit", "income", "--version", "latest")
    assert latest.returncode == 0, latest.stdout + latest.stderr
    # Version 2's code ran in its gate run, on the same values: the run of latest reuses that step's outputs.
    assert "[import_data] version two of import_data" in changed.stdout
    assert "income: submitted run" in latest.stdout and "on version 2" in latest.stdout
    assert "  import_data: reused" in latest.stdout
