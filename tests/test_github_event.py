"""GitHub event payloads (shaped like the webhook documentation's examples) become Events and plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrain.cli import main
from retrain.errors import UsageError
from retrain.github.event import event_from_payload, event_from_payload_file

EVENTS = Path(__file__).parent / "fixtures" / "events"


def test_push_to_the_default_branch_lists_changed_files() -> None:
    event = event_from_payload_file("push", EVENTS / "push-data.json")
    assert event.name == "push"
    assert event.is_default_branch
    assert event.changed_files == ("data/other.csv",)
    assert event.changed_files_complete
    assert event.sha == "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
    assert event.repository == "octo-org/census"


def test_a_forced_push_does_not_trust_the_commit_list() -> None:
    event = event_from_payload_file("push", EVENTS / "push-forced.json")
    assert event.forced and not event.changed_files_complete


def test_twenty_commits_may_be_cut_short() -> None:
    payload = json.loads((EVENTS / "push-data.json").read_text())
    payload["commits"] = payload["commits"] * 20
    assert not event_from_payload("push", payload).changed_files_complete


def test_dispatch_inputs_and_pull_request_head() -> None:
    dispatch = event_from_payload_file("workflow_dispatch", EVENTS / "workflow_dispatch.json")
    assert (dispatch.name, dict(dispatch.inputs)) == ("dispatch", {"training_data": "data/other.csv", "epochs": "7"})
    pr = event_from_payload_file("pull_request", EVENTS / "pull_request.json")
    assert (pr.name, pr.sha, pr.changed_files) == ("pull_request", "ec26c3e57ca3a959ca5aad62de7213c562f8c821", None)


def test_an_unhandled_event_says_which_are() -> None:
    with pytest.raises(UsageError, match="retrain does not handle the 'issues' event"):
        event_from_payload("issues", {})


def test_plan_from_a_payload_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--event-file", str(EVENTS / "push-data.json"), "--json"], {}) == 0
    item = json.loads(capsys.readouterr().out)["items"][0]
    assert (item["publish"], item["submit"]) == (False, True)
    assert item["reasons"] == [{"rule": "submit_on: data", "detail": "data/other.csv matched data/**/*.csv"}]

    assert main(["plan", "--event-file", str(EVENTS / "push-feature.json")], {}) == 0
    assert "because event: push to feature/new-split, not the default branch main" in capsys.readouterr().out
