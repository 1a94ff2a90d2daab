"""Glob patterns for ``data:`` rules, with ``**`` crossing folders as in ``on.push.paths``.

fnmatch's ``*`` matches ``/`` and it has no ``**``; pathlib's ``match`` anchors from the right. Neither
means what a GitHub user expects, so patterns are translated to regular expressions here:
``*`` and ``?`` stay inside one path segment, ``**/`` matches zero or more folders, ``[...]`` is a
character class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


class BadGlob(ValueError):
    """A pattern that cannot be used; the message says why and how to write it."""


@dataclass(frozen=True)
class Glob:
    """A `data:` pattern of the parameter file and the expression it matches paths with."""

    pattern: str
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path.replace("\\", "/")) is not None


@lru_cache(maxsize=512)
def compile_glob(pattern: str) -> Glob:
    if not isinstance(pattern, str) or not pattern.strip():
        raise BadGlob("an empty pattern matches nothing; write a path such as data/**/*.csv.")
    if pattern.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", pattern):
        raise BadGlob(
            f"{pattern!r} is absolute; patterns are relative to the parameter file's folder, "
            "e.g. data/**/*.csv."
        )
    parts = pattern.split("/")
    if ".." in parts:
        raise BadGlob(f"{pattern!r} leaves the parameter file's folder with '..'; move the rule or the file.")
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**", i):
            before_ok = i == 0 or pattern[i - 1] == "/"
            after = pattern[i + 2 : i + 3]
            if not before_ok or after not in ("", "/"):
                raise BadGlob(f"{pattern!r}: '**' must be a whole path segment, as in data/**/*.csv.")
            if after == "/":
                out.append("(?:[^/]+/)*")
                i += 3
            else:
                out.append(".*")
                i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if j == -1:
                raise BadGlob(f"{pattern!r}: the '[' at position {i + 1} is never closed; add ']' or escape it as [[].")
            body = pattern[i + 1 : j]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    try:
        regex = re.compile("".join(out))
    except re.error as e:  # e.g. a reversed range [z-a]
        raise BadGlob(f"{pattern!r} is not a valid pattern ({e}).") from None
    return Glob(pattern, regex)
