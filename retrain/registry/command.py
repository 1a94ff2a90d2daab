"""``retrain pull``: read a repository's registry into this machine's local store, so a person sees what CI
published and ran (``retrain endpoints``, ``retrain runs``, ``retrain runs --compare``)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import EXIT_OK, UsageError
from ..github.api import GitHubAPI
from ..github.gitdb import GitDB
from . import Registry

REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
ORIGIN = re.compile(r'\[remote "origin"\][^\[]*?url\s*=\s*\S*?github\.com[:/]+([^/\s]+/[^/\s]+?)(?:\.git)?/?\s*$', re.M | re.S)


def origin_repository(root: Path) -> str | None:
    """owner/name of the checkout's ``origin`` remote when it is on GitHub (read from .git/config, no git needed)."""
    try:
        text = (root / ".git" / "config").read_text(errors="replace")
    except OSError:
        return None
    match = ORIGIN.search(text)
    return match.group(1) if match else None


def pull(backend: Any, *, repo: str | None, configured: str | None, root: Path, environ: Mapping[str, str],
         as_json: bool) -> int:
    repository = repo or configured or environ.get("GITHUB_REPOSITORY") or origin_repository(root)
    if not repository:
        raise UsageError("retrain pull does not know which repository's registry to read: pass --repo OWNER/NAME, or set "
                         "registry: OWNER/NAME under backend in the parameter file.")
    if not REPOSITORY.fullmatch(repository):
        raise UsageError(f"{repository[:80]!r} is not a GitHub repository's owner/name (e.g. octo-org/census).")
    token = environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN")
    if not token:
        raise UsageError("retrain pull needs a token that can read the repository's contents: set GITHUB_TOKEN or "
                         "GH_TOKEN (for example GH_TOKEN=$(gh auth token)).")
    api = GitHubAPI(environ.get("GITHUB_API_URL") or "https://api.github.com", repository, token)
    registry = Registry(lambda: backend.store, GitDB(api))
    report = registry.pull()
    for problem in dict.fromkeys(report.problems):
        print(f"warning: registry: {problem}", file=sys.stderr)
    head = registry.head
    if as_json:
        print(json.dumps({"repository": repository, "ref": registry.remote.ref, "commit": head.commit if head else None,
                          "records": report.imported, "snapshots": report.snapshots, "problems": report.problems},
                         sort_keys=True))
    elif head is None:
        print(f"{repository} has no registry yet ({registry.remote.ref}): nothing was published there by the action.")
    else:
        print(f"pulled {repository} {registry.remote.ref} at {head.commit[:12]}: {report.imported} record(s) and "
              f"{report.snapshots} snapshot(s) into {backend.store_dir}.")
    return EXIT_OK
