"""The event retrain reacts to, whatever it came from: what happened (push, pull request, dispatch,
schedule) and what changed.

Built from the command line (``--event``, ``--changed``) or from a GitHub payload
(:mod:`retrain.action.payload`). The plan is computed from an :class:`Event`; nothing here talks to the
network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class Event:
    """What happened on GitHub (or at the terminal), as much as the plan needs of it."""

    name: str  # push, pull_request, dispatch or schedule ("workflow_dispatch" is normalised to "dispatch")
    ref: str | None = None  # "refs/heads/main" or "refs/tags/v1"
    default_branch: str | None = None  # from the payload's repository; None = unknown
    sha: str | None = None  # the commit the work is for (a pull request's head SHA)
    before: str | None = None  # push: the commit before (all zeros for a new branch), for the compare API
    changed_files: tuple[str, ...] | None = None  # repository-relative; None = unknown
    changed_files_complete: bool = True  # False when the list may be cut short
    forced: bool = False
    deleted: bool = False  # push: the ref was deleted; there is nothing to plan
    inputs: Mapping[str, str] = field(default_factory=dict)  # workflow_dispatch inputs
    repository: str | None = None  # "owner/name"
    from_fork: bool = False  # a pull request whose head is in another repository: no secrets, read-only token
    changes_note: str | None = None  # why the list of changed files is what it is (compare API, cap, ...)
    number: int | None = None  # a pull request's number (its issue's, for comments)

    @property
    def branch(self) -> str | None:
        if self.ref and self.ref.startswith("refs/heads/"):
            return self.ref[len("refs/heads/") :]
        return None

    @property
    def tag(self) -> str | None:
        if self.ref and self.ref.startswith("refs/tags/"):
            return self.ref[len("refs/tags/") :]
        return None

    @property
    def new_branch(self) -> bool:
        return self.name == "push" and (self.before or ZERO_SHA).strip("0") == ""

    @property
    def is_default_branch(self) -> bool:
        """A push with no branch information counts as a merge, as on the command line; a tag never does."""
        if self.tag is not None:
            return False
        if self.default_branch is None or self.branch is None:
            return True
        return self.branch == self.default_branch
