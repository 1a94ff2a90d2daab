"""The Checks API client against the fake GitHub server, and the workflow-command writer."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrain.errors import Location, Problem
from retrain.github.api import GitHubAPI, GitHubError, GitHubForbidden
from retrain.github.checks import MAX_TEXT, Annotation, Checks, Output
from retrain.github.workflow import Workflow
from tests.fakes.github_api import FakeGitHub

SHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub().start()
    yield fake
    fake.stop()


def checks_for(github: FakeGitHub, token: str | None = None) -> Checks:
    return Checks(GitHubAPI(github.url, github.repository, token or github.token), SHA)


def test_lifecycle_in_progress_to_completed(github: FakeGitHub) -> None:
    checks = checks_for(github)
    check_id = checks.create("retrain / income", status="in_progress", output=Output("income: submit", "- submit_on: data"))
    checks.update(check_id, details_url="file:///runs/r1", external_id="rt-abc", output=Output("running", "2 of 6 steps"))
    checks.update(check_id, conclusion="success", output=Output("income: succeeded", "all good"))
    run = github.check_runs[check_id]
    assert run["history"] == ["in_progress", "completed"]
    assert (run["conclusion"], run["external_id"], run["details_url"]) == ("success", "rt-abc", "file:///runs/r1")
    assert run["completed_at"].endswith("Z")
    assert checks.find("retrain / income").id == check_id  # type: ignore[union-attr]
    assert checks.find("retrain / other") is None
    assert github.violations == []


def test_long_reports_and_many_annotations_fit_the_limits(github: FakeGitHub) -> None:
    checks = checks_for(github)
    annotations = [Annotation("retrain.yml", i, i, f"problem {i}", start_column=3) for i in range(1, 121)]
    check_id = checks.create("retrain", status="completed", conclusion="action_required",
                             output=Output("bad file", "x" * (MAX_TEXT + 500)), annotations=annotations)
    run = github.check_runs[check_id]
    assert github.violations == []
    assert len(run["annotations"]) == 120  # sent 50 + 50 + 20
    assert len(run["output"]["summary"]) == MAX_TEXT
    assert run["output"]["summary"].endswith("the job summary has the rest)")
    posts = [r for r in github.requests if r.method in ("POST", "PATCH")]
    assert [len(r.body["output"].get("annotations", [])) for r in posts] == [50, 50, 20]


def test_headers_are_the_documented_ones(github: FakeGitHub) -> None:
    checks_for(github).create("retrain / x", status="queued", output=Output("t", "s"))
    sent = github.requests[-1].headers
    assert sent["Accept"] == "application/vnd.github+json"
    assert sent["X-GitHub-Api-Version"] == "2022-11-28"
    assert sent["Authorization"] == f"Bearer {github.token}"
    assert sent["User-Agent"].startswith("retrain/")


def test_a_fork_token_gets_a_message_that_says_why(github: FakeGitHub) -> None:
    github.forbid_checks = True
    with pytest.raises(GitHubForbidden) as e:
        checks_for(github).create("retrain / x", status="queued", output=Output("t", "s"))
    assert str(e.value) == (
        "GitHub answered 403 to POST /check-runs: Resource not accessible by integration. The token may not write "
        "checks: give the job `permissions: checks: write` (a pull request from a fork never gets it)."
    )


def test_a_bad_token_never_appears_in_the_message(github: FakeGitHub) -> None:
    with pytest.raises(GitHubError) as e:
        checks_for(github, token="ghs_wrongtoken_SECRET").create("x", status="queued", output=Output("t", "s"))
    assert "401" in str(e.value) and "ghs_wrongtoken_SECRET" not in str(e.value)


def test_workflow_commands_escape_and_outputs_survive_newlines(tmp_path: Path) -> None:
    out = io.StringIO()
    wf = Workflow(out, tmp_path / "output", tmp_path / "summary", tmp_path)
    wf.mask("s3cr3t\nline2")
    wf.annotate(Problem("bad, really: bad.", Location(str(tmp_path / "retrain.yml"), 5, 7), ("pipelines", "x"), "Fix it."))
    wf.set_output("metrics", '{"auc": 0.9}\nsecond line')
    wf.summary("# Report")
    assert out.getvalue().splitlines() == [
        "::add-mask::s3cr3t",
        "::add-mask::line2",
        "::error file=retrain.yml,line=5,col=7,title=retrain::at pipelines.x: bad, really: bad. Fix it.",
    ]
    text = (tmp_path / "output").read_text()
    name, _, rest = text.partition("<<")
    delimiter, _, body = rest.partition("\n")
    assert name == "metrics"
    assert body == '{"auc": 0.9}\nsecond line\n' + delimiter + "\n"
    assert (tmp_path / "summary").read_text() == "# Report\n\n"
