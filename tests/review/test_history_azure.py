"""The record of default moves on Azure ML v2, against the fake Azure: each move is a tag of the batch endpoint,
written in the same PUT that moves the default deployment, within Resource Manager's tag limits (the fake
refuses more than 50 tags or a value past 256 characters); `retrain history` and `retrain rollback` through the
command line."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from retrain.backends.azureml.moves import KEEP, PREFIX, moves_of, tag_of, with_move
from retrain.backends.base import DefaultMove
from retrain.cli.main import main
from tests.fakes.azure import FakeAzure
from tests.backends.azureml.workspace import backend_for, project
from tests.review.azure_gate import default_deployment, run


def endpoint_tags(azure: FakeAzure) -> dict[str, str]:
    return azure.resources[f"{azure.workspace_path}/batchEndpoints/income-retrain"]["tags"]


def test_history_and_rollback_against_the_fake_azure(azure: FakeAzure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    project(tmp_path)
    run(azure, tmp_path, ">= 0.9", publish=True)  # version 1, the first: its default
    project(tmp_path, code="print('v2')\n")
    run(azure, tmp_path, ">= 0.95", publish=True)  # version 2 fails its gate
    project(tmp_path, code="print('v3')\n")
    [better], _ = run(azure, tmp_path, ">= 0.9", publish=True)  # version 3 passes: the default
    assert default_deployment(azure) == "v3"
    assert [k for k in endpoint_tags(azure) if k.startswith(PREFIX)] == sorted(k for k in endpoint_tags(azure) if k.startswith(PREFIX))

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azure.ca_file))
    environ = {"AZURE_TENANT_ID": azure.tenant, "AZURE_CLIENT_ID": azure.client_id, "AZURE_CLIENT_SECRET": azure.client_secret,
               "AZURE_AUTHORITY_HOST": azure.url, "RETRAIN_ARM_ENDPOINT": azure.url, "RETRAIN_STORAGE_ENDPOINT": f"{azure.url}/blob",
               "GITHUB_ACTOR": "octocat"}
    capsys.readouterr()
    assert main(["promote", "income", "2", "--force", "--reason", "the gate's threshold was a typo " * 12], environ) == 0
    assert default_deployment(azure) == "v2"

    capsys.readouterr()
    assert main(["history", "income", "--json"], environ) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["default_version"] == 2
    assert [(m["kind"], m["from_version"], m["to_version"], m["actor"], m["verdict"]) for m in doc["moves"]] == [
        ("force", 3, 2, "octocat", "not checked"), ("gate", 1, 3, "unknown", "passed"), ("publish", None, 1, "unknown", None)]
    force, gate, _ = doc["moves"]
    assert force["reason"].startswith("the gate's threshold was a typo the gate's") and force["reason"].endswith("…")
    assert gate["run_id"] == better.run.id and gate["source_commit"] == "c0ffee"
    assert all(len(v) <= 256 for v in endpoint_tags(azure).values())

    assert main(["rollback", "income", "--reason", "back to the gated one"], environ) == 0
    assert "version 3 of income-retrain is the default again (was 2)" in capsys.readouterr().out
    assert default_deployment(azure) == "v3"
    assert main(["rollback", "income"], environ) == 0
    assert default_deployment(azure) == "v1"
    assert main(["rollback", "income"], environ) == 2
    assert "nothing to roll back to" in capsys.readouterr().err
    assert main(["history", "income"], environ) == 0
    text = capsys.readouterr().out
    assert "3 -> 1  rollback" in text and "2 -> 3  rollback" in text and "back to the gated one" in text
    assert azure.violations == []


def move(n: int, reason: str = "") -> DefaultMove:
    at = datetime(2026, 12, 1, tzinfo=timezone.utc) + timedelta(minutes=n)
    return DefaultMove(id=f"{n:032x}", endpoint="e", from_version=n, to_version=n + 1, kind="promote", actor="a" * 39, at=at,
                       source_commit="f" * 40, run_id="rt-" + "0" * 24, verdict="passed", reason=reason)


def test_the_tags_keep_the_newest_moves_within_the_limits() -> None:
    name, value = tag_of(move(1, "why | with a bar\nand a newline " * 20))
    assert len(value) == 256 and len(name) < 512
    [back] = moves_of("e", {name: value})
    assert back.reason.startswith("why | with a bar and a newline why") and back.actor == "a" * 39
    assert (back.from_version, back.to_version, back.at, back.id) == (1, 2, move(1).at, move(1).id)

    tags = {"owner": "team-a"}
    for n in range(KEEP + 5):
        tags = with_move(tags, move(n))
    kept = moves_of("e", tags)
    assert len(kept) == KEEP and kept[0].from_version == 5 and kept[-1].from_version == KEEP + 4
    assert tags["owner"] == "team-a" and len(tags) == KEEP + 1


def test_a_v1_designer_endpoint_has_no_record_and_says_so(tmp_path: Path) -> None:
    from retrain.errors import UsageError
    from retrain.review.history import Mover, moves, rollback
    from tests.fakes.azure import fake_azure

    with fake_azure(tmp_path) as fake:
        fake.add_v1_endpoint("income-designer", {"0": {"parameters": {}}, "1": {"parameters": {}}}, default="0")
        backend = backend_for(fake)
        with pytest.raises(UsageError, match="the azureml-v1 backend keeps no record of default moves: retrain does not move"):
            moves(backend, "income-designer")
        with pytest.raises(UsageError, match="nothing for retrain rollback"):
            rollback(backend, "income-designer", Mover("ada"), "")
        assert backend.endpoint("income-designer").default_version == 0


def test_other_tags_leave_less_room_and_never_stop_the_move() -> None:
    tags = {f"team.{i}": "x" for i in range(45)}
    for n in range(10):
        tags = with_move(tags, move(n))
    assert len(tags) == 50 and [m.from_version for m in moves_of("e", tags)] == [5, 6, 7, 8, 9]
    full = {f"team.{i}": "x" for i in range(50)}
    assert with_move(full, move(1)) == full  # no room at all: nothing recorded, and the PUT still fits
