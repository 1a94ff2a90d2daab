"""The one escaping rule for text that comes from data and reaches a log: step output, log tails,
parameter values, run messages, names from the parameter file.

A GitHub runner reads every line of a job's log for workflow commands (``::add-mask::``,
``::stop-commands::``, ``::warning``...), whatever its leading spaces, and for the older syntax
``##[command]data`` *anywhere* in a line (actions/runner, ``ActionCommand.TryParse`` looks for ``##[``
with ``IndexOf``; ``##[add-mask]x`` and ``##[warning]x`` still act). So:

- a *value* (shown inside a line of ours) never starts a new line: newlines and other control
  characters are shown escaped (``\\n``, ``\\x1b``), as Python's ``repr`` shows them, and a ``##[``
  shows its bracket escaped (``##\\x5b``), so no old-style command starts in it;
- a *block* of output (a step's log) is printed between ``::stop-commands::<token>`` and ``::<token>::``
  with a fresh random token per block, the runner's own way to print text it must not interpret
  ("Workflow commands for GitHub Actions": stopping and starting workflow commands); control
  characters other than the newline are escaped in it too.

Both reporters (the console's and the check run's) print through this module, and so do the plan's and the
run's text renderings. Byte limits for what goes to GitHub live here too.
"""

from __future__ import annotations

import os
import re

# C0 and C1 controls except tab, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\x1b"}


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group()
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def _controls(text: object) -> str:
    return _CONTROL.sub(_escape_char, str(text))


def value(text: object) -> str:
    """One line: anything that could end the line, drive a terminal or start an old-style ``##[``
    command is shown escaped."""
    return _controls(text).replace("##[", "##\\x5b")


def line(text: object) -> str:
    """A whole line we print that holds data: :func:`value`, and a line that would begin (after spaces,
    which the runner skips) with ``::`` shows its first colon escaped, so it is never a command."""
    shown = value(text)
    stripped = shown.lstrip()
    if stripped.startswith("::"):
        at = len(shown) - len(stripped)
        shown = shown[:at] + "\\x3a" + shown[at + 1 :]
    return shown


def lines(text: str) -> list[str]:
    """Each line of ``text`` as a :func:`value` (to print behind a prefix of ours, so that no line
    starts with ``::``)."""
    return [value(line) for line in _split(text)]


def _split(text: str) -> list[str]:
    return text.replace("\r\n", "\n").split("\n")


def block_lines(text: str, stop: str) -> list[str]:
    """Each line of ``text`` as it goes inside the block that ``::<stop>::`` ends: control characters
    escaped; ``::`` and ``##[`` left as they are (the runner ignores them there), except in the
    (practically impossible) line that holds ``stop``, which is escaped as a :func:`line` so that it
    cannot end the block (``::<stop>::`` or ``##[<stop>]``)."""
    shown = [_controls(each) for each in _split(text)]
    return [line(each) if stop.lower() in each.lower() else each for each in shown]


def token() -> str:
    # What secrets.token_hex(16) returns, without loading secrets (and the hmac, random and base64 it loads)
    # in every command that prints.
    return os.urandom(16).hex()


def block(text: str) -> str:
    """``text`` as the runner will show it and never interpret: inside a stop-commands block."""
    stop = token()
    return f"::stop-commands::{stop}\n" + "\n".join(block_lines(text.rstrip("\n"), stop)) + f"\n::{stop}::\n"


_CONTROL_NOT_NEWLINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def command_data(text: str, *, controls: bool = True) -> str:
    """The message of a ``::command::message`` line: the runner turns %0A back into a newline in the
    annotation it shows, so the message stays one line in the log; other controls are shown escaped
    (unless ``controls`` is False: ``add-mask`` needs the value itself)."""
    if controls:
        text = _CONTROL_NOT_NEWLINE.sub(_escape_char, text)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def group_title(text: str) -> str:
    """The title of a ``::group::`` line: command data as ``@actions/core`` ``startGroup`` sends it (``%``, CR
    and LF percent-escaped, which the runner turns back), other controls shown escaped, and no ``##[`` (the
    runner reads a line it does not take for a ``::`` command for the older syntax)."""
    return command_data(text).replace("##[", "##\\x5b")


def command_property(text: str) -> str:
    """A ``key=value`` property of a workflow command (``title=``, ``file=``)."""
    return command_data(text).replace(":", "%3A").replace(",", "%2C")


def cut_bytes(text: str, limit: int, note: str) -> str:
    """``text`` within ``limit`` UTF-8 bytes, ending with ``note`` when cut (never in a character's middle)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(note.encode("utf-8"))
    if room <= 0:
        return note.encode("utf-8")[:limit].decode("utf-8", "ignore")
    return data[:room].decode("utf-8", "ignore") + note


# -- Markdown and HTML (reports on GitHub) ---------------------------------------------------------------------------
# Text from data (metric names, run messages, parameter values, log tails) shown in a report that GitHub renders as
# Markdown with inline HTML: the job summary, a check run's summary, a pull-request comment. One rule for all of them,
# which leaves ordinary text as it reads ("auc is 0.91, needs >= 0.95", snake_case names) and disarms the rest:
# - ``<`` and ``&`` become character references: no tag, no comment, no autolink, no entity of the data's own;
# - the characters that start inline Markdown (code, emphasis, strikethrough, links) and ``|`` (which ends a table
#   cell) are backslash-escaped; ``_`` only where it could start or end emphasis (not between two letters or digits,
#   where CommonMark never reads it so);
# - what would start a block at the head of the text (a heading, a quote, a list, a rule) is escaped there;
# - a line break becomes ``<br>`` (it would end a table row), and other control characters are shown escaped.
# Inside such text nothing is code: a template that sets a name in code wraps the escaped text in <code>, never in
# backticks, in which escapes are not read.
_MD_ENTITIES = {"<": "&lt;", "&": "&amp;"}
# Patterns as text, compiled by ``re`` on first use (and kept in its cache): a command that writes no Markdown (every
# command on a terminal) does not compile them at import.
_MD_INLINE = r"[\\`*\[\]~|<&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"
# A heading, a quote, a bullet, a rule ("---") or an ordered list item ("1. ") at the head of the text.
_MD_BLOCK_START = r"^(\s*)(>|#{1,6}(?=\s|$)|[+-](?=\s|$)|-(?=[ \t-]*-[ \t-]*-)|\d{1,9}(?=[.)](?:\s|$)))"


def _md_char(m: re.Match[str]) -> str:
    ch = m.group()
    return _MD_ENTITIES.get(ch) or "\\" + ch


def _md_line(text: str) -> str:
    shown = re.sub(_MD_INLINE, _md_char, _controls(text).replace("\t", " "))
    head = re.match(_MD_BLOCK_START, shown)
    if head is not None:
        at = head.end()
        shown = shown[:at] + "\\" + shown[at:] if head.group(2)[0].isdigit() else shown[:head.start(2)] + "\\" + shown[head.start(2):]
    return shown


def markdown(text: object) -> str:
    """``text`` as literal inline Markdown (a table cell, a line of a report): it renders as itself."""
    return "<br>".join(_md_line(line) for line in _split(str(text)))
