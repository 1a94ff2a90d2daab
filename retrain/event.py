"""The event retrain reacts to: what happened (push, pull request, dispatch, schedule) and what changed.

Built from the command line (``--event``, ``--changed``) or from a GitHub event payload. The plan is
computed from an :class:`Event`; nothing here talks to the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

@dataclass(frozen=True)
class Event:
    name: str  # push, pull_request, dispatch or schedule ("workflow_dispatch" is normalised to "dispatch")
    ref: str | None = None  # "refs/heads/main"
    default_branch: str | None = None  # from the payload's repository; None = unknown
    sha: str | None = None  # the commit the work is for (a pull request's head SHA)
    before: str | None = None  # push: the commit before, for the compare API
    changed_files: tuple[str, ...] | None = None  # repository-relative; None = unknown
    changed_files_complete: bool = True  # False when the payload's list was cut short
    forced: bool = False
    inputs: Mapping[str, str] = field(default_factory=dict)  # workflow_dispatch inputs
    repository: str | None = None  # "owner/name"
    from_fork: bool = False  # a pull request whose head is in another repository: no secrets, read-only token

    @property
    def branch(self) -> str | None:
        if self.ref and self.ref.startswith("refs/heads/"):
            return self.ref[len("refs/heads/") :]
        return None

    @property
    def is_default_branch(self) -> bool:
        """A push with no branch information counts as a merge, as on the command line."""
        if self.default_branch is None or self.branch is None:
            return True
        return self.branch == self.default_branch
