"""A fake GitHub REST API on 127.0.0.1: the Checks API (create, update, list for a ref), compare, and issue
comments (list, create, update) with ``GET /user``.

Compare follows the REST reference ("Compare two commits"): with ``per_page``/``page`` the commits are
paginated with a ``Link`` header, and "the list of changed files is only shown on the first page of
results, and it includes up to 300 changed files for the entire comparison". ``faults`` queue answers
(a status, headers, a body, or ``"drop"`` to close the connection unanswered) for the next matching
requests, to test retries.

It keeps check runs as GitHub does and checks every request against the documented shape (REST API
"Checks" reference, api version 2022-11-28): the headers, the allowed and required fields, the enums,
the output limits (summary/text at most 65535 characters, at most 50 annotations a request), columns only
on one-line annotations, and that a completed check has a conclusion. A request that breaks a rule is
answered 422 as GitHub would and recorded in ``violations``; one the test did not expect (``expect_violation``)
fails it at teardown (tests/fakes/ledger.py).

Check runs belong to the GitHub App whose token created them (``apps``: token -> the ``app`` object a check
run answers with; ``GITHUB_TOKEN`` acts as the GitHub Actions app, id 15368). An update of another App's
check run is answered 403 with GitHub's message ("Invalid app_id `15368` - check run can only be modified
by the GitHub App that created it.") and recorded in ``refused``. Listing a commit's check runs takes the
documented ``check_name``, ``status``, ``filter`` (``latest``: the newest of each name, the default; ``all``)
and ``app_id`` parameters, paginated with ``per_page``/``page`` and a ``Link`` header.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from tests.fakes import ledger

STATUSES = {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
CONCLUSIONS = {"action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"}
LEVELS = {"notice", "warning", "failure"}
CREATE_FIELDS = {"name", "head_sha", "details_url", "external_id", "status", "started_at", "conclusion",
                 "completed_at", "output", "actions"}
UPDATE_FIELDS = CREATE_FIELDS - {"head_sha"}
OUTPUT_FIELDS = {"title", "summary", "text", "annotations", "images"}
ANNOTATION_FIELDS = {"path", "start_line", "end_line", "start_column", "end_column", "annotation_level",
                     "message", "title", "raw_details"}
SHA = re.compile(r"[0-9a-f]{40}")
ACTIONS_APP = {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"}
OTHER_APP = {"id": 918273, "slug": "octo-ci-bot", "name": "Octo CI Bot"}
APP_TOKEN = "ghs_appinstallation0123456789abcdef"  # an installation token of OTHER_APP


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    method: str
    path: str  # a regular expression, matched against the path after /repos/{owner}/{repo}
    status: int | str  # an HTTP status, or "drop": close the connection without an answer
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "Server Error"
    body_has: str | None = None  # only requests whose JSON body has this key (e.g. "conclusion": the final update)


@dataclass
class FakeGitHub:
    token: str = "ghs_fake0123456789abcdefABCDEF"
    repository: str = "octo-org/census"
    forbid_checks: bool = False
    compare_files: list[str] = field(default_factory=list)
    compare_commits: int = 1
    faults: list["Fault"] = field(default_factory=list)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Issue comments (a pull request's are its issue's): id -> the comment as GitHub shows it, plus "_issue".
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    forbid_comments: bool = False  # a read-only token (a fork's pull request, no pull-requests: write): 403 on writes
    token_user: str | None = None  # a personal token's user; None: an installation token (GITHUB_TOKEN), a bot
    requests: list[Recorded] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> app; the main token -> ACTIONS_APP
    refused: list[tuple[int, int]] = field(default_factory=list)  # (check run, app) of updates refused as not the owner's
    expected_violations: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_id: int = 4_000_000_001

    def start(self) -> "FakeGitHub":
        fake = self
        self.apps.setdefault(self.token, ACTIONS_APP)
        self.apps.setdefault(APP_TOKEN, OTHER_APP)

        class Handler(BaseHTTPRequestHandler):
            # One write per answer and no Nagle delay: otherwise each small answer waits ~40 ms for an ACK.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        ledger.started(self)  # tests/conftest.py fails the test on a violation it did not expect
        return self

    def expect_violation(self, text: str) -> None:
        """The test means to send a request GitHub refuses (a violation containing ``text``)."""
        self.expected_violations.append(text)

    def violation_report(self) -> str | None:
        return ledger.report("fake GitHub", self.violations, self.expected_violations)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def runs_named(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.check_runs.values() if r["name"] == name]

    def add_check_run(self, name: str, head_sha: str, *, app: dict[str, Any] = ACTIONS_APP, external_id: str = "",
                      status: str = "in_progress") -> dict[str, Any]:
        """A check run made by someone else (the runner's check run of a job, another App's), as GitHub keeps it."""
        with self._lock:
            check_id = self._next_id
            self._next_id += 1
            run = {"id": check_id, "node_id": f"CR_{check_id}", "name": name, "head_sha": head_sha,
                   "external_id": external_id, "details_url": f"https://github.com/{self.repository}/actions/runs/1/job/{check_id}",
                   "url": f"{self.url}/repos/{self.repository}/check-runs/{check_id}",
                   "html_url": f"https://github.com/{self.repository}/runs/{check_id}", "status": status,
                   "conclusion": None, "started_at": "2026-01-01T00:00:00Z", "completed_at": None,
                   "output": {"title": None, "summary": None, "text": None}, "annotations": [],
                   "check_suite": {"id": 5_000_000_002}, "app": dict(app), "pull_requests": [], "history": [status]}
            self.check_runs[check_id] = run
        return run

    # -- request handling -------------------------------------------------------------------------

    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        h.end_headers()
        h.wfile.write(data)

    def _invalid(self, h: BaseHTTPRequestHandler, problems: list[str]) -> None:
        self.violations.extend(problems)
        self._reply(h, 422, {"message": "Invalid request.\n\n" + "\n".join(problems),
                             "documentation_url": "https://docs.github.com/rest/checks/runs"})

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            self.requests.append(Recorded(method, h.path, dict(h.headers.items()), body))
        auth = h.headers.get("Authorization") or ""
        app = self.apps.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if app is None:
            return self._reply(h, 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        header_problems = []
        if h.headers.get("Accept") != "application/vnd.github+json":
            header_problems.append(f"Accept header is {h.headers.get('Accept')!r}, documented: application/vnd.github+json")
        if h.headers.get("X-GitHub-Api-Version") != "2022-11-28":
            header_problems.append("X-GitHub-Api-Version header missing or not 2022-11-28")
        if header_problems:
            return self._invalid(h, header_problems)
        if method == "GET" and url.path == "/user":
            return self._user(h)
        prefix = f"/repos/{self.repository}"
        if not url.path.startswith(prefix + "/"):
            return self._reply(h, 404, {"message": "Not Found"})
        path = url.path[len(prefix):]
        for fault in list(self.faults):
            if fault.method == method and re.fullmatch(fault.path, path) and (
                    fault.body_has is None or (isinstance(body, dict) and fault.body_has in body)):
                with self._lock:
                    self.faults.remove(fault)
                if fault.status == "drop":
                    h.close_connection = True
                    return  # no answer at all: the client sees the connection dropped
                data = json.dumps({"message": fault.message, "documentation_url": "https://docs.github.com/rest"}).encode()
                h.send_response(int(fault.status))
                for k, v in {"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(data)), **fault.headers}.items():
                    h.send_header(k, v)
                h.end_headers()
                h.wfile.write(data)
                return
        if self.forbid_checks and "check-runs" in path and method != "GET":
            return self._reply(h, 403, {"message": "Resource not accessible by integration",
                                        "documentation_url": "https://docs.github.com/rest/checks/runs#create-a-check-run"})
        if (m := re.fullmatch(r"/issues/(\d+)/comments", path)) and method in ("GET", "POST"):
            return self._issue_comments(h, method, int(m.group(1)), body, parse_qs(url.query), url.path)
        if method == "PATCH" and (m := re.fullmatch(r"/issues/comments/(\d+)", path)):
            return self._edit_comment(h, int(m.group(1)), body)
        if method == "POST" and path == "/check-runs":
            return self._create(h, body, app)
        if method == "PATCH" and (m := re.fullmatch(r"/check-runs/(\d+)", path)):
            return self._update(h, int(m.group(1)), body, app)
        if method == "GET" and (m := re.fullmatch(r"/commits/([^/]+)/check-runs", path)):
            return self._list(h, m.group(1), parse_qs(url.query))
        if method == "GET" and (m := re.fullmatch(r"/compare/([^/.]+)\.\.\.([0-9a-f]{40})", path)):
            return self._compare(h, url.path, parse_qs(url.query))
        return self._reply(h, 404, {"message": "Not Found"})

    def _compare(self, h: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        paged = "per_page" in query or "page" in query
        per_page = min(int((query.get("per_page") or ["30"])[0]), 100) if paged else 250
        page = int((query.get("page") or ["1"])[0])
        commits = [{"sha": f"{i:040x}", "commit": {"message": f"commit {i}"}} for i in range(self.compare_commits)]
        shown = commits[(page - 1) * per_page : page * per_page]
        files = [{"filename": f, "status": "modified", "additions": 1, "deletions": 1, "changes": 2}
                 for f in self.compare_files[:300]] if page == 1 else []
        body = json.dumps({"status": "ahead", "ahead_by": len(commits), "behind_by": 0, "total_commits": len(commits),
                           "commits": shown, "files": files}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        if paged and page * per_page < len(commits):
            h.send_header("Link", f'<{self.url}{path}?per_page={per_page}&page={page + 1}>; rel="next"')
        h.end_headers()
        h.wfile.write(body)

    def _check_body(self, body: Any, allowed: set[str]) -> list[str]:
        if not isinstance(body, dict):
            return ["the body is not a JSON object"]
        problems = [f"unknown field {k!r}" for k in body if k not in allowed]
        if "status" in body and body["status"] not in STATUSES:
            problems.append(f"status {body['status']!r} is not one of {sorted(STATUSES)}")
        if "conclusion" in body and body["conclusion"] not in CONCLUSIONS:
            problems.append(f"conclusion {body['conclusion']!r} is not one of {sorted(CONCLUSIONS)}")
        if body.get("status") == "completed" and "conclusion" not in body:
            problems.append("a completed check run needs a conclusion")
        if "external_id" in body and not isinstance(body["external_id"], str):
            problems.append("external_id must be a string")
        output = body.get("output")
        if output is not None:
            problems += self._check_output(output)
        return problems

    def _check_output(self, output: Any) -> list[str]:
        if not isinstance(output, dict):
            return ["output must be an object"]
        problems = [f"unknown output field {k!r}" for k in output if k not in OUTPUT_FIELDS]
        for key in ("title", "summary"):
            if not isinstance(output.get(key), str):
                problems.append(f"output.{key} is required and must be a string")
        for key in ("summary", "text"):
            # GitHub counts the limit in bytes ("Maximum length: 65535 characters" is enforced on the UTF-8 body).
            if isinstance(output.get(key), str) and len(output[key].encode("utf-8")) > 65535:
                problems.append(f"output.{key} is longer than 65535 bytes")
        annotations = output.get("annotations") or []
        if len(annotations) > 50:
            problems.append(f"{len(annotations)} annotations in one request; at most 50")
        for a in annotations:
            problems += [f"unknown annotation field {k!r}" for k in a if k not in ANNOTATION_FIELDS]
            for key in ("path", "start_line", "end_line", "annotation_level", "message"):
                if key not in a:
                    problems.append(f"annotation without {key}")
            if a.get("annotation_level") not in LEVELS:
                problems.append(f"annotation_level {a.get('annotation_level')!r} is not one of {sorted(LEVELS)}")
            if ("start_column" in a or "end_column" in a) and a.get("start_line") != a.get("end_line"):
                problems.append("start_column/end_column are only allowed when start_line equals end_line")
        return problems

    def _public(self, run: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in run.items() if k != "annotations"}
        out["output"] = {**run["output"], "annotations_count": len(run["annotations"]),
                         "annotations_url": f"{self.url}/repos/{self.repository}/check-runs/{run['id']}/annotations"}
        return out

    def _create(self, h: BaseHTTPRequestHandler, body: Any, app: dict[str, Any]) -> None:
        problems = self._check_body(body, CREATE_FIELDS)
        if isinstance(body, dict):
            if not isinstance(body.get("name"), str) or not body.get("name"):
                problems.append("name is required")
            if not isinstance(body.get("head_sha"), str) or not SHA.fullmatch(body["head_sha"]):
                problems.append("head_sha is required and must be a 40-character commit SHA")
        if problems:
            return self._invalid(h, problems)
        with self._lock:
            check_id = self._next_id
            self._next_id += 1
            output = body.get("output") or {}
            run = {
                "id": check_id, "node_id": f"CR_{check_id}", "name": body["name"], "head_sha": body["head_sha"],
                "external_id": body.get("external_id", ""), "details_url": body.get("details_url"),
                "url": f"{self.url}/repos/{self.repository}/check-runs/{check_id}",
                "html_url": f"https://github.com/{self.repository}/runs/{check_id}",
                "status": "completed" if "conclusion" in body else body.get("status", "queued"),
                "conclusion": body.get("conclusion"), "started_at": body.get("started_at"), "completed_at": body.get("completed_at"),
                "output": {"title": output.get("title"), "summary": output.get("summary"), "text": output.get("text")},
                "annotations": list(output.get("annotations") or []),
                "check_suite": {"id": 5_000_000_001 + app["id"]}, "app": dict(app), "pull_requests": [],
                "history": [body.get("status", "queued") if "conclusion" not in body else "completed"],
            }
            self.check_runs[check_id] = run
        self._reply(h, 201, self._public(run))

    def _update(self, h: BaseHTTPRequestHandler, check_id: int, body: Any, app: dict[str, Any]) -> None:
        run = self.check_runs.get(check_id)
        if run is None:
            return self._reply(h, 404, {"message": "Not Found"})
        if run["app"]["id"] != app["id"]:
            with self._lock:
                self.refused.append((check_id, app["id"]))
            return self._reply(h, 403, {
                "message": f"Invalid app_id `{run['app']['id']}` - check run can only be modified by the GitHub App that created it.",
                "documentation_url": "https://docs.github.com/rest/checks/runs#update-a-check-run"})
        problems = self._check_body(body, UPDATE_FIELDS)
        if problems:
            return self._invalid(h, problems)
        with self._lock:
            for key in ("name", "details_url", "external_id", "started_at", "completed_at"):
                if key in body:
                    run[key] = body[key]
            if "conclusion" in body:
                run["conclusion"] = body["conclusion"]
                run["status"] = "completed"
            elif "status" in body:
                run["status"] = body["status"]
            if run["history"][-1] != run["status"]:
                run["history"].append(run["status"])
            if "output" in body:
                out = body["output"]
                run["output"] = {"title": out.get("title"), "summary": out.get("summary"), "text": out.get("text")}
                run["annotations"] += list(out.get("annotations") or [])  # GitHub appends annotations
        self._reply(h, 200, self._public(run))

    def _list(self, h: BaseHTTPRequestHandler, ref: str, query: dict[str, list[str]]) -> None:
        def one(key: str) -> str | None:
            values = query.get(key)
            return values[0] if values else None

        name, status, app_id, which = one("check_name"), one("status"), one("app_id"), one("filter") or "latest"
        if which not in ("latest", "all") or (status is not None and status not in ("queued", "in_progress", "completed")):
            return self._invalid(h, [f"filter {which!r} or status {status!r} is not documented"])
        runs = [r for r in self.check_runs.values() if r["head_sha"] == ref and (name is None or r["name"] == name)
                and (status is None or r["status"] == status) and (app_id is None or str(r["app"]["id"]) == app_id)]
        runs.sort(key=lambda r: r["id"], reverse=True)
        if which == "latest":  # the most recent check run of each name
            seen: set[str] = set()
            runs = [r for r in runs if not (r["name"] in seen or seen.add(r["name"]))]  # type: ignore[func-returns-value]
        per_page = min(int(one("per_page") or 30), 100)
        page = int(one("page") or 1)
        shown = runs[(page - 1) * per_page : page * per_page]
        data = json.dumps({"total_count": len(runs), "check_runs": [self._public(r) for r in shown]}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        if page * per_page < len(runs):
            link = urlencode({**{k: v[0] for k, v in query.items() if k != "page"}, "page": str(page + 1)})
            h.send_header("Link", f'<{self.url}/repos/{self.repository}/commits/{ref}/check-runs?{link}>; rel="next"')
        h.end_headers()
        h.wfile.write(data)

    # -- issue comments ("Issues > Comments" in the REST reference, API version 2022-11-28) -------------------

    def author(self) -> dict[str, Any]:
        """Who the token writes as: its user, or for an installation token (GITHUB_TOKEN) the Actions bot."""
        user = json.loads(COMMENT_EXAMPLE.read_text())["user"]
        login, uid, kind = (self.token_user, 583231, "User") if self.token_user else ("github-actions[bot]", 41898282, "Bot")
        return {**{k: (v.replace("Codertocat", login) if isinstance(v, str) else v) for k, v in user.items()},
                "login": login, "id": uid, "type": kind, "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4"}

    def add_comment(self, issue: int, body: str, user: dict[str, Any] | None = None) -> dict[str, Any]:
        """A comment as GitHub keeps it, built from the published example (tests/fixtures/README.md)."""
        with self._lock:
            cid = self._next_id
            self._next_id += 1
            example = json.loads(COMMENT_EXAMPLE.read_text())
            comment = {**example, "id": cid, "node_id": f"IC_{cid}", "body": body, "user": user or self.author(),
                       "url": f"{self.url}/repos/{self.repository}/issues/comments/{cid}",
                       "html_url": f"https://github.com/{self.repository}/pull/{issue}#issuecomment-{cid}",
                       "issue_url": f"{self.url}/repos/{self.repository}/issues/{issue}",
                       "author_association": "NONE" if user is None and not self.token_user else "OWNER",
                       "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "_issue": issue}
            comment["updated_at"] = comment["created_at"]
            self.comments[cid] = comment
        return comment

    def comments_on(self, issue: int) -> list[dict[str, Any]]:
        return [self._shown(c) for c in sorted(self.comments.values(), key=lambda c: c["id"]) if c["_issue"] == issue]

    @staticmethod
    def _shown(comment: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in comment.items() if not k.startswith("_")}

    def _user(self, h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._reply(h, 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        if self.token_user is None:
            return self._reply(h, 403, {"message": "Resource not accessible by integration",
                                        "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user"})
        return self._reply(h, 200, self.author())

    def _comment_body_problems(self, body: Any) -> list[str]:
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            return ["body is required and must be a string"]
        problems = [f"unknown field {k!r}" for k in body if k != "body"]
        if len(body["body"]) > 65536:
            problems.append("body is too long (maximum is 65536 characters)")
        return problems

    def _forbidden_comment(self, h: BaseHTTPRequestHandler) -> None:
        self._reply(h, 403, {"message": "Resource not accessible by integration",
                             "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment"})

    def _issue_comments(self, h: BaseHTTPRequestHandler, method: str, issue: int, body: Any,
                        query: dict[str, list[str]], path: str) -> None:
        if method == "GET":
            per_page = min(int((query.get("per_page") or ["30"])[0]), 100)
            page = int((query.get("page") or ["1"])[0])
            listed = self.comments_on(issue)
            data = json.dumps(listed[(page - 1) * per_page: page * per_page]).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            h.send_header("Content-Length", str(len(data)))
            if page * per_page < len(listed):
                h.send_header("Link", f'<{self.url}{path}?per_page={per_page}&page={page + 1}>; rel="next"')
            h.end_headers()
            h.wfile.write(data)
            return None
        if self.forbid_comments:
            return self._forbidden_comment(h)
        problems = self._comment_body_problems(body)
        if problems:
            return self._invalid(h, problems)
        return self._reply(h, 201, self._shown(self.add_comment(issue, body["body"])))

    def _edit_comment(self, h: BaseHTTPRequestHandler, cid: int, body: Any) -> None:
        comment = self.comments.get(cid)
        if comment is None:
            return self._reply(h, 404, {"message": "Not Found"})
        if self.forbid_comments:
            return self._forbidden_comment(h)
        problems = self._comment_body_problems(body)
        if problems:
            return self._invalid(h, problems)
        if comment["user"]["login"] != self.author()["login"]:
            self.violations.append(f"edited comment {cid} of {comment['user']['login']}, not the token's own")
        with self._lock:
            comment["body"] = body["body"]
            comment["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return self._reply(h, 200, self._shown(comment))


COMMENT_EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "github" / "issue_comment.json"
