"""Workflow commands and files of a GitHub Actions job: masks, annotations, groups, outputs, summary.

Docs: "Workflow commands for GitHub Actions". Values in ``::command key=value::message`` lines are
escaped as the runner expects, by :mod:`retrain.escape`. Outputs go
to the file named by ``GITHUB_OUTPUT`` with a heredoc delimiter that cannot occur in the value.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..errors import Problem
from ..escape import command_data as _escape_data
from ..escape import command_property as _escape_property
from ..escape import group_title as _group_title

# GitHub: "The maximum size for the job summary of a step is 1 MiB"; past it the summary is dropped.
MAX_SUMMARY_BYTES = 1024 * 1024
SUMMARY_CUT = "\n\n**... the rest of the report is left out: a step's job summary holds at most 1 MiB.**\n"


@dataclass
class Workflow:
    """The job's side of GitHub Actions, from the environment the runner gives."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    output_file: Path | None = None
    summary_file: Path | None = None
    workspace: Path | None = None  # GITHUB_WORKSPACE, so annotation paths are repository-relative

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], out: TextIO | None = None) -> "Workflow":
        def path(name: str) -> Path | None:
            value = environ.get(name)
            return Path(value) if value else None

        return cls(out or sys.stdout, path("GITHUB_OUTPUT"), path("GITHUB_STEP_SUMMARY"), path("GITHUB_WORKSPACE"))

    def command(self, name: str, message: str = "", *, raw: bool = False, **props: object) -> None:
        given = ",".join(f"{k}={_escape_property(str(v))}" for k, v in props.items() if v is not None)
        data = _escape_data(message, controls=not raw)
        print(f"::{name}{' ' + given if given else ''}::{data}", file=self.out, flush=True)

    def mask(self, value: str) -> None:
        """Ask the runner to hide ``value`` (each line) in every log from now on."""
        for line in value.splitlines() or [value]:
            if line.strip():
                self.command("add-mask", line, raw=True)  # the secret itself, not its escaped form

    def error(self, message: str, *, file: str | None = None, line: int | None = None, col: int | None = None, title: str | None = None) -> None:
        self.command("error", message, file=file, line=line, col=col, title=title)

    def warning(self, message: str, *, title: str | None = None) -> None:
        self.command("warning", message, title=title)

    def notice(self, message: str, *, title: str | None = None) -> None:
        self.command("notice", message, title=title)

    def annotate(self, problem: Problem, *, title: str = "retrain") -> None:
        loc = problem.location
        text = f"{'at ' + problem.key + ': ' if problem.key_path else ''}{problem.message}{' ' + problem.hint if problem.hint else ''}"
        if loc is None:
            self.error(text, title=title)
        else:
            self.error(text, file=self.relative(loc.file), line=loc.line, col=loc.column, title=title)

    def relative(self, file: str) -> str:
        if self.workspace is None:
            return file
        try:
            return str(Path(file).resolve().relative_to(self.workspace.resolve()))
        except ValueError:
            return file

    def group(self, title: str) -> None:
        print(f"::group::{_group_title(title)}", file=self.out, flush=True)

    def endgroup(self) -> None:
        print("::endgroup::", file=self.out, flush=True)

    def set_output(self, name: str, value: str) -> None:
        if self.output_file is None:
            return
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in value:  # practically never; but a value must not end the heredoc early
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        with self.output_file.open("a", encoding="utf-8") as f:
            f.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        """Append to the step's summary, keeping the whole file under GitHub's 1 MiB."""
        if self.summary_file is None:
            return
        used = self.summary_file.stat().st_size if self.summary_file.exists() else 0
        text = markdown.rstrip() + "\n\n"
        data = text.encode("utf-8")
        room = MAX_SUMMARY_BYTES - used
        if len(data) > room:
            cut = room - len(SUMMARY_CUT.encode("utf-8"))
            if cut <= 0:
                return  # the note is already there, or there is no room even for it
            text = data[:cut].decode("utf-8", "ignore") + SUMMARY_CUT
        with self.summary_file.open("a", encoding="utf-8") as f:
            f.write(text)
