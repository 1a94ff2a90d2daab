#!/usr/bin/env python3
"""The release workflow's logic (.github/workflows/release.yml), out of YAML so a test can run it twice.

A release of version tag vX.Y.Z goes through four states, and every step first looks at which one it is in,
so a re-run after a failure anywhere continues from where the last run stopped and a re-run after success
changes nothing:

1. the tag points at the source commit (``image: Dockerfile``): the image must be built, unless the
   registry already has ``<image>:<tag>`` built from this very commit (its ``org.opencontainers.image.revision``
   label), which is then reused;
2. the image exists: it must be pullable without credentials and carry linux/amd64 and linux/arm64;
3. the tag must point at a child of the source commit whose action.yml runs the image by digest
   (``image: docker://ghcr.io/<owner>/<repo>@sha256:...``). The tag moves there only while no release
   exists for it, with a lease on its current value, so a tag that a published (immutable) release holds is
   never moved;
4. the release is created after that, so an immutable release locks the tag on the commit that names the
   image; then, for a release that is not a prerelease and the highest of its major version, ``vN`` moves
   to the same commit (``uses: <owner>/retrain@v1``).

Subcommands (both print ``name=value`` lines for ``$GITHUB_OUTPUT`` and a summary for the step summary):

    release.py plan --tag v1.2.0 [--registry ghcr.io]
    release.py publish --tag v1.2.0 --digest sha256:... [--registry ghcr.io]

Environment: GITHUB_REPOSITORY (owner/name), GITHUB_API_URL, GITHUB_TOKEN (creates the release),
GITHUB_OUTPUT and GITHUB_STEP_SUMMARY (optional). Git runs in the current directory, a clone whose
``origin`` is the repository. The registry is reached over HTTPS, or HTTP for a loopback host (as Docker
does), and only anonymously: what this script can pull is what a workflow in another repository can pull.
Stdlib only: it runs on the runner's own python3.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

VERSION = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$")
SOURCE_LINE = "  image: Dockerfile"
PINNED = re.compile(r"^  image: docker://(?P<image>[^@\s]+)@(?P<digest>sha256:[0-9a-f]{64})$", re.M)
PLATFORMS = ("linux/amd64", "linux/arm64")
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")


class ReleaseError(Exception):
    """A state the release cannot continue from; the message says what to do."""


# ----------------------------------------------------------------------------------------------- git


def git(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def remote_tags() -> dict[str, tuple[str, str]]:
    """Every tag on origin: name -> (the ref's value, the commit it names); annotated tags peeled."""
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in git("ls-remote", "--tags", "origin").splitlines():
        sha, ref = line.split("\t")
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            peeled[name[:-3]] = sha
        else:
            refs[name] = sha
    return {name: (value, peeled.get(name, value)) for name, value in refs.items()}


def fetch(commit: str, tag: str) -> None:
    """Have the commit locally (a fresh checkout of another ref, or a shallow one, may lack it)."""
    if git("cat-file", "-t", commit, check=False) != "commit":
        git("fetch", "--quiet", "--no-tags", "origin", f"+refs/tags/{tag}:refs/release/{tag}")


def action_yml(commit: str) -> str:
    return git("show", f"{commit}:action.yml")


# -------------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Image:
    """An image in an OCI registry, read anonymously (the distribution spec and Docker's token auth)."""

    registry: str  # host[:port]
    name: str  # owner/repo, lower case

    @property
    def ref(self) -> str:
        return f"{self.registry}/{self.name}"

    @property
    def base(self) -> str:
        host = self.registry.rsplit(":", 1)[0]
        scheme = "http" if host in ("localhost", "127.0.0.1", "[::1]") else "https"
        return f"{scheme}://{self.registry}"

    def _get(self, path: str, accept: tuple[str, ...], token: str | None) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.base + path, headers={"Accept": ", ".join(accept)} if accept else {})
        if token:  # not forwarded when the registry redirects a blob to its storage's signed URL
            request.add_unredirected_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()
        except urllib.error.URLError as error:
            raise ReleaseError(f"cannot reach the registry {self.registry}: {error.reason}") from None

    def _anonymous_token(self, challenge: str) -> str | None:
        """Docker token auth: the 401's Bearer challenge names the realm; ask it with no credentials."""
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if not challenge.lower().startswith("bearer") or "realm" not in params:
            return None
        query = {"service": params.get("service", ""), "scope": f"repository:{self.name}:pull"}
        request = urllib.request.Request(params["realm"] + "?" + urllib.parse.urlencode(query))
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.loads(response.read())
        except (urllib.error.URLError, ValueError):
            return None
        return body.get("token") or body.get("access_token")

    def get(self, path: str, accept: tuple[str, ...] = ()) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = self._get(path, accept, None)
        if status == 401:
            token = self._anonymous_token(headers.get("WWW-Authenticate", ""))
            if token:
                status, headers, body = self._get(path, accept, token)
        return status, headers, body

    def manifest(self, reference: str) -> tuple[str, dict] | None:
        """(digest, manifest) of a tag or digest, or None when an anonymous client cannot have it."""
        status, headers, body = self.get(f"/v2/{self.name}/manifests/{reference}", INDEX_TYPES + MANIFEST_TYPES)
        if status in (401, 403, 404):
            return None
        if status != 200:
            raise ReleaseError(f"the registry answered {status} for {self.ref}:{reference}: {body[:200]!r}")
        return headers.get("Docker-Content-Digest", ""), json.loads(body)

    def revision(self, index: dict) -> str | None:
        """The org.opencontainers.image.revision label of the first platform image of an index."""
        for entry in index.get("manifests", []):
            if platform(entry) in PLATFORMS:
                found = self.manifest(entry["digest"])
                if found is None:
                    return None
                status, _, body = self.get(f"/v2/{self.name}/blobs/{found[1]['config']['digest']}")
                if status != 200:
                    return None
                labels = (json.loads(body).get("config") or {}).get("Labels") or {}
                return labels.get("org.opencontainers.image.revision")
        return None


def platform(entry: dict) -> str:
    p = entry.get("platform") or {}
    return f"{p.get('os')}/{p.get('architecture')}"


# --------------------------------------------------------------------------------------------- GitHub


def github(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    url = os.environ.get("GITHUB_API_URL", "https://api.github.com") + path
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Accept", "application/vnd.github+json")
    request.add_header("X-GitHub-Api-Version", "2022-11-28")
    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        raise ReleaseError("GITHUB_TOKEN is not set: the workflow passes ${{ github.token }}")
    request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}
    except urllib.error.URLError as error:
        raise ReleaseError(f"cannot reach GitHub at {url}: {error.reason}") from None


def release_of(repository: str, tag: str) -> dict | None:
    status, body = github("GET", f"/repos/{repository}/releases/tags/{urllib.parse.quote(tag)}")
    if status == 404:
        return None
    if status != 200:
        raise ReleaseError(f"GitHub answered {status} when asked for the release of {tag}: {body.get('message')}")
    return body


# ------------------------------------------------------------------------------------------ the steps


@dataclass(frozen=True)
class Version:
    tag: str
    major: int
    key: tuple[int, int, int]
    prerelease: bool


def version(tag: str) -> Version:
    m = VERSION.match(tag)
    if m is None:
        raise ReleaseError(f"'{tag}' is not a version tag: release tags look like v1.2.0 (or v1.2.0-rc.1 for a prerelease)")
    return Version(tag, int(m[1]), (int(m[1]), int(m[2]), int(m[3])), bool(m[4]))


def image_of(registry: str) -> Image:
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    if "/" not in repository:
        raise ReleaseError("GITHUB_REPOSITORY must name the repository as owner/name")
    return Image(registry, repository.lower())  # registries want lower case


def tag_commit(tag: str) -> tuple[str, str]:
    tags = remote_tags()
    if tag not in tags:
        raise ReleaseError(f"the tag {tag} is not on origin: push it first (git push origin {tag})")
    return tags[tag]


def plan(args: argparse.Namespace) -> dict[str, str]:
    """Where the release stands, and so whether the image must be built."""
    v = version(args.tag)
    image = image_of(args.registry)
    _, commit = tag_commit(v.tag)
    fetch(commit, v.tag)
    out = {"tag": v.tag, "image": image.ref, "prerelease": str(v.prerelease).lower()}
    pinned = PINNED.search(action_yml(commit))
    if pinned:
        out.update(source=git("rev-parse", f"{commit}^"), build="false", digest=pinned["digest"])
        say(f"{v.tag} already points at {commit[:12]}, whose action.yml runs {pinned['image']}@{pinned['digest']}: "
            "no build")
        return out
    if SOURCE_LINE not in action_yml(commit).splitlines():
        raise ReleaseError(f"action.yml at {v.tag} ({commit[:12]}) has no line '{SOURCE_LINE}' to pin")
    out["source"] = commit
    found = image.manifest(v.tag)
    if found and image.revision(found[1]) == commit:
        out.update(build="false", digest=found[0])
        say(f"{image.ref}:{v.tag} exists already, built from {commit[:12]} ({found[0]}): no build")
    else:
        out.update(build="true", digest="")
        say(f"{image.ref}:{v.tag} is to be built from {commit[:12]}")
    return out


def check_pullable(image: Image, digest: str) -> None:
    found = image.manifest(digest)
    if found is None:
        raise ReleaseError(
            f"{image.ref}@{digest} cannot be pulled without credentials, so workflows in other repositories "
            f"cannot run the action: make the package public once (the package's settings on GitHub, "
            f"'Change visibility'), then re-run this workflow")
    got, index = found
    if got and got != digest:
        raise ReleaseError(f"the registry answered {got} for {image.ref}@{digest}")
    have = {platform(m) for m in index.get("manifests", [])}
    missing = [p for p in PLATFORMS if p not in have]
    if missing:
        raise ReleaseError(f"{image.ref}@{digest} has no image for {', '.join(missing)} (it has {sorted(have)}): "
                           "build it with platforms linux/amd64,linux/arm64")
    say(f"{image.ref}@{digest} can be pulled anonymously, for {', '.join(PLATFORMS)}")


def pin(v: Version, image: Image, digest: str, repository: str) -> str:
    """The tag points at the commit whose action.yml runs the image by digest; returns that commit."""
    value, commit = tag_commit(v.tag)
    fetch(commit, v.tag)
    pinned = PINNED.search(action_yml(commit))
    if pinned:
        if pinned["digest"] != digest:
            raise ReleaseError(f"{v.tag} already names {pinned['image']}@{pinned['digest']}, not {digest}; "
                               f"a released version is never changed: release a new version")
        say(f"{v.tag} already points at {commit[:12]}, which runs the image")
        return commit
    if release_of(repository, v.tag) is not None:
        raise ReleaseError(f"a release of {v.tag} exists already and its tag runs the Dockerfile; the tag of a "
                           f"release is never moved: release a new version")
    text = action_yml(commit)
    line = f"  image: docker://{image.ref}@{digest}"
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], input=text.replace(SOURCE_LINE, line, 1),
                          capture_output=True, text=True, check=True).stdout.strip()
    # A commit on top of the tagged one, made from objects alone: the work tree and branch stay as they are.
    entries = git("ls-tree", commit)
    tree_in = "\n".join(re.sub(r" blob [0-9a-f]+\taction\.yml$", f" blob {blob}\taction.yml", e)
                        for e in entries.splitlines()) + "\n"
    tree = subprocess.run(["git", "mktree"], input=tree_in, capture_output=True, text=True, check=True).stdout.strip()
    env = {**os.environ, "GIT_AUTHOR_NAME": BOT[0], "GIT_AUTHOR_EMAIL": BOT[1],
           "GIT_COMMITTER_NAME": BOT[0], "GIT_COMMITTER_EMAIL": BOT[1]}
    message = f"Release {v.tag}: the action runs {image.ref}@{digest}"
    new = subprocess.run(["git", "commit-tree", tree, "-p", commit, "-m", message], capture_output=True, text=True,
                         env=env, check=True).stdout.strip()
    target = new
    if value != commit:  # an annotated tag: the moved tag keeps its message
        annotation = git("cat-file", "tag", value).split("\n\n", 1)[-1]
        target = subprocess.run(["git", "mktag"], input=f"object {new}\ntype commit\ntag {v.tag}\ntagger {BOT[0]} <{BOT[1]}> "
                                f"{int(time.time())} +0000\n\n{annotation}\n", capture_output=True, text=True,
                                check=True).stdout.strip()
    # The lease: the tag moves only from the value just read, so a concurrent run or a tag moved by hand wins.
    git("push", "--quiet", f"--force-with-lease=refs/tags/{v.tag}:{value}", "origin", f"{target}:refs/tags/{v.tag}")
    say(f"{v.tag} moved from {commit[:12]} to {new[:12]}, whose action.yml runs {image.ref}@{digest}")
    return new


def create_release(v: Version, repository: str, image: Image, digest: str) -> None:
    if release_of(repository, v.tag) is not None:
        say(f"the release of {v.tag} exists already")
        return
    body = {
        "tag_name": v.tag,
        "name": v.tag,
        "body": f"The action runs the image `{image.ref}@{digest}` (linux/amd64, linux/arm64).",
        "prerelease": v.prerelease,
        "generate_release_notes": True,
        "make_latest": "false" if v.prerelease else "legacy",
    }
    status, answer = github("POST", f"/repos/{repository}/releases", body)
    if status == 422 and any(e.get("code") == "already_exists" for e in answer.get("errors", [])):
        say(f"the release of {v.tag} exists already (made meanwhile)")
        return
    if status != 201:
        raise ReleaseError(f"GitHub answered {status} when creating the release of {v.tag}: {answer.get('message')} "
                           f"{answer.get('errors', '')}")
    say(f"release {v.tag} created: {answer.get('html_url')}")


def move_major(v: Version, commit: str) -> None:
    """vN follows the highest release of major N; a prerelease or an older patch (a backport) leaves it."""
    major = f"v{v.major}"
    if v.prerelease:
        say(f"{major} stays: {v.tag} is a prerelease")
        return
    tags = remote_tags()
    newer = [t for t in tags if VERSION.match(t) and not version(t).prerelease
             and version(t).major == v.major and version(t).key > v.key]
    if newer:
        say(f"{major} stays: {max(newer, key=lambda t: version(t).key)} is newer than {v.tag}")
        return
    if major in tags and tags[major][1] == commit:
        say(f"{major} already points at {commit[:12]}")
        return
    # vN is a moving alias, never a release's tag: forcing it is its purpose.
    git("push", "--quiet", "--force", "origin", f"{commit}:refs/tags/{major}")
    say(f"{major} moved to {commit[:12]} ({v.tag})")


def publish(args: argparse.Namespace) -> dict[str, str]:
    v = version(args.tag)
    image = image_of(args.registry)
    repository = os.environ["GITHUB_REPOSITORY"]
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", args.digest or ""):
        raise ReleaseError(f"--digest must be the image's sha256:<64 hex> digest, not {args.digest!r}")
    check_pullable(image, args.digest)
    commit = pin(v, image, args.digest, repository)
    create_release(v, repository, image, args.digest)
    move_major(v, commit)
    return {"commit": commit, "image": f"{image.ref}@{args.digest}"}


# ------------------------------------------------------------------------------------------------ main

LOG: list[str] = []


def say(line: str) -> None:
    LOG.append(line)
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("plan", "publish"):
        p = sub.add_parser(name)
        p.add_argument("--tag", required=True)
        p.add_argument("--registry", default="ghcr.io")
        if name == "publish":
            p.add_argument("--digest", required=True)
    args = parser.parse_args(argv)
    try:
        out = plan(args) if args.command == "plan" else publish(args)
    except ReleaseError as error:
        # Workflow command data escaped as @actions/core does: %, CR and LF.
        print("::error::" + str(error).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))
        return 1
    finally:
        if os.environ.get("GITHUB_STEP_SUMMARY") and LOG:
            with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
                f.write(f"### release {args.command} {args.tag}\n" + "".join(f"- {line}\n" for line in LOG))
    lines = "".join(f"{k}={v}\n" for k, v in out.items())
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as f:
            f.write(lines)
    print(lines, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
