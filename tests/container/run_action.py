"""Run the action's image the way GitHub's runner runs a Docker action, in its exported filesystem.

``podman run`` cannot start containers where the tests run, so ``run.sh`` exports the built image's
filesystem and this script stands in for the runner: it lays out what the runner mounts (the workspace at
``/github/workspace``, the event at ``/github/workflow/event.json``, the file commands under
``/github/file_commands``, ``HOME=/github/home``), passes the environment directly with no shell between (a
shell would drop names such as ``INPUT_PARAMETER-FILE``), every input action.yml declares with its default
as the runner does, and starts the image's ENTRYPOINT with ``runs.args`` from action.yml, chrooted into the
filesystem. GitHub is the fake on loopback. A workflow_dispatch with a parameter value must end in a
completed check run with the run's metrics.

    python tests/container/run_action.py ROOTFS --entrypoint '["python", "..."]' --image-env '["PATH=..."]'
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import PIPELINE, PREP, PREP_PY, RETRAIN, TRAIN, TRAIN_PY, git, write  # noqa: E402
from tests.fakes.github_api import FakeGitHub  # noqa: E402

RUN_ID = "9911"


def fail(message: str) -> None:
    print(f"container test FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def workspace(root: Path) -> str:
    """The tiny stdlib-only project of the tests, published and retrained by hand (dispatch)."""
    write(root, {
        "retrain.yml": RETRAIN.replace("publish_on: [merge]", "publish_on: [merge, dispatch]"),
        "pipelines/tiny/pipeline.yml": PIPELINE,
        "pipelines/tiny/components/prep.yml": PREP,
        "pipelines/tiny/components/train.yml": TRAIN,
        "pipelines/tiny/src/prep.py": PREP_PY,
        "pipelines/tiny/src/train.py": TRAIN_PY,
        "pipelines/tiny/data/train.csv": "x,y\n1,2\n3,4\n",
        "data/train.csv": "x,y\n1,2\n3,4\n5,6\n",
    })
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return git(root, "rev-parse", "HEAD")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rootfs", type=Path)
    parser.add_argument("--entrypoint", required=True, help="the image's ENTRYPOINT as JSON")
    parser.add_argument("--image-env", required=True, help="the image's ENV as a JSON list of NAME=VALUE")
    args = parser.parse_args()
    rootfs: Path = args.rootfs.resolve()
    manifest = yaml.safe_load((ROOT / "action.yml").read_text())

    github = rootfs / "github"
    shutil.rmtree(github, ignore_errors=True)
    for sub in ("workspace", "workflow", "file_commands", "home", "runner_temp"):
        (github / sub).mkdir(parents=True)
    sha = workspace(github / "workspace")
    fake = FakeGitHub().start()
    try:
        payload = json.loads((ROOT / "tests" / "fixtures" / "github" / "workflow_dispatch.json").read_text())
        payload.update(inputs={"learning_rate": "0.3"}, ref="refs/heads/main")
        payload["repository"].update(full_name=fake.repository, default_branch="main")
        (github / "workflow" / "event.json").write_text(json.dumps(payload))
        output_name, summary_name = f"set_output_{uuid.uuid4()}", f"step_summary_{uuid.uuid4()}"
        for name in (output_name, summary_name):
            (github / "file_commands" / name).touch()

        env = dict(item.split("=", 1) for item in json.loads(args.image_env))
        # Every declared input, with its default, as the runner sets them (hyphens kept).
        for name, spec in manifest["inputs"].items():
            env[f"INPUT_{name.upper()}"] = str(spec.get("default", ""))
        env.update({
            "INPUT_GITHUB-TOKEN": fake.token,  # what ${{ github.token }} becomes
            "INPUT_PIPELINE": "tiny",
            "INPUT_PARAMETERS": "learning_rate=0.3",  # learning_rate=${{ inputs.learning_rate }}, as resolved
            "HOME": "/github/home",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "workflow_dispatch",
            "GITHUB_EVENT_PATH": "/github/workflow/event.json",
            "GITHUB_WORKSPACE": "/github/workspace",
            "GITHUB_OUTPUT": f"/github/file_commands/{output_name}",
            "GITHUB_STEP_SUMMARY": f"/github/file_commands/{summary_name}",
            "GITHUB_REPOSITORY": fake.repository,
            "GITHUB_SHA": sha,
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_RUN_ID": RUN_ID,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": fake.url,  # loopback: the chroot shares the host's network
            "RUNNER_TEMP": "/github/runner_temp",
        })
        argv = json.loads(args.entrypoint) + [str(a) for a in manifest["runs"].get("args", [])]

        def enter() -> None:
            os.chroot(rootfs)
            os.chdir("/github/workspace")  # the runner's --workdir

        proc = subprocess.run(argv, env=env, preexec_fn=enter, capture_output=True, text=True, timeout=300, check=False)
        print(proc.stdout, end="")
        print(proc.stderr, end="", file=sys.stderr)
        if proc.returncode != 0:
            fail(f"the action exited {proc.returncode}")
        checks = fake.runs_named("retrain / tiny")
        if len(checks) != 1:
            fail(f"expected one check run 'retrain / tiny', GitHub has {[c['name'] for c in fake.check_runs.values()]}")
        check = checks[0]
        if (check["status"], check["conclusion"]) != ("completed", "success"):
            fail(f"the check run ended {check['status']}/{check['conclusion']}")
        summary = check["output"]["summary"] or ""
        if "#### Metrics" not in summary or "| `learning_rate` | `0.3` | **changed**" not in summary:
            fail("the check run's summary lacks the metrics or the parameter value:\n" + summary)
        if check["details_url"] != f"https://github.com/{fake.repository}/actions/runs/{RUN_ID}":
            fail(f"details_url is {check['details_url']!r}")
        if fake.violations:
            fail(f"requests GitHub would refuse: {fake.violations}")
        outputs = (github / "file_commands" / output_name).read_text()
        if '"score"' not in outputs:
            fail("the metrics output is missing:\n" + outputs)
        print(f"container test passed: check run {check['id']} completed as success with metrics, "
              f"{len(fake.requests)} requests to the fake GitHub")
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
