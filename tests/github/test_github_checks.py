"""The Checks API client against the fake GitHub server, and the workflow-command writer."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from retrain.errors import Location, Problem
from retrain.github.api import GitHubAPI, GitHubError, GitHubForbidden
from retrain.github.checks import MAX_TEXT, Annotation, Checks, NotOurCheck, Output
from retrain.github.workflow import Workflow
from tests.fakes.github_api import ACTIONS_APP, APP_TOKEN, OTHER_APP, Fault, FakeGitHub

SHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"


def checks_for(github: FakeGitHub, token: str | None = None) -> Checks:
    return Checks(GitHubAPI(github.url, github.repository, token or github.token), SHA)


def test_lifecycle_in_progress_to_completed(github: FakeGitHub) -> None:
    checks = checks_for(github)
    check_id = checks.create("retrain / income", status="in_progress", output=Output("income: submit", "- submit_on: data"))
    checks.update(check_id, details_url="file:///runs/r1", external_id="rc-abc rt-def", output=Output("running", "2 of 6 steps"))
    checks.update(check_id, conclusion="success", output=Output("income: succeeded", "all good"))
    run = github.check_runs[check_id]
    assert run["history"] == ["in_progress", "completed"]
    assert (run["conclusion"], run["external_id"], run["details_url"]) == ("success", "rc-abc rt-def", "file:///runs/r1")
    assert run["completed_at"].endswith("Z")
    assert checks.find("retrain / income", "rc-abc").id == check_id  # type: ignore[union-attr]  # by the work
    assert checks.find("retrain / income", "rt-def").id == check_id  # type: ignore[union-attr]  # by the run
    assert checks.find("retrain / income", "rt-other") is None
    assert checks.find("retrain / other", "rc-abc") is None
    assert github.violations == []


def test_long_reports_and_many_annotations_fit_the_limits(github: FakeGitHub) -> None:
    checks = checks_for(github)
    annotations = [Annotation("retrain.yml", i, i, f"problem {i}", start_column=3) for i in range(1, 121)]
    check_id = checks.create("retrain", status="completed", conclusion="action_required",
                             output=Output("bad file", "x" * (MAX_TEXT + 500)), annotations=annotations)
    run = github.check_runs[check_id]
    assert github.violations == []
    assert len(run["annotations"]) == 120  # sent 50 + 50 + 20
    summary = run["output"]["summary"]
    assert len(summary.encode()) <= MAX_TEXT
    assert summary.endswith(f"**... cut here: the last {66035 - summary.index('*') + 2:,} of 66,035 bytes are left out to fit "
                            "GitHub's 65,535-byte limit; the job summary has the whole report.**")
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


def test_a_group_title_is_escaped_as_startgroup_escapes_it(tmp_path: Path) -> None:
    # @actions/core startGroup sends its name as command data: % -> %25, CR -> %0D, LF -> %0A (the runner
    # turns them back in the title it shows). A pipeline or step name comes from the parameter file.
    out = io.StringIO()
    wf = Workflow(out, None, None, tmp_path)
    wf.group("tiny / 100% done\r\n::warning::x ##[add-mask]y \x1b[31m")
    wf.endgroup()
    assert out.getvalue().splitlines() == [
        "::group::tiny / 100%25 done%0D%0A::warning::x ##\\x5badd-mask]y \\x1b[31m",
        "::endgroup::",
    ]
    assert runner_reads(out.getvalue()) == ["group", "endgroup"]  # no command starts inside the title


def runner_reads(text: str) -> list[str]:
    """The workflow commands a runner would act on: a line starting with ``::name`` (after spaces), or holding
    ``##[name]`` anywhere."""
    import re

    found = []
    for line in text.splitlines():
        m = re.match(r"\s*::([A-Za-z-]+)", line)
        if m:
            found.append(m.group(1))
        found += re.findall(r"##\[([A-Za-z-]+)", line)
    return found


def test_limits_count_bytes_not_characters(github: FakeGitHub) -> None:
    # 30,000 three-byte characters are 90,000 bytes: GitHub refuses that although it is < 65,535 characters.
    checks = checks_for(github)
    check_id = checks.create("retrain / wide", status="in_progress", output=Output("t", "€" * 30_000))
    summary = github.check_runs[check_id]["output"]["summary"]
    assert github.violations == []
    kept = summary.split("\n\n**... cut here")[0]
    assert set(kept) == {"€"} and len(summary.encode()) <= MAX_TEXT
    assert f"the last {90_000 - len(kept.encode()):,} of 90,000 bytes are left out" in summary


class Sleeps(list):  # type: ignore[type-arg]
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def retrying(github: FakeGitHub) -> tuple[Checks, Sleeps]:
    sleeps = Sleeps()
    api = GitHubAPI(github.url, github.repository, github.token, sleep=sleeps)
    return Checks(api, SHA), sleeps


def test_a_final_patch_answered_502_once_still_completes(github: FakeGitHub) -> None:
    checks, sleeps = retrying(github)
    check_id = checks.create("retrain / income", status="in_progress", output=Output("running", "..."))
    github.faults.append(Fault("PATCH", r"/check-runs/\d+", 502, message="Bad Gateway"))
    checks.update(check_id, conclusion="success", output=Output("income: succeeded", "all good"))
    assert github.check_runs[check_id]["status"] == "completed"
    assert [r.method for r in github.requests] == ["POST", "PATCH", "PATCH"]
    assert github.requests[1].body == github.requests[2].body  # the same PATCH, repeated
    assert sleeps == [1.0]


def test_retry_after_and_a_dropped_connection(github: FakeGitHub) -> None:
    checks, sleeps = retrying(github)
    check_id = checks.create("retrain / income", status="in_progress", output=Output("running", "..."))
    github.faults += [Fault("PATCH", r"/check-runs/\d+", 503, {"Retry-After": "7"}),
                      Fault("PATCH", r"/check-runs/\d+", "drop")]
    checks.update(check_id, conclusion="failure", output=Output("income: failed", "step train failed"))
    assert github.check_runs[check_id]["conclusion"] == "failure"
    assert sleeps == [7.0, 2.0]


def test_a_secondary_rate_limit_waits_instead_of_being_a_permission(github: FakeGitHub) -> None:
    checks, sleeps = retrying(github)
    github.faults.append(Fault("POST", "/check-runs", 403, {"Retry-After": "30"},
                               message="You have exceeded a secondary rate limit. Please wait a few minutes before you try again."))
    check_id = checks.create("retrain / income", status="in_progress", output=Output("running", "..."))
    assert github.check_runs[check_id]["status"] == "in_progress"
    assert sleeps == [30.0]
    # a primary limit: x-ratelimit-remaining 0, wait until the reset time
    github.faults.append(Fault("PATCH", r"/check-runs/\d+", 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000000090"},
                               message="API rate limit exceeded for installation."))
    checks.api.clock = lambda: 1_000_000_000.0
    checks.update(check_id, conclusion="success", output=Output("done", "ok"))
    assert sleeps == [30.0, 90.0]
    assert github.check_runs[check_id]["status"] == "completed"


def test_a_post_is_not_repeated_after_a_5xx_and_errors_stay_clear(github: FakeGitHub) -> None:
    checks, sleeps = retrying(github)
    github.faults.append(Fault("POST", "/check-runs", 500))
    with pytest.raises(GitHubError, match="GitHub answered 500 to POST /check-runs: Server Error."):
        checks.create("retrain / income", status="in_progress", output=Output("running", "..."))
    assert sleeps == [] and github.check_runs == {}
    check_id = checks.create("retrain / income", status="in_progress", output=Output("running", "..."))
    github.faults += [Fault("PATCH", r"/check-runs/\d+", 502)] * 6
    with pytest.raises(GitHubError, match="GitHub answered 502 to PATCH /check-runs/"):
        checks.update(check_id, conclusion="success", output=Output("done", "ok"))
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_one_escaping_rule_for_data() -> None:
    from retrain import escape

    assert escape.value("a\nb\r\x1b[31m\u2028") == "a\\nb\\r\\x1b[31m\\u2028"
    first, second = escape.block("::add-mask::x\n  ::warning::y\n"), escape.block("z")
    token = first.splitlines()[0].removeprefix("::stop-commands::")
    assert first.splitlines() == [f"::stop-commands::{token}", "::add-mask::x", "  ::warning::y", f"::{token}::"]
    assert len(token) == 32 and token not in second  # a fresh token per block
    assert escape.command_data("50%\nok\x07") == "50%25%0Aok\\x07"
    assert escape.line("   ::add-mask::x") == "   \\x3a:add-mask::x" and escape.line("a ::b") == "a ::b"
    # the runner's older syntax acts anywhere in a line (actions/runner ActionCommand.TryParse): broken
    assert escape.value("a ##[add-mask]x") == "a ##\\x5badd-mask]x" and escape.line("##[warning]y") == "##\\x5bwarning]y"
    assert escape.lines("ok\n  ##[error]z") == ["ok", "  ##\\x5berror]z"] and escape.value("###[x]") == "###\\x5bx]"
    # inside a block it is shown as printed, and neither syntax can end the block early
    inside = escape.block("##[warning]w")
    stop = inside.splitlines()[0].removeprefix("::stop-commands::")
    assert inside.splitlines()[1] == "##[warning]w"
    assert escape.block_lines(f"::{stop.upper()}::\nx ##[{stop}]\nok", stop) == [f"\\x3a:{stop.upper()}::", f"x ##\\x5b{stop}]", "ok"]


def test_a_table_of_data_never_starts_a_line_with_a_command() -> None:
    from retrain.text import table

    text = table(("metric", "value"), [("::add-mask::x", 1), ("auc", 0.9)])
    assert "\\x3a:add-mask::x" in text
    assert not any(line.lstrip().startswith("::") for line in text.splitlines())


def test_the_job_summary_stays_under_a_mebibyte(tmp_path: Path) -> None:
    from retrain.github.workflow import MAX_SUMMARY_BYTES

    summary = tmp_path / "summary"
    wf = Workflow(io.StringIO(), summary_file=summary)
    for _ in range(3):
        wf.summary("é" * 400_000)  # 800,000 bytes each
    data = summary.read_bytes()
    assert len(data) <= MAX_SUMMARY_BYTES
    assert data.decode().rstrip().endswith("a step's job summary holds at most 1 MiB.**")
    assert data.decode().count("at most 1 MiB") == 1


def test_a_progress_update_retries_briefly_and_the_final_one_patiently(github: FakeGitHub) -> None:
    checks, sleeps = retrying(github)
    check_id = checks.create("retrain / income", status="in_progress", output=Output("running", "..."))
    github.faults += [Fault("PATCH", r"/check-runs/\d+", 503)] * 6
    with pytest.raises(GitHubError, match="GitHub answered 503"):
        checks.update(check_id, output=Output("running", "2 of 6 steps"), patient=False)
    assert sleeps == [1.0, 2.0, 4.0]  # within 8 s: the next update carries the same news
    sleeps.clear()
    checks.update(check_id, conclusion="success", output=Output("done", "ok"))  # two faults left, then through
    assert sleeps == [1.0, 2.0] and github.check_runs[check_id]["status"] == "completed"


def test_only_our_apps_check_runs_are_found_and_another_apps_is_never_changed(github: FakeGitHub) -> None:
    # The same name and key on one commit: one made with GITHUB_TOKEN (the GitHub Actions app), one by an App.
    theirs = github.add_check_run("retrain / income", SHA, external_id="rc-abc", app=ACTIONS_APP)
    app_checks = checks_for(github, token=APP_TOKEN)
    found = app_checks.find("retrain / income", "rc-abc")  # the token's App is not known yet: a candidate
    assert found is not None and (found.id, found.app_id) == (theirs["id"], ACTIONS_APP["id"])
    with pytest.raises(NotOurCheck) as refused:
        app_checks.update(found.id, conclusion="success", output=Output("done", "ok"))
    assert not isinstance(refused.value, GitHubForbidden)  # not "the token may not write checks"
    assert str(refused.value) == f"check run {theirs['id']} belongs to another GitHub App; retrain leaves it alone."
    assert github.refused == [(theirs["id"], OTHER_APP["id"])]
    app_checks.not_ours(found)
    assert app_checks.find("retrain / income", "rc-abc") is None  # never a candidate again
    ours = app_checks.create("retrain / income", status="in_progress", output=Output("t", "s"), external_id="rc-abc")
    assert github.check_runs[ours]["app"]["id"] == OTHER_APP["id"]
    assert app_checks.identity.app_id == OTHER_APP["id"]  # learnt from what it created
    assert app_checks.find("retrain / income", "rc-abc").id == ours  # type: ignore[union-attr]
    listed = [r.path for r in github.requests if r.method == "GET"][-1]
    assert f"app_id={OTHER_APP['id']}" in listed and "filter=all" in listed
    assert theirs["history"] == ["in_progress"] and theirs["conclusion"] is None and github.violations == []


def test_a_check_run_behind_many_of_the_same_name_is_found(github: FakeGitHub) -> None:
    # filter=latest would show one check run per name; a dispatch's own one may be any of a hundred and more.
    checks = checks_for(github)
    first = checks.create("retrain / income", status="in_progress", output=Output("t", "s"), external_id="rc-first")
    for i in range(120):
        checks.create("retrain / income", status="in_progress", output=Output("t", "s"), external_id=f"rc-{i}")
    assert checks.find("retrain / income", "rc-first").id == first  # type: ignore[union-attr]
    pages = [r.path for r in github.requests if r.method == "GET"]
    assert len(pages) == 2 and "page=2" in pages[1]
