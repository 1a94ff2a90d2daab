"""The release workflow: its file passes actionlint and the schema, and its logic (.github/scripts/release.py),
run as the workflow runs it against a local registry, a bare git origin and GitHub's Releases API on
loopback, releases a version once and is a no-op when run again.

Each run is a fresh clone of origin at the tag (as actions/checkout gives the job), then ``plan``; the
"build" step is what buildx leaves in the registry (an index for the platforms, labelled with the source
commit); then ``publish`` with the build's digest, or the plan's when nothing was built.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.conftest import git, write
from tests.fakes.github_releases import FakeReleases
from tests.fakes.oci_registry import FakeRegistry
from tests.paths import ROOT
from tests.workflow_checks import assert_valid_workflow

SCRIPT = ROOT / ".github" / "scripts" / "release.py"
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
NAME = "octo-org/retrain"  # GITHUB_REPOSITORY Octo-Org/Retrain, in lower case as registries want it
BOTH = ["linux/amd64", "linux/arm64"]


@dataclass(frozen=True)
class Step:
    code: int
    stdout: str
    outputs: dict[str, str]


class World:
    """origin (bare), the registry, GitHub's Releases API; a maintainer's clone to tag from."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.work = tmp / "work"
        write(self.work, {
            "action.yml": (ROOT / "action.yml").read_text(),
            "Dockerfile": "FROM python:3.14-slim\n",
            "retrain/__init__.py": "",
        })
        git(self.work, "init", "-q", "-b", "main")
        git(self.work, "add", "-A")
        git(self.work, "commit", "-qm", "the action")
        self.origin = tmp / "origin.git"
        git(tmp, "init", "-q", "--bare", str(self.origin))
        git(self.work, "remote", "add", "origin", str(self.origin))
        git(self.work, "push", "-q", "origin", "main")
        self.registry = FakeRegistry(public={NAME}).start()
        self.github = FakeReleases(self.origin).start()
        self.runs = 0
        self.builds: list[str] = []

    def stop(self) -> None:
        self.registry.stop()
        self.github.stop()

    def tag(self, tag: str, change: str | None = None) -> str:
        """A maintainer commits (optionally) and pushes an annotated version tag; returns the commit."""
        if change:
            write(self.work, {"retrain/__init__.py": change})
            git(self.work, "commit", "-qam", change)
            git(self.work, "push", "-q", "origin", "main")
        git(self.work, "tag", "-a", tag, "-m", tag)
        git(self.work, "push", "-q", "origin", f"refs/tags/{tag}")
        return git(self.work, "rev-parse", "HEAD")

    def refs(self) -> dict[str, str]:
        out = git(self.origin, "for-each-ref", "--format=%(refname) %(objectname)")
        return dict(line.split(" ") for line in out.splitlines())

    def script(self, clone: Path, *args: str) -> Step:
        output = clone.parent / f"output-{self.runs}-{args[0]}"
        output.write_text("")
        env = {"PATH": os.environ["PATH"], "HOME": str(self.tmp), "GITHUB_REPOSITORY": "Octo-Org/Retrain",
               "GITHUB_API_URL": self.github.url, "GITHUB_TOKEN": self.github.token, "GITHUB_OUTPUT": str(output),
               "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}  # no identity: the script sets the bot's
        proc = subprocess.run([sys.executable, str(SCRIPT), *args, "--registry", self.registry.host], cwd=clone,
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
        return Step(proc.returncode, proc.stdout + proc.stderr, outputs)

    def workflow(self, tag: str, platforms: list[str] = BOTH) -> tuple[Step, Step | None]:
        """One run of release.yml for the tag: checkout, plan, build if planned, publish."""
        self.runs += 1
        clone = self.tmp / f"run-{self.runs}" / "checkout"
        subprocess.run(["git", "clone", "-q", "--branch", tag, str(self.origin), str(clone)], check=True,
                       capture_output=True)
        plan = self.script(clone, "plan", "--tag", tag)
        if plan.code != 0:
            return plan, None
        digest = plan.outputs["digest"]
        if plan.outputs["build"] == "true":
            digest = self.registry.push_image(NAME, tag, platforms, {
                "org.opencontainers.image.revision": plan.outputs["source"],
                "org.opencontainers.image.version": tag})
            self.builds.append(tag)
        return plan, self.script(clone, "publish", "--tag", tag, "--digest", digest)

    def action_yml_at(self, ref: str) -> dict:
        return yaml.safe_load(git(self.origin, "show", f"{ref}:action.yml"))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.stop()


def test_the_workflow_passes_actionlint_and_the_schema() -> None:
    assert_valid_workflow(WORKFLOW)


def test_the_workflow_runs_on_a_version_tag_or_by_hand_and_builds_both_platforms() -> None:
    spec = yaml.safe_load(WORKFLOW.read_text())
    triggers = spec[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"] == {"tags": ["v*.*.*"]}
    assert triggers["workflow_dispatch"]["inputs"]["tag"]["required"] is True
    steps = spec["jobs"]["release"]["steps"]
    build = next(s for s in steps if s.get("id") == "build")
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    runs = [s["run"] for s in steps if "run" in s]
    assert any("release.py plan" in r for r in runs) and any("release.py publish" in r for r in runs)
    assert not any("--force" in r or "git tag" in r for r in runs), "tag moves belong to the script, with a lease"


def test_a_release_pins_the_digest_creates_the_release_after_the_tag_moved_and_moves_v1(world: World) -> None:
    source = world.tag("v1.2.0")
    plan, publish = world.workflow("v1.2.0")
    assert plan.code == 0, plan.stdout
    assert plan.outputs["build"] == "true" and plan.outputs["source"] == source
    assert publish is not None and publish.code == 0, publish.stdout

    refs = world.refs()
    released = git(world.origin, "rev-parse", "refs/tags/v1.2.0^{commit}")
    assert released != source and git(world.origin, "rev-parse", f"{released}^") == source
    digest = publish.outputs["image"].split("@")[1]
    assert world.action_yml_at(released)["runs"]["image"] == f"docker://{world.registry.host}/{NAME}@{digest}"
    assert world.action_yml_at("main")["runs"]["image"] == "Dockerfile"  # the default branch is untouched
    changed = git(world.origin, "diff", "--name-only", source, released).split()
    assert changed == ["action.yml"]
    # The release was created when the tag already named the image: immutable from then on, as it should be.
    assert world.github.created == {"v1.2.0": released}
    assert world.github.releases["v1.2.0"]["prerelease"] is False
    assert digest in world.github.releases["v1.2.0"]["body"]
    assert git(world.origin, "rev-parse", "refs/tags/v1^{commit}") == released
    assert refs["refs/heads/main"] == source
    # The maintainer's annotated tag stays annotated, with its message, on the commit that names the image.
    assert git(world.origin, "cat-file", "-t", refs["refs/tags/v1.2.0"]) == "tag"
    assert git(world.origin, "for-each-ref", "--format=%(contents:subject)", "refs/tags/v1.2.0") == "v1.2.0"
    assert world.registry.violations == [] and world.github.violations == []
    # The pull check was anonymous: it asked the registry's token endpoint for a token with no credentials.
    token_requests = [h for _, path, h in world.registry.requests if path == "/token"]
    assert token_requests and not any("Authorization" in h for h in token_requests)


def test_a_second_run_of_a_finished_release_changes_nothing(world: World) -> None:
    world.tag("v1.2.0")
    first = world.workflow("v1.2.0")
    assert first[1] is not None and first[1].code == 0, first[1].stdout if first[1] else first[0].stdout
    refs = world.refs()
    posts = [r for r in world.github.requests if r[0] == "POST"]

    plan, publish = world.workflow("v1.2.0")
    assert plan.code == 0 and plan.outputs["build"] == "false", plan.stdout
    assert publish is not None and publish.code == 0, publish.stdout
    assert world.refs() == refs  # no tag, branch or vN moved
    assert [r for r in world.github.requests if r[0] == "POST"] == posts  # no second release
    assert world.builds == ["v1.2.0"]  # no second image
    assert "exists already" in publish.stdout and "v1 already points at" in publish.stdout


def test_a_re_run_after_the_image_was_pushed_reuses_the_image_built_from_the_tagged_commit(world: World) -> None:
    source = world.tag("v1.2.0")
    digest = world.registry.push_image(NAME, "v1.2.0", BOTH, {"org.opencontainers.image.revision": source})
    plan, publish = world.workflow("v1.2.0")
    assert plan.outputs["build"] == "false" and plan.outputs["digest"] == digest, plan.stdout
    assert publish is not None and publish.code == 0, publish.stdout
    assert world.builds == []
    assert f"@{digest}" in world.action_yml_at("refs/tags/v1.2.0")["runs"]["image"]


def test_an_image_built_from_another_commit_is_built_again(world: World) -> None:
    world.tag("v1.2.0")
    world.registry.push_image(NAME, "v1.2.0", BOTH, {"org.opencontainers.image.revision": "0" * 40})
    plan, _ = world.workflow("v1.2.0")
    assert plan.outputs["build"] == "true", plan.stdout


def test_an_image_that_cannot_be_pulled_anonymously_stops_the_release_before_the_tag_moves(world: World) -> None:
    source = world.tag("v1.2.0")
    world.registry.public.clear()  # a package pushed for the first time is private
    plan, publish = world.workflow("v1.2.0")
    assert publish is not None and publish.code == 1
    assert "cannot be pulled without credentials" in publish.stdout and "Change visibility" in publish.stdout
    assert git(world.origin, "rev-parse", "refs/tags/v1.2.0^{commit}") == source
    assert world.github.releases == {}

    world.registry.public.add(NAME)  # the maintainer makes it public and re-runs
    plan, publish = world.workflow("v1.2.0")
    assert plan.outputs["build"] == "false", plan.stdout  # the image pushed by the failed run is recognised
    assert publish is not None and publish.code == 0, publish.stdout
    assert world.builds == ["v1.2.0"] and "v1.2.0" in world.github.releases


def test_an_image_without_arm64_is_refused(world: World) -> None:
    world.tag("v1.2.0")
    _, publish = world.workflow("v1.2.0", platforms=["linux/amd64"])
    assert publish is not None and publish.code == 1
    assert "has no image for linux/arm64" in publish.stdout
    assert world.github.releases == {}


def test_a_prerelease_is_released_as_one_and_leaves_v1(world: World) -> None:
    world.tag("v1.2.0")
    world.workflow("v1.2.0")
    v1 = world.refs()["refs/tags/v1"]
    world.tag("v1.3.0-rc.1", change="rc")
    _, publish = world.workflow("v1.3.0-rc.1")
    assert publish is not None and publish.code == 0, publish.stdout
    assert world.github.releases["v1.3.0-rc.1"]["prerelease"] is True
    assert world.refs()["refs/tags/v1"] == v1
    assert "v1 stays: v1.3.0-rc.1 is a prerelease" in publish.stdout


def test_v1_follows_the_highest_release_not_a_later_backport(world: World) -> None:
    world.tag("v1.2.0")
    world.workflow("v1.2.0")
    world.tag("v1.3.0", change="1.3")
    world.workflow("v1.3.0")
    v13 = git(world.origin, "rev-parse", "refs/tags/v1.3.0^{commit}")
    assert git(world.origin, "rev-parse", "refs/tags/v1^{commit}") == v13
    world.tag("v1.2.1", change="backport")
    _, publish = world.workflow("v1.2.1")
    assert publish is not None and publish.code == 0, publish.stdout
    assert git(world.origin, "rev-parse", "refs/tags/v1^{commit}") == v13
    assert "v1 stays: v1.3.0 is newer than v1.2.1" in publish.stdout


def test_a_released_tag_that_runs_the_dockerfile_is_never_moved(world: World) -> None:
    """A release made by hand before the workflow ran: its tag is immutable, the workflow must say so."""
    source = world.tag("v1.2.0")
    world.github.releases["v1.2.0"] = {"tag_name": "v1.2.0"}
    (world.origin / "hooks" / "immutable-tags").write_text("v1.2.0\n")
    _, publish = world.workflow("v1.2.0")
    assert publish is not None and publish.code == 1
    assert "the tag of a release is never moved: release a new version" in publish.stdout
    assert git(world.origin, "rev-parse", "refs/tags/v1.2.0^{commit}") == source
    # And the stand-in for GitHub holds the line itself, as immutable releases do.
    git(world.work, "commit", "-q", "--allow-empty", "-m", "later")
    pushed = subprocess.run(["git", "push", "--force", "origin", "HEAD:refs/tags/v1.2.0"], cwd=world.work,
                            capture_output=True, text=True, check=False)
    assert pushed.returncode != 0 and "immutable release" in pushed.stderr


def test_a_tag_that_is_not_a_version_is_refused_with_the_form_it_needs(world: World) -> None:
    world.tag("release-1")
    plan, publish = world.workflow("release-1")
    assert plan.code == 1 and publish is None
    assert "'release-1' is not a version tag: release tags look like v1.2.0" in plan.stdout
