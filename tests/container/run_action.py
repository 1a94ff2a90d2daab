"""Run the action's image the way GitHub's runner runs a Docker action, in its exported filesystem.

``podman run`` cannot start containers where the tests run, so ``run.sh`` exports the built image's
filesystem and this script stands in for the runner: each job gets a fresh ``/github`` tree laid out as the
runner mounts it (the workspace at ``/github/workspace``, a checkout of the repository's commit, the event
at ``/github/workflow/event.json``, the file commands under ``/github/file_commands``,
``HOME=/github/home``), the environment passed directly with no shell between (a shell would drop names
such as ``INPUT_PARAMETER-FILE``), every input action.yml declares with its default as the runner does, and
the image's ENTRYPOINT with ``runs.args`` from action.yml, started as root (the container's user) chrooted
into the filesystem. GitHub is the fake on loopback, one for all the jobs of a scenario.

Scenarios:

- a workflow_dispatch with a parameter value ends in a completed check run with the run's metrics, and
  afterwards the runner's user (uid 1001, not root) can read everything the container left in
  ``.retrain`` (``actions/cache`` and ``upload-artifact`` run on the host as that user);
- three jobs on fresh workspaces share the registry of record (``jobs_share_registry``): the second
  publishes version 2 against the first job's run, a pull request's draft compares with the second's.

    python tests/container/run_action.py ROOTFS --entrypoint '["python", "..."]' --image-env '["PATH=..."]'
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import RETRAIN, TINY, git, write  # noqa: E402
from tests.fakes.github_api import FakeGitHub  # noqa: E402
from tests.github_runner import read_outputs  # noqa: E402

RUNNER_UID = 1001  # the user GitHub's hosted runners run the job's host steps as
FIXTURES = ROOT / "tests" / "fixtures" / "github"


def fail(message: str) -> None:
    print(f"container test FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def origin_repository(root: Path) -> Path:
    """The repository on "GitHub": the tiny stdlib-only project of the tests; each job checks out a commit."""
    write(root, {**TINY, "retrain.yml": RETRAIN.replace("publish_on: [merge]", "publish_on: [merge, dispatch]")
                 .replace("submit_on: [merge, data, dispatch]", "submit_on: [merge, data, dispatch, pull_request]")})
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return root


@dataclass(frozen=True)
class JobResult:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    workspace: Path


class Runner:
    """One runner machine per job: a fresh /github tree in the image's filesystem, the same fake GitHub."""

    def __init__(self, rootfs: Path, entrypoint: list[str], image_env: dict[str, str], fake: FakeGitHub) -> None:
        self.rootfs, self.entrypoint, self.image_env, self.fake = rootfs, entrypoint, image_env, fake
        self.manifest = yaml.safe_load((ROOT / "action.yml").read_text())
        self.jobs = 0

    def job(self, origin: Path, event: str, payload: dict, *, ref: str = "refs/heads/main", branch: str = "main",
            inputs: dict[str, str] | None = None) -> JobResult:
        """Check out origin's branch into a fresh workspace (nothing from an earlier job survives); run the action."""
        self.jobs += 1
        github = self.rootfs / "github"
        shutil.rmtree(github, ignore_errors=True)
        for sub in ("workflow", "file_commands", "home", "runner_temp"):
            (github / sub).mkdir(parents=True)
        workspace = github / "workspace"
        subprocess.run(["git", "clone", "-q", "--branch", branch, str(origin), str(workspace)], check=True)
        sha = git(workspace, "rev-parse", "HEAD")
        (github / "workflow" / "event.json").write_text(json.dumps(payload))
        output_name, summary_name = f"set_output_{uuid.uuid4()}", f"step_summary_{uuid.uuid4()}"
        for name in (output_name, summary_name):
            (github / "file_commands" / name).touch()

        env = dict(self.image_env)
        # Every declared input, with its default, as the runner sets them (hyphens kept).
        for name, spec in self.manifest["inputs"].items():
            env[f"INPUT_{name.upper()}"] = str(spec.get("default", ""))
        env["INPUT_GITHUB-TOKEN"] = self.fake.token  # what ${{ github.token }} becomes
        env.update({f"INPUT_{k.upper()}": v for k, v in (inputs or {}).items()})
        run_id = str(9910 + self.jobs)
        env.update({
            "HOME": "/github/home",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": "/github/workflow/event.json",
            "GITHUB_WORKSPACE": "/github/workspace",
            "GITHUB_OUTPUT": f"/github/file_commands/{output_name}",
            "GITHUB_STEP_SUMMARY": f"/github/file_commands/{summary_name}",
            "GITHUB_REPOSITORY": self.fake.repository,
            "GITHUB_SHA": sha,
            "GITHUB_REF": ref,
            "GITHUB_RUN_ID": run_id,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": self.fake.url,  # loopback: the chroot shares the host's network
            "RUNNER_TEMP": "/github/runner_temp",
        })
        argv = self.entrypoint + [str(a) for a in self.manifest["runs"].get("args", [])]

        def enter() -> None:
            os.chroot(self.rootfs)
            os.chdir("/github/workspace")  # the runner's --workdir

        proc = subprocess.run(argv, env=env, preexec_fn=enter, capture_output=True, text=True, timeout=300,
                              check=False)
        print(proc.stdout, end="")
        print(proc.stderr, end="", file=sys.stderr)
        summary = (github / "file_commands" / summary_name).read_text()
        return JobResult(proc.returncode, proc.stdout, proc.stderr,
                         read_outputs(github / "file_commands" / output_name), summary, workspace)


def runner_can_read(workspace: Path) -> None:
    """After the container ran as root, the runner's user can archive .retrain (what actions/cache does).

    Not root's group either: the hosted runner's user is uid 1001 with groups of its own.
    """
    proc = subprocess.run(["setpriv", f"--reuid={RUNNER_UID}", f"--regid={RUNNER_UID}", "--clear-groups",
                           "tar", "-cf", "/dev/null", ".retrain"],
                          cwd=workspace, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        denied = [line for line in proc.stderr.splitlines() if "Permission denied" in line]
        fail(f"uid {RUNNER_UID} cannot read what the container left in .retrain "
             f"(setpriv --reuid={RUNNER_UID} tar -cf /dev/null .retrain exited {proc.returncode}; "
             f"{len(denied)} paths denied, e.g. {denied[:3] or proc.stderr.strip()[:300]})")
    print(f"uid {RUNNER_UID} can read everything in .retrain (setpriv --reuid={RUNNER_UID} tar -cf /dev/null .retrain)")


def dispatch_job(runner: Runner, origin: Path) -> None:
    """A workflow_dispatch with a parameter value: a completed check run with the run's metrics."""
    fake = runner.fake
    payload = json.loads((FIXTURES / "workflow_dispatch.json").read_text())
    payload.update(inputs={"learning_rate": "0.3"}, ref="refs/heads/main")
    payload["repository"].update(full_name=fake.repository, default_branch="main")
    result = runner.job(origin, "workflow_dispatch", payload, inputs={
        "pipeline": "tiny",
        "parameters": "learning_rate=0.3",  # learning_rate=${{ inputs.learning_rate }}, as resolved
    })
    if result.code != 0:
        fail(f"the action exited {result.code}")
    checks = fake.runs_named("retrain / tiny")
    if len(checks) != 1:
        fail(f"expected one check run 'retrain / tiny', GitHub has {[c['name'] for c in fake.check_runs.values()]}")
    check = checks[0]
    if (check["status"], check["conclusion"]) != ("completed", "success"):
        fail(f"the check run ended {check['status']}/{check['conclusion']}")
    summary = check["output"]["summary"] or ""
    if "#### Metrics" not in summary or "| <code>learning_rate</code> | <code>0.3</code> | **changed**" not in summary:
        fail("the check run's summary lacks the metrics or the parameter value:\n" + summary)
    if check["details_url"] != f"https://github.com/{fake.repository}/actions/runs/9911":
        fail(f"details_url is {check['details_url']!r}")
    if fake.violations:
        fail(f"requests GitHub would refuse: {fake.violations}")
    if '"score"' not in result.outputs.get("metrics", ""):
        fail(f"the metrics output is missing: {result.outputs}")
    print(f"container test: dispatch passed: check run {check['id']} completed as success with metrics, "
          f"{len(fake.requests)} requests to the fake GitHub")
    runner_can_read(result.workspace)


def push_payload(fake: FakeGitHub, before: str, after: str) -> dict:
    """A push to main as Actions delivers it (octokit's example without file lists, as tests/github_runner.py)."""
    payload = json.loads((FIXTURES / "push-new-branch.json").read_text())
    payload.update(ref="refs/heads/main", before=before, after=after, created=False)
    payload["head_commit"]["id"] = payload["commits"][0]["id"] = after
    payload["repository"].update(full_name=fake.repository, default_branch="main")
    return payload


# ------------------------------------------------------------------------------------------------------
# TWO JOBS ON FRESH WORKSPACES SHARING A REGISTRY (issue 17, "Done when"), and a third, a pull request's
# draft: finished by the lead after the registry of record (branch i17-registry) is merged. What is certain
# is here: a fresh workspace per job, one fake GitHub for all, the checks a user would make. What the
# registry may add: the permissions the fake grants the token (contents: write), whatever the action needs
# to find the registry (if it is not automatic on GitHub), and checks on the ref the fake then holds.
# ------------------------------------------------------------------------------------------------------
def jobs_share_registry(runner: Runner, origin: Path) -> None:
    fake = runner.fake
    # A gate: a published version runs to be judged, and the run that passed is the next version's baseline.
    config = origin / "retrain.yml"
    config.write_text(config.read_text() + '    promote:\n      score: ">= 0"\n')
    git(origin, "commit", "-qam", "a gate on the tiny pipeline")
    first_sha = git(origin, "rev-parse", "HEAD")
    fake.compare_files = ["pipelines/tiny/pipeline.yml"]
    first = runner.job(origin, "push", push_payload(fake, "0" * 40, first_sha))
    if first.code != 0 or first.outputs.get("published-version") != "1":
        fail(f"job 1 (push): exit {first.code}, published-version {first.outputs.get('published-version')!r}")
    runner_can_read(first.workspace)
    first_run = first.outputs.get("run-id", "")

    # A changed pipeline, pushed; the next job's workspace is a fresh checkout that knows nothing locally.
    train = origin / "pipelines/tiny/src/train.py"
    train.write_text(train.read_text() + "\n# a changed step\n")
    git(origin, "commit", "-qam", "change the train step")
    second_sha = git(origin, "rev-parse", "HEAD")
    fake.compare_files = ["pipelines/tiny/src/train.py"]
    second = runner.job(origin, "push", push_payload(fake, first_sha, second_sha))
    if second.code != 0:
        fail(f"job 2 (push of a changed pipeline) exited {second.code}")
    if second.outputs.get("published-version") != "2":
        fail(f"job 2 published version {second.outputs.get('published-version')!r}, expected 2: "
             "the second job did not see the first job's version")
    if not first_run or second.outputs.get("baseline-run-id") != first_run:
        fail(f"job 2's baseline is {second.outputs.get('baseline-run-id')!r}, expected job 1's run {first_run!r}")
    if first_run not in second.summary:
        fail(f"job 2's report does not name job 1's run {first_run} as its baseline:\n{second.summary}")
    runner_can_read(second.workspace)
    second_run = second.outputs.get("run-id", "")

    # A pull request that changes the train step again: a third fresh job runs a draft against version 2's run.
    git(origin, "checkout", "-q", "-b", "feature")
    train.write_text(train.read_text() + "# the pull request's change\n")
    git(origin, "commit", "-qam", "try another train step")
    git(origin, "checkout", "-q", "main")
    fake.compare_files = ["pipelines/tiny/src/train.py"]
    payload = json.loads((FIXTURES / "pull_request-opened.json").read_text())
    payload["repository"].update(full_name=fake.repository, default_branch="main")
    third = runner.job(origin, "pull_request", payload, ref=f"refs/pull/{payload['number']}/merge", branch="feature")
    if third.code != 0 or third.outputs.get("draft") != "true":
        fail(f"job 3 (pull request): exit {third.code}, draft {third.outputs.get('draft')!r}")
    if third.outputs.get("baseline-run-id") != second_run:
        fail(f"the draft's baseline is {third.outputs.get('baseline-run-id')!r}, expected job 2's run {second_run!r}")
    runner_can_read(third.workspace)
    if fake.violations:
        fail(f"requests GitHub would refuse: {fake.violations}")
    print(f"container test: jobs on fresh workspaces sharing a registry passed: version 2 published with job 1's "
          f"run {first_run} as baseline; the pull request's draft compared with job 2's run {second_run}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rootfs", type=Path)
    parser.add_argument("--entrypoint", required=True, help="the image's ENTRYPOINT as JSON")
    parser.add_argument("--image-env", required=True, help="the image's ENV as a JSON list of NAME=VALUE")
    args = parser.parse_args()
    image_env = dict(item.split("=", 1) for item in json.loads(args.image_env))

    def scenario(run: Callable[[Runner, Path], None], origin: Path) -> None:
        """One scenario: its own fake GitHub, shared by all its jobs."""
        fake = FakeGitHub().start()
        try:
            run(Runner(args.rootfs.resolve(), json.loads(args.entrypoint), image_env, fake), origin_repository(origin))
        finally:
            fake.stop()

    with tempfile.TemporaryDirectory(prefix="retrain-origin-") as tmp:
        scenario(dispatch_job, Path(tmp) / "dispatch")
        scenario(jobs_share_registry, Path(tmp) / "shared")


if __name__ == "__main__":
    main()
