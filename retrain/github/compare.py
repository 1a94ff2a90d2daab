"""The files a push changed, from the compare API (``GET /repos/{owner}/{repo}/compare/{base}...{head}``).

Actions delivers push payloads without the commits' file lists, so this is where a push's changed files
come from. The answer is paginated (``per_page``, ``Link: rel="next"``); every page is read and its files
merged. GitHub lists at most 300 files for a comparison: when that many came back, more may have
changed, and the list is marked incomplete so the plan counts every file as changed rather than miss one.
"""

from __future__ import annotations

from dataclasses import dataclass

from .api import GitHubAPI

# GitHub's documented cap on the files of one comparison.
MAX_COMPARE_FILES = 300
PER_PAGE = 100


@dataclass(frozen=True)
class Changes:
    files: tuple[str, ...]
    complete: bool
    note: str


def compare(api: GitHubAPI, base: str, head: str) -> Changes:
    files: dict[str, None] = {}
    for page in api.pages(f"/compare/{base}...{head}", {"per_page": str(PER_PAGE)}):
        for entry in (page or {}).get("files") or []:
            if isinstance(entry, dict) and isinstance(entry.get("filename"), str):
                files[entry["filename"]] = None
                # A rename changes the old path too (a data file moved away from a glob).
                if isinstance(entry.get("previous_filename"), str):
                    files[entry["previous_filename"]] = None
    listed = sum(1 for _ in files)
    where = f"{base[:12]}...{head[:12]}"
    if listed >= MAX_COMPARE_FILES:
        return Changes(tuple(files), False, f"the compare API lists at most {MAX_COMPARE_FILES} files and listed {listed} for {where}")
    return Changes(tuple(files), True, f"{listed} file(s) from the compare API, {where}")
