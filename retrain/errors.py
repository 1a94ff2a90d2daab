"""The one exception hierarchy of retrain.

Every error a user can cause or fix derives from :class:`RetrainError`. Its message says what went
wrong *and what to do*; ``cli.main`` is the only place that turns one into text and an exit code.
Anything else that escapes is a bug (exit 3, traceback written to a file, not the console).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Exit codes, documented in docs/cli.md.
EXIT_OK = 0
EXIT_WORK_FAILED = 1  # a run failed, was canceled or timed out; a service refused the work
EXIT_BAD_INPUT = 2  # parameter file, arguments, credentials
EXIT_INTERNAL = 3  # a bug in retrain
EXIT_INTERRUPTED = 130


@dataclass(frozen=True, order=True)
class Location:
    """A place in a text file, 1-based as editors and GitHub annotations count."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: where, which key, what, and what to do."""

    message: str
    location: Location | None = None
    key_path: tuple[str | int, ...] = ()
    hint: str = ""

    @property
    def key(self) -> str:
        return format_key_path(self.key_path)

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        at = f"at {self.key}: " if self.key_path else ""
        hint = f" {self.hint}" if self.hint else ""
        return f"{where}{at}{self.message}{hint}"


def format_key_path(path: Sequence[str | int]) -> str:
    """``("pipelines", "income", "data", 0)`` -> ``pipelines.income.data[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class RetrainError(Exception):
    """Base of every error retrain reports to a user."""

    exit_code = EXIT_BAD_INPUT


class UsageError(RetrainError):
    """The command line or action inputs are wrong."""


class InvalidFile(RetrainError):
    """A parameter file or pipeline definition has one or more problems; all are kept in ``problems``.

    The message lists the first :data:`MAX_LISTED`: a generated file with 50,000 unknown keys should
    not print 50,000 lines.
    """

    MAX_LISTED = 50

    def __init__(self, problems: Iterable[Problem], *, what: str = "file") -> None:
        self.problems = tuple(sorted(problems, key=_problem_order))
        n = len(self.problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} in the {what}:"]
        lines += [f"  {p}" for p in self.problems[: self.MAX_LISTED]]
        if n > self.MAX_LISTED:
            lines.append(f"  ... and {n - self.MAX_LISTED:,} more; fix these first.")
        super().__init__("\n".join(lines))


def _problem_order(p: Problem) -> tuple[str, int, int, str]:
    loc = p.location
    return (loc.file, loc.line, loc.column, p.message) if loc else ("", 0, 0, p.message)


class CredentialError(RetrainError):
    """Credentials are missing, malformed or refused."""


class NotFound(RetrainError):
    """An endpoint, version or run that the user named does not exist."""


class BackendError(RetrainError):
    """The backend (Azure ML, the local store) refused or failed the work."""

    exit_code = EXIT_WORK_FAILED


class Interrupted(RetrainError):
    """The user or the runner asked retrain to stop (Ctrl-C, SIGTERM)."""

    exit_code = EXIT_INTERRUPTED
