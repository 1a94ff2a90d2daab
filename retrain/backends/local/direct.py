"""A step's command run as the program it names, without ``bash -c``, when bash would do nothing but run
that one program (GNU make's fast path): starting bash costs about 1 ms a step, as much as the program.

The step must see exactly what ``bash -c`` gives it, so the fast path is taken only when that is known:

- the command is one simple command of plain words (:func:`plain_words`): no expansion, redirection,
  operator, comment, glob, brace or tilde, only characters bash takes as themselves and quoted parts with
  nothing special inside, the form :func:`shlex.quote` gives substituted values; its first word is neither
  an assignment nor one of bash's builtins or reserved words;
- the environment holds no variable bash reads or sets for itself (BASH_ENV, SHELLOPTS, IFS, PPID, ...),
  no name that is not an identifier, a PATH of absolute folders, and a SHLVL bash keeps as it is;
- the bash at hand is one that runs such a command in its own process (exec, no fork) with SHLVL as it
  was and ``_`` the program's path: asked once (:func:`probe`, 2 ms), its answer kept in the store for
  that bash file (:func:`probe_key`);
- the program is found on PATH as bash finds it, and starts. Any failure to start it (not found, not
  executable, a script with no ``#!``) runs the command through bash after all, which then reports and
  exits as it always did (``command not found``, 127).

What bash adds to the environment of such a command is added here: PWD (the folder it runs in), SHLVL,
``_`` (the program's path), and OLDPWD dropped when it names no folder. Only the order of the variables in
the environment may differ (bash lists them in its own table's order).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Mapping

# Characters bash takes as themselves outside quotes (the set shlex.quote leaves unquoted).
_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# A level bash keeps as it is: it adds one and, running the command in its own process, takes it off.
_LEVEL = re.compile(r"(0|[1-9][0-9]{0,2})\Z")

# bash's builtins and reserved words (bash 5.2's `compgen -b` and `compgen -k`, and the few others that
# bash builds can have): as a first word, bash runs its own, never a program.
SHELL_WORDS = frozenset(
    ". : [ alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs "
    "disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill let local "
    "logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend "
    "test times trap true type typeset ulimit umask unalias unset wait "
    "if then else elif fi case esac for select while until do done in function time { } ! [[ ]] coproc".split()
)

# Variables bash reads at start-up, or sets, drops or replaces in what it passes on (checked against
# bash 5.2: each differs between `bash -c printenv` and `printenv`, or changes what bash does).
SHELL_VARIABLES = frozenset(
    "ENV SHELLOPTS POSIXLY_CORRECT EXECIGNORE IFS PS1 PS2 PS4 PPID OPTIND OPTERR RANDOM SRANDOM LINENO "
    "HISTCMD SECONDS EPOCHSECONDS EPOCHREALTIME COMP_WORDBREAKS FUNCNAME GROUPS DIRSTACK PIPESTATUS".split()
)


def plain_words(command: str) -> list[str] | None:
    """The words of ``command`` (quotes removed) when it is one simple command of plain words, else None."""
    words: list[str] = []
    i, n = 0, len(command)
    while i < n:
        if command[i] in " \t":
            i += 1
            continue
        start = i
        parts: list[str] = []
        while i < n and command[i] not in " \t":
            c = command[i]
            if c == "'":
                end = command.find("'", i + 1)
                if end < 0:
                    return None
                parts.append(command[i + 1 : end])
            elif c == '"':
                end = command.find('"', i + 1)
                if end < 0:
                    return None
                part = command[i + 1 : end]
                if "$" in part or "`" in part or "\\" in part or "!" in part:
                    return None  # expanded inside double quotes
                parts.append(part)
            else:
                match = _PLAIN.match(command, i)
                if match is None:
                    return None  # an operator, an expansion, a newline, a glob, ...
                parts.append(match.group())
                end = match.end() - 1
            i = end + 1
        if not words and "=" in command[start:i]:
            return None  # an assignment (FOO=bar cmd), or what could be read as one
        words.append("".join(parts))
    if not words or words[0] in SHELL_WORDS or command.lstrip(" \t").startswith("%"):
        return None  # a builtin, or a job (`%1` is `fg %1`)
    return words


def find_program(name: str, path: str) -> str | None:
    """The program bash runs for ``name``: ``name`` itself when it holds a slash, else the first executable
    file of that name in a PATH folder (an empty entry is the current folder, as bash takes it), spelled as
    bash spells it (its ``_``)."""
    if not name:
        return None
    if "/" in name:
        return name
    for folder in path.split(":"):
        full = folder + name if folder.endswith("/") else f"{folder or '.'}/{name}"
        try:
            st = os.stat(full)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(full, os.X_OK):
            return full
    return None


def environment(env: Mapping[str, str], workdir: str, program: str) -> dict[str, str] | None:
    """The environment ``bash -c`` would give ``program`` run in ``workdir`` (a real path), or None when
    that is not known here (see the module's docstring)."""
    for name in env:
        if name in SHELL_VARIABLES or name.startswith("BASH") or not _NAME.match(name):
            return None
    path = env.get("PATH")
    if not path or any(not folder.startswith("/") for folder in path.split(":")):
        return None  # bash's own default PATH, or folders it reads relative to the step's folder or ~
    level = env.get("SHLVL", "0")
    if not _LEVEL.match(level) or int(level) >= 999:
        return None  # bash would reset it (with a warning) or read it as 0
    pwd = env.get("PWD", "")
    if pwd.startswith("/"):
        try:
            if os.path.samefile(pwd, workdir):
                return None  # bash keeps such a PWD, spelled its way
        except OSError:
            pass
    out = dict(env)
    out["PWD"] = workdir
    out["SHLVL"] = level
    out["_"] = program
    old = out.get("OLDPWD")
    if old is not None and not os.path.isdir(old):
        del out["OLDPWD"]
    return out


def probe(bash: str, env: Mapping[str, str]) -> bool | None:
    """Whether this bash runs a plain command as the fast path assumes: in its own process, with SHLVL as
    it was and ``_`` the program's path (bash 5.1 and later do); None when it could not be asked."""
    path = env.get("PATH", "")
    printenv = find_program("printenv", path) if path else None
    if printenv is None:
        return None
    try:
        done = subprocess.run([bash, "-c", "printenv SHLVL _"], env={"PATH": path, "SHLVL": "5"},
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.returncode == 0 and done.stdout == f"5\n{printenv}\n".encode()


def probe_key(bash: str) -> str | None:
    """Where the store keeps bash's answer (its meta table): the answer of this very file, so a bash
    replaced (upgraded) is asked again."""
    try:
        st = os.stat(bash)
    except OSError:
        return None
    return f"bash runs plain commands: {bash} {st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns}"
