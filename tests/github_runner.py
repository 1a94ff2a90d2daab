"""GitHub's runner as a Docker action meets it: the environment it sets (INPUT_*, GITHUB_*), the event payload on
disk, the output and summary files it reads back, and its model of which log lines act as workflow commands.
The fixtures ``github`` (the fake GitHub API) and ``runner`` live in tests/conftest.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import git
from tests.fakes.github_api import FakeGitHub
from tests.paths import ROOT

ENTRYPOINT = ROOT / "entrypoint.py"
GITHUB = ROOT / "tests" / "fixtures" / "github"
BEFORE = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
SECRET = "s3cr3t-client-value-xyz"
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"  # the pull request's head in pull_request-opened.json


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


def read_outputs(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        name, _, delimiter = lines[i].partition("<<")
        j = lines.index(delimiter, i + 1)
        out[name] = "\n".join(lines[i + 1 : j])
        i = j + 1
    return out


class Runner:
    """Builds the environment GitHub's runner gives a Docker action."""

    def __init__(self, project: Path, github: FakeGitHub, tmp: Path) -> None:
        self.project, self.github, self.tmp = project, github, tmp
        self.sha = git(project, "rev-parse", "HEAD")

    def env(self, event: str, payload: dict, **inputs: str) -> dict[str, str]:
        payload_file = self.tmp / f"event-{time.monotonic_ns()}.json"
        payload_file.write_text(json.dumps(payload))
        for name in ("output", "summary"):
            (self.tmp / name).touch()
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(self.tmp),
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(payload_file),
            "GITHUB_WORKSPACE": str(self.project),
            "GITHUB_REPOSITORY": self.github.repository,
            "GITHUB_SHA": self.sha,
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_API_URL": self.github.url,
            "GITHUB_RUN_ID": "7781",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_OUTPUT": str(self.tmp / "output"),
            "GITHUB_STEP_SUMMARY": str(self.tmp / "summary"),
            "INPUT_GITHUB-TOKEN": self.github.token,
            "INPUT_PARAMETER-FILE": "retrain.yml",
            "INPUT_AZURE-CLIENT-SECRET": SECRET,
        }
        env.update({f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()})
        return env

    def push(self, changed: list[str]) -> dict:
        """A push to main as Actions delivers it (octokit's example, no file lists); the compare API answers ``changed``."""
        payload = json.loads((GITHUB / "push-new-branch.json").read_text())
        payload.update(ref="refs/heads/main", before=BEFORE, after=self.sha, created=False)
        payload["head_commit"]["id"] = payload["commits"][0]["id"] = self.sha
        payload["repository"].update(full_name=self.github.repository, default_branch="main")
        self.github.compare_files = list(changed)
        return payload

    def run(self, env: dict[str, str], timeout: float = 120) -> Result:
        proc = subprocess.run([sys.executable, str(ENTRYPOINT), "action"], env=env, cwd=self.project,
                              capture_output=True, text=True, timeout=timeout, check=False)
        return self.result(proc.returncode, proc.stdout, proc.stderr)

    def result(self, code: int, stdout: str, stderr: str) -> Result:
        return Result(code, stdout, stderr, read_outputs(self.tmp / "output"),
                      (self.tmp / "summary").read_text() if (self.tmp / "summary").exists() else "")

    def reset_files(self) -> None:
        for name in ("output", "summary"):
            (self.tmp / name).write_text("")

    def wait_until_ended(self, run_id: str) -> None:
        """What a later workflow run sees: the run started with wait: false has ended."""
        give_up = time.monotonic() + 60
        while time.monotonic() < give_up:
            shown = subprocess.run([sys.executable, "-m", "retrain", "status", run_id, "--json"], cwd=self.project,
                                   capture_output=True, text=True, check=False)
            if json.loads(shown.stdout)["status"] in ("completed", "failed", "canceled"):
                return
            time.sleep(0.1)
        raise TimeoutError(f"run {run_id} did not end within 60 s")

    def schedule_sync(self) -> Result:
        """The scheduled workflow's run of the action with command: sync, on fresh output files."""
        self.reset_files()
        schedule = {"schedule": "17 3 * * *", "repository": {"full_name": self.github.repository, "default_branch": "main"}}
        return self.run(self.env("schedule", schedule, command="sync"))


def runner_command(line: str) -> str | None:
    """The command name the runner parses from a log line, or None: ``::name ...::data`` after leading spaces
    (actions/runner ActionCommand.TryParseV2), else the older ``##[name ...]data`` anywhere in the line
    (TryParse, which finds ``##[`` with IndexOf). Any name counts here (the runner acts on registered ones)."""
    text = line.lstrip()
    if text.startswith("::"):
        end = text.find("::", 2)
        if end >= 0:
            return text[2:end].split(" ")[0]
    at = line.find("##[")
    if at >= 0:
        end = line.find("]", at)
        if end >= 0:
            return line[at + 3:end].split(" ")[0]
    return None


def commands_outside_blocks(stdout: str) -> list[str]:
    """The workflow commands a runner would act on, outside stop-commands blocks: lines starting with ::
    (after spaces, even without a closing ::) and lines holding ##[ anywhere. A block starts with either
    syntax's stop-commands and ends at the first command named by its token (case-insensitive), in either
    syntax, as in ActionCommandManager.TryProcessCommand."""
    acted, stop = [], None
    for line in stdout.splitlines():
        name = runner_command(line)
        if stop is not None:
            if name is not None and name.lower() == stop.lower():
                stop = None
            continue
        if name is not None and name.lower() == "stop-commands":
            text = line.lstrip()
            stop = text[text.index("::", 2) + 2:] if text.startswith("::") else line[line.index("]", line.index("##[")) + 1:]
        elif line.lstrip().startswith("::") or "##[" in line:
            acted.append(line.lstrip())
    return acted


def pull_request(github: FakeGitHub) -> dict:
    """A pull request opened, as Actions delivers it (octokit's example), in the fake GitHub's repository."""
    payload = json.loads((GITHUB / "pull_request-opened.json").read_text())
    payload["repository"]["full_name"] = github.repository
    return payload
