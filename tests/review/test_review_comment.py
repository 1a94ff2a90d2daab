"""The comparison where reviewers read: one sticky comment on the pull request, created once and then edited,
beside the check run and with the same numbers as it and the job summary; a token that may not comment falls
back to the job summary and says so. Through the action, as a runner starts it, against the fake GitHub."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.github_api import FakeGitHub
from tests.github_runner import HEAD, Runner, pull_request
from tests.review.scenario import add_gate, baseline_run, set_epochs

MARKER = "<!-- retrain:review retrain.yml -->"
PR = 2  # the number in the octokit example payload (pull_request-opened.json)


def drafts_on_pull_requests(project: Path) -> None:
    text = (project / "retrain.yml").read_text().replace("submit_on: [merge, data, dispatch]", "submit_on: [merge, data, pull_request]")
    (project / "retrain.yml").write_text(text)


def section(text: str, heading: str) -> list[str]:
    """The lines of a report's section, from its heading to the next one."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return [line for line in lines[start:end] if line.strip()]


def test_one_comment_is_created_then_edited_with_the_check_runs_numbers(runner: Runner, github: FakeGitHub, project: Path) -> None:
    drafts_on_pull_requests(project)
    add_gate(project)
    base = baseline_run(runner, github)
    set_epochs(project, 1)
    github.compare_files = ["pipelines/tiny/pipeline.yml"]
    someone = github.add_comment(PR, f"quoting the bot: {MARKER} looks worse", user={"login": "octocat", "id": 1, "type": "User"})

    result = runner.run(runner.env("pull_request", pull_request(github)))
    assert result.code == 0, result.stderr + result.stdout
    [check] = github.runs_named("retrain / tiny")
    [quoted, ours] = github.comments_on(PR)
    assert quoted == {k: v for k, v in someone.items() if k != "_issue"}  # someone else's comment is left alone
    assert ours["user"]["login"] == "github-actions[bot]" and ours["body"].startswith(MARKER + "\n")
    body = ours["body"]
    assert f"For commit `{HEAD[:7]}` ([workflow run](https://github.com/{github.repository}/actions/runs/7781))" in body
    assert f"[check run](https://github.com/{github.repository}/runs/{check['id']})" in body
    assert f"baseline: run {base} (version 1)" in body
    # The same numbers in the check run, the job summary and the comment: the comparison, the gate, the trend.
    for heading in ("#### Metrics against the baseline", "#### Promotion gate", "#### Trend"):
        shown = section(check["output"]["summary"], heading)
        assert len(shown) > 3 and shown == section(body, heading) == section(result.summary, heading), heading
    assert "| <code>score</code> | 0.523 | 0.563 | −0.04 | ▼ worse (higher is better) |" in body
    assert f"commented on pull request #{PR}: https://github.com/{github.repository}/pull/{PR}#issuecomment-{ours['id']}" in result.stdout

    # A later push to the pull request: the same comment, edited in place.
    payload = pull_request(github)
    payload["pull_request"]["head"]["sha"] = "f" * 40
    runner.reset_files()
    again = runner.run(runner.env("pull_request", payload))
    assert again.code == 0, again.stderr + again.stdout
    [_, edited] = github.comments_on(PR)
    assert edited["id"] == ours["id"] and "For commit `fffffff`" in edited["body"]
    assert [r.method for r in github.requests if "/comments" in r.path and r.method != "GET"] == ["POST", "PATCH"]
    assert f"updated the comment on pull request #{PR}" in again.stdout
    assert github.violations == []


def test_a_token_that_may_not_comment_falls_back_to_the_job_summary(runner: Runner, github: FakeGitHub, project: Path) -> None:
    drafts_on_pull_requests(project)
    baseline_run(runner, github)
    set_epochs(project, 1)
    github.compare_files = ["pipelines/tiny/pipeline.yml"]
    github.forbid_comments = True
    result = runner.run(runner.env("pull_request", pull_request(github)))
    assert result.code == 0, result.stderr + result.stdout
    assert github.comments_on(PR) == []
    warnings = [line for line in result.stdout.splitlines() if line.startswith("::warning title=retrain%3A no pull request comment::")]
    assert len(warnings) == 1 and "permissions: pull-requests: write" in warnings[0]
    assert f"retrain could not comment on pull request #{PR}: the token may not comment" in result.summary
    assert "| <code>score</code> | 0.523 | 0.563 | −0.04 | ▼ worse (higher is better) |" in result.summary
    [check] = github.runs_named("retrain / tiny")
    assert check["conclusion"] == "success"  # the check run is not affected


def test_a_personal_token_finds_its_comment_by_its_login(runner: Runner, github: FakeGitHub, project: Path) -> None:
    drafts_on_pull_requests(project)
    baseline_run(runner, github)
    github.token_user = "release-bot-person"
    github.compare_files = ["pipelines/tiny/pipeline.yml"]
    set_epochs(project, 1)
    # A bot's comment with the marker is not the personal token's own; ours comes after two pages of others.
    github.add_comment(PR, MARKER + "\nold", user={"login": "github-actions[bot]", "id": 41898282, "type": "Bot"})
    for i in range(120):
        github.add_comment(PR, f"comment {i}", user={"login": "octocat", "id": 1, "type": "User"})
    assert runner.run(runner.env("pull_request", pull_request(github))).code == 0
    runner.reset_files()
    assert runner.run(runner.env("pull_request", pull_request(github))).code == 0
    comments = [c for c in github.comments_on(PR) if c["user"]["login"] != "octocat"]
    assert [c["user"]["login"] for c in comments] == ["github-actions[bot]", "release-bot-person"]
    assert comments[0]["body"] == MARKER + "\nold"
    lists = [r.path for r in github.requests if r.method == "GET" and r.path.startswith(f"/repos/{github.repository}/issues/{PR}/comments")]
    assert any("page=2" in path for path in lists)  # the second run found its comment on the second page
    assert github.violations == []


def test_a_pull_request_that_runs_nothing_posts_no_comment(runner: Runner, github: FakeGitHub) -> None:
    result = runner.run(runner.env("pull_request", pull_request(github)))
    assert result.code == 0, result.stderr
    assert github.comments_on(PR) == []
    assert not [r for r in github.requests if r.method == "POST" and "/comments" in r.path]
