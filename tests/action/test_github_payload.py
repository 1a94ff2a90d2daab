"""GitHub event payloads, as Actions delivers them (octokit/webhooks examples, see tests/fixtures/README.md),
become Events and plans; payloads of the wrong shape are bad input naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrain.cli.main import main
from retrain.errors import UsageError
from retrain.action.payload import MAX_DEPTH, event_from_payload, event_from_payload_file
from tests.paths import ROOT

GITHUB = ROOT / "tests" / "fixtures" / "github"


def fixture(name: str) -> dict:
    return json.loads((GITHUB / name).read_text())


def test_the_fixtures_have_the_actions_shape() -> None:
    for name in ("push-new-branch.json", "push-tag-deleted.json"):
        payload = fixture(name)
        commits = payload["commits"] + ([payload["head_commit"]] if payload["head_commit"] else [])
        assert all(not {"added", "modified", "removed"} & set(c) for c in commits)


def test_a_push_as_actions_delivers_it_does_not_know_its_files() -> None:
    event = event_from_payload_file("push", GITHUB / "push-new-branch.json")
    assert (event.name, event.branch, event.default_branch) == ("push", "master", "master")
    assert event.changed_files is None and not event.changed_files_complete
    assert event.new_branch
    assert event.sha == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert event.repository == "Codertocat/Hello-World"


def test_a_deleted_tag_is_a_deletion_and_not_a_merge() -> None:
    event = event_from_payload_file("push", GITHUB / "push-tag-deleted.json")
    assert event.deleted and event.tag == "simple-tag"
    assert not event.is_default_branch


def test_a_webhook_delivery_with_file_lists_uses_them_once_each() -> None:
    payload = fixture("push-new-branch.json")
    payload.update(before="6113728f27ae82c7b1a177c8d03f9e96e0adf246", created=False, after="0" * 39 + "1")
    payload["commits"][0].update(added=["data/a.csv"], modified=["README.md", "data/a.csv"], removed=[])
    event = event_from_payload("push", payload)
    assert event.changed_files == ("data/a.csv", "README.md") and event.changed_files_complete
    payload["commits"] = payload["commits"] * 20  # a payload lists at most 20 commits: more may be missing
    assert not event_from_payload("push", payload).changed_files_complete


def test_dispatch_inputs_and_pull_request_head() -> None:
    dispatch = event_from_payload_file("workflow_dispatch", GITHUB / "workflow_dispatch.json")
    assert (dispatch.name, dict(dispatch.inputs), dispatch.ref) == ("dispatch", {"name": "Mona the Octocat"}, "refs/heads/master")
    pr = event_from_payload_file("pull_request", GITHUB / "pull_request-opened.json")
    assert (pr.name, pr.sha, pr.branch, pr.changed_files) == ("pull_request", "ec26c3e57ca3a959ca5aad62de7213c562f8c821", "changes", None)


@pytest.mark.parametrize(("name", "expected"), [
    ("push-new-branch.json", "push"), ("push-tag-deleted.json", "push"),
    ("pull_request-opened.json", "pull_request"), ("workflow_dispatch.json", "dispatch"),
])
def test_without_a_name_the_payload_tells_its_event(name: str, expected: str) -> None:
    assert event_from_payload_file(None, GITHUB / name).name == expected


def test_an_unhandled_event_says_which_are() -> None:
    with pytest.raises(UsageError, match="retrain does not handle the 'issues' event"):
        event_from_payload("issues", {})


@pytest.mark.parametrize(("event", "change", "message"), [
    ("push", {"commits": "x"}, "commits should be an array, not a string"),
    ("push", {"repository": "o/r"}, "repository should be an object, not a string"),
    ("push", {"ref": 5}, "ref should be a string, not a number"),
    ("push", {"forced": "yes"}, "forced should be true or false, not a string"),
    ("push", {"commits": [{"added": [1]}]}, r"commits\[0\].added\[0\] should be a string, not a number"),
    ("push", {"commits": [7]}, r"commits\[0\] should be an object, not a number"),
    ("pull_request", {"pull_request": {"head": []}}, "pull_request.head should be an object, not an array"),
    ("workflow_dispatch", {"inputs": [1, 2]}, "inputs should be an object, not an array"),
    ("workflow_dispatch", {"inputs": {"a": {"b": 1}}}, "inputs.a should be a string, number or boolean, not an object"),
    ("workflow_dispatch", {"inputs": {"a\n::add-mask::x": [1]}}, r"inputs.a\\n::add-mask::x should be a string"),
])
def test_a_payload_of_the_wrong_shape_names_the_field(tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str],
                                                      event: str, change: dict, message: str) -> None:
    base = {"push": "push-new-branch.json", "pull_request": "pull_request-opened.json",
            "workflow_dispatch": "workflow_dispatch.json"}[event]
    payload = {**fixture(base), **change}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(UsageError, match=message):
        event_from_payload_file(event, path)
    # and through the command line: exit 2, the message, no traceback
    assert main(["plan", "--event", event, "--event-file", str(path)], {}) == 2
    err = capsys.readouterr().err
    assert f"the event payload {path}: " in err and "Traceback" not in err


def test_deep_and_huge_payloads_are_refused(tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"before": "0", "after": "1", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert main(["plan", "--event-file", str(deep)], {}) == 2
    assert f"nests deeper than {MAX_DEPTH} levels" in capsys.readouterr().err
    nested = tmp_path / "nested.json"
    nested.write_text('{"before": "0", "after": "1", "x": ' + "[" * 200 + "]" * 200 + "}")
    assert main(["plan", "--event-file", str(nested)], {}) == 2
    assert f"nests deeper than {MAX_DEPTH} levels" in capsys.readouterr().err
    huge = tmp_path / "huge.json"
    with huge.open("w") as f:
        f.truncate(26 * 1024 * 1024)
    assert main(["plan", "--event-file", str(huge)], {}) == 2
    assert "GitHub's payloads are at most 26,214,400" in capsys.readouterr().err


def push_to_main(changed: list[str] | None) -> dict:
    payload = fixture("push-new-branch.json")
    payload.update(ref="refs/heads/main", before="6113728f27ae82c7b1a177c8d03f9e96e0adf246",
                   after="0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", created=False)
    payload["repository"]["default_branch"] = "main"
    if changed is not None:  # as a webhook delivers it (the lists are there)
        payload["commits"][0].update(added=[], modified=changed, removed=[])
    return payload


def test_plan_reads_the_event_from_the_payload(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "push.json"
    path.write_text(json.dumps(push_to_main(["data/other.csv"])))
    assert main(["plan", "--event-file", str(path), "--json"], {}) == 0
    item = json.loads(capsys.readouterr().out)["items"][0]
    assert (item["publish"], item["submit"]) == (False, True)
    assert item["reasons"] == [{"rule": "submit_on: data", "detail": "data/other.csv matched data/**/*.csv"}]

    dispatch = tmp_path / "dispatch.json"
    dispatch.write_text(json.dumps({**fixture("workflow_dispatch.json"), "inputs": {}}))
    assert main(["plan", "--event", "workflow_dispatch", "--event-file", str(dispatch)], {}) == 0
    assert capsys.readouterr().out.startswith("event: dispatch")


def test_a_push_as_actions_delivers_it_plans_every_file_as_changed(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "push.json"
    path.write_text(json.dumps(push_to_main(None)))
    assert main(["plan", "--event-file", str(path)], {}) == 0
    out = capsys.readouterr().out
    assert "tiny: publish and submit" in out
    assert "because publish_on: merge: the changed files are not known, so every file counts as changed" in out


def test_a_tag_push_plans_nothing(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = push_to_main(["data/other.csv"])
    payload["ref"] = "refs/tags/v1"
    path = tmp_path / "tag.json"
    path.write_text(json.dumps(payload))
    assert main(["plan", "--event-file", str(path)], {}) == 0
    assert "because event: push of the tag v1: a tag is not a merge" in capsys.readouterr().out
