"""A fake GitHub REST API on 127.0.0.1: the Checks API (create, update, list for a ref), compare, issue
comments (list, create, update) with ``GET /user``, and the Git database (blobs, trees, commits, refs; see
``GitDatabase`` below).

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

import base64
import hashlib
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
    # The token's `contents` permission: "write" (push, dispatch), "read" (a pull request, a fork's), "none".
    contents: str = "write"
    empty: bool = False  # a repository without a commit: the Git database answers 409
    git: "GitDatabase" = field(default_factory=lambda: GitDatabase())
    host: str = "127.0.0.1"  # "0.0.0.0" for a container on the host's bridge to reach (then set url_host)
    url_host: str = "127.0.0.1"  # the host name clients use in `url`

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

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
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
        return f"http://{self.url_host}:{self.server.server_address[1]}"

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
        if path.startswith("/git/"):
            return self._git(h, method, path, parse_qs(url.query), body)
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


    # -- the Git database -------------------------------------------------------------------------
    # Paths, request bodies and answers as github/rest-api-description describes them
    # (tests/fixtures/github/gitdb-2022-11-28.json holds the parts used, with its source). Objects get the
    # ids Git gives them, a ref moves only to a descendant unless forced, and each request is checked
    # against the token's `contents` permission.

    def _git(self, h: BaseHTTPRequestHandler, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
        docs = "https://docs.github.com/rest/git"
        need = "read" if method == "GET" else "write"
        if self.contents == "none" or (need == "write" and self.contents != "write"):
            return self._reply(h, 403, {"message": "Resource not accessible by integration", "documentation_url": docs,
                                        "status": "403"})
        if self.empty:
            return self._reply(h, 409, {"message": "Git Repository is empty.", "documentation_url": docs, "status": "409"})
        operation = GIT_OPERATIONS.get((method, re.sub(r"^/git/(ref|refs|blobs|trees|commits)/.+$", r"/git/\1/{x}", path)))
        if operation is None:
            return self._reply(h, 404, {"message": "Not Found", "documentation_url": docs, "status": "404"})
        if operation.get("request") is not None:
            problems = _check_schema(body, operation["request"], "body")
            if problems:
                return self._invalid(h, problems)
        status, answer = getattr(self.git, operation["handler"])(self, path, query, body)
        if status >= 400:
            return self._reply(h, status, {**answer, "documentation_url": docs, "status": str(status)})
        self._reply(h, status, answer)


COMMENT_EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "github" / "issue_comment.json"


def _check_schema(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    """The request's JSON against the description's schema (type, required, properties, enum, items)."""
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if value is None and schema.get("nullable"):
        return []
    if kind in types and not isinstance(value, types[kind]):
        return [f"{where} must be {kind}"]
    problems = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where} {value!r} is not one of {schema['enum']}")
    if kind == "object":
        properties = schema.get("properties", {})
        problems += [f"{where} has no {name}" for name in schema.get("required", []) if name not in value]
        problems += [f"{where}.{name} is not a documented field" for name in value if name not in properties]
        for name, sub in properties.items():
            if name in value:
                problems += _check_schema(value[name], sub, f"{where}.{name}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            problems += _check_schema(item, schema["items"], f"{where}[{i}]")
    return problems


GIT_SPEC = json.loads((__import__("pathlib").Path(__file__).resolve().parent.parent / "fixtures" / "github"
                       / "gitdb-2022-11-28.json").read_text())
GIT_OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    (op["method"], op["path"]): op for op in GIT_SPEC["operations"]}
SHA1 = re.compile(r"[0-9a-f]{40}")


@dataclass
class GitDatabase:
    """A repository's objects and refs, as GitHub keeps them (ids as Git computes them)."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "refs/..." -> commit sha
    lock: threading.Lock = field(default_factory=threading.Lock)
    updates: list[tuple[str, str, int]] = field(default_factory=list)  # (ref, sha or refusal, status) per write

    @staticmethod
    def _hash(kind: str, data: bytes) -> str:
        return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()

    def _put(self, kind: str, data: bytes, **fields: Any) -> str:
        sha = self._hash(kind, data)
        with self.lock:
            self.objects.setdefault(sha, {"type": kind, "data": data, **fields})
        return sha

    def _url(self, fake: FakeGitHub, what: str, sha: str) -> str:
        return f"{fake.url}/repos/{fake.repository}/git/{what}/{sha}"

    # blobs
    def create_blob(self, fake: FakeGitHub, path: str, query: Any, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("encoding", "utf-8") == "base64":
            try:
                data = base64.b64decode(body["content"], validate=True)
            except ValueError:
                return 422, {"message": "Invalid request.\n\ncontent is not valid Base64."}
        else:
            data = body["content"].encode()
        sha = self._put("blob", data)
        return 201, {"url": self._url(fake, "blobs", sha), "sha": sha}

    def get_blob(self, fake: FakeGitHub, path: str, query: Any, body: Any) -> tuple[int, Any]:
        sha = path.rsplit("/", 1)[1]
        obj = self.objects.get(sha)
        if obj is None or obj["type"] != "blob":
            return 404, {"message": "Not Found"}
        encoded = base64.encodebytes(obj["data"]).decode()  # GitHub wraps the Base64 text in lines
        return 200, {"sha": sha, "node_id": f"B_{sha[:12]}", "size": len(obj["data"]), "url": self._url(fake, "blobs", sha),
                     "content": encoded, "encoding": "base64"}

    # trees
    def _tree_bytes(self, entries: dict[str, dict[str, str]]) -> bytes:
        def order(name: str) -> str:  # Git sorts a folder as if its name ended in "/"
            return name + "/" if entries[name]["type"] == "tree" else name
        return b"".join(f"{entries[n]['mode'].lstrip('0')} {n}\0".encode() + bytes.fromhex(entries[n]["sha"])
                        for n in sorted(entries, key=order))

    def _write_tree(self, entries: dict[str, dict[str, str]]) -> str:
        return self._put("tree", self._tree_bytes(entries), entries=dict(entries))

    def _entries(self, sha: str) -> dict[str, dict[str, str]]:
        return dict(self.objects[sha]["entries"])

    def create_tree(self, fake: FakeGitHub, path: str, query: Any, body: dict[str, Any]) -> tuple[int, Any]:
        base = body.get("base_tree")
        if base is not None and (base not in self.objects or self.objects[base]["type"] != "tree"):
            return 422, {"message": "Invalid tree info"}
        root: dict[str, Any] = self._entries(base) if base else {}
        for item in body["tree"]:
            if ("sha" in item) == ("content" in item):
                return 422, {"message": "Must supply either tree.sha or tree.content"}
            if "content" in item:
                sha = self._put("blob", item["content"].encode())
            else:
                sha = item["sha"]
                if sha is not None and (sha not in self.objects or self.objects[sha]["type"] != item.get("type")):
                    return 422, {"message": f"tree.sha {sha} is not a valid {item.get('type')}"}
            parts = item["path"].split("/")
            if any(p in ("", ".", "..") for p in parts):
                return 422, {"message": f"Invalid tree path {item['path']!r}"}
            self._place(root, parts, {"mode": item["mode"], "type": item["type"], "sha": sha})
        sha = self._write_nested(root)
        return 201, self._tree_answer(fake, sha, recursive=False)

    def _place(self, level: dict[str, Any], parts: list[str], entry: dict[str, Any]) -> None:
        name = parts[0]
        if len(parts) == 1:
            if entry["sha"] is None:
                level.pop(name, None)
            else:
                level[name] = entry
            return
        current = level.get(name)
        sub = self._entries(current["sha"]) if isinstance(current, dict) and current.get("type") == "tree" and "sha" in current else (
            current.get("children") if isinstance(current, dict) and "children" in current else {})
        self._place(sub, parts[1:], entry)
        level[name] = {"mode": "040000", "type": "tree", "children": sub}

    def _write_nested(self, level: dict[str, Any]) -> str:
        written = {}
        for name, entry in level.items():
            if "children" in entry:
                written[name] = {"mode": "040000", "type": "tree", "sha": self._write_nested(entry["children"])}
            else:
                written[name] = entry
        return self._write_tree(written)

    def _tree_answer(self, fake: FakeGitHub, sha: str, *, recursive: bool) -> dict[str, Any]:
        out: list[dict[str, Any]] = []

        def walk(tree: str, prefix: str) -> None:
            for name, e in sorted(self._entries(tree).items()):
                item = {"path": prefix + name, "mode": e["mode"], "type": e["type"], "sha": e["sha"],
                        "url": self._url(fake, "blobs" if e["type"] == "blob" else "trees", e["sha"])}
                if e["type"] == "blob":
                    item["size"] = len(self.objects[e["sha"]]["data"])
                out.append(item)
                if recursive and e["type"] == "tree":
                    walk(e["sha"], prefix + name + "/")
        walk(sha, "")
        return {"sha": sha, "url": self._url(fake, "trees", sha), "tree": out, "truncated": False}

    def get_tree(self, fake: FakeGitHub, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        sha = path.rsplit("/", 1)[1]
        if sha not in self.objects or self.objects[sha]["type"] != "tree":
            return 404, {"message": "Not Found"}
        return 200, self._tree_answer(fake, sha, recursive="recursive" in query)

    # commits
    def create_commit(self, fake: FakeGitHub, path: str, query: Any, body: dict[str, Any]) -> tuple[int, Any]:
        tree, parents = body["tree"], body.get("parents", [])
        if tree not in self.objects or self.objects[tree]["type"] != "tree":
            return 422, {"message": "Tree SHA does not exist"}
        for p in parents:
            if p not in self.objects or self.objects[p]["type"] != "commit":
                return 422, {"message": "Parent SHA does not exist or is not a commit object"}
        when = f"{int(time.time())} +0000"  # as GitHub does: the same tree, parents and message a second later is a new commit
        who = "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents) + f"author {who} {when}\ncommitter {who} {when}\n\n{body['message']}"
        sha = self._put("commit", text.encode(), tree=tree, parents=list(parents), message=body["message"], text=text)
        return 201, self._commit_answer(fake, sha)

    def _commit_answer(self, fake: FakeGitHub, sha: str) -> dict[str, Any]:
        obj = self.objects[sha]
        person = {"name": "github-actions[bot]", "email": "41898282+github-actions[bot]@users.noreply.github.com",
                  "date": "2024-12-04T00:00:00Z"}
        return {"sha": sha, "node_id": f"C_{sha[:12]}", "url": self._url(fake, "commits", sha),
                "html_url": f"https://github.com/{fake.repository}/commit/{sha}", "author": person, "committer": person,
                "tree": {"sha": obj["tree"], "url": self._url(fake, "trees", obj["tree"])}, "message": obj["message"],
                "parents": [{"sha": p, "url": self._url(fake, "commits", p), "html_url": f"https://github.com/{fake.repository}/commit/{p}"}
                            for p in obj["parents"]],
                "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None}}

    def get_commit(self, fake: FakeGitHub, path: str, query: Any, body: Any) -> tuple[int, Any]:
        sha = path.rsplit("/", 1)[1]
        if sha not in self.objects or self.objects[sha]["type"] != "commit":
            return 404, {"message": "Not Found"}
        return 200, self._commit_answer(fake, sha)

    # refs
    def _ref_answer(self, fake: FakeGitHub, name: str) -> dict[str, Any]:
        sha = self.refs[name]
        return {"ref": name, "node_id": f"REF_{sha[:12]}", "url": f"{fake.url}/repos/{fake.repository}/git/{name}",
                "object": {"type": "commit", "sha": sha, "url": self._url(fake, "commits", sha)}}

    def get_ref(self, fake: FakeGitHub, path: str, query: Any, body: Any) -> tuple[int, Any]:
        name = "refs/" + path.removeprefix("/git/ref/")
        if name not in self.refs:
            return 404, {"message": "Not Found"}
        return 200, self._ref_answer(fake, name)

    def create_ref(self, fake: FakeGitHub, path: str, query: Any, body: dict[str, Any]) -> tuple[int, Any]:
        name, sha = body["ref"], body["sha"]
        if not name.startswith("refs/") or name.count("/") < 2:
            return 422, {"message": f"{name} is not a valid ref name."}
        if sha not in self.objects:
            return 422, {"message": "Object does not exist"}
        with self.lock:
            if name in self.refs:
                self.updates.append((name, "exists", 422))
                return 422, {"message": "Reference already exists"}
            self.refs[name] = sha
            self.updates.append((name, sha, 201))
        return 201, self._ref_answer(fake, name)

    def _descends(self, sha: str, ancestor: str) -> bool:
        seen, todo = set(), [sha]
        while todo:
            current = todo.pop()
            if current == ancestor:
                return True
            if current in seen or current not in self.objects:
                continue
            seen.add(current)
            todo.extend(self.objects[current].get("parents", []))
        return False

    def update_ref(self, fake: FakeGitHub, path: str, query: Any, body: dict[str, Any]) -> tuple[int, Any]:
        name = "refs/" + path.removeprefix("/git/refs/")
        sha = body["sha"]
        if sha not in self.objects:
            return 422, {"message": "Object does not exist"}
        with self.lock:
            if name not in self.refs:
                return 422, {"message": "Reference does not exist"}
            if not body.get("force", False) and not self._descends(sha, self.refs[name]):
                self.updates.append((name, "not a fast forward", 422))
                return 422, {"message": "Update is not a fast forward"}
            self.refs[name] = sha
            self.updates.append((name, sha, 200))
        return 200, self._ref_answer(fake, name)

    def history(self, name: str) -> list[str]:
        """The ref's commits, newest first (first parents)."""
        out, sha = [], self.refs.get(name)
        while sha:
            out.append(sha)
            parents = self.objects[sha].get("parents") or []
            sha = parents[0] if parents else None
        return out

    def file(self, ref: str, path: str) -> bytes:
        """A file's bytes in the commit ``ref`` points at (for tests)."""
        tree = self.objects[self.refs[ref]]["tree"]
        parts = path.split("/")
        for part in parts[:-1]:
            tree = self._entries(tree)[part]["sha"]
        return self.objects[self._entries(tree)[parts[-1]]["sha"]]["data"]
