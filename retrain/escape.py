"""The one escaping rule for text that comes from data and reaches a log: step output, log tails,
parameter values, run messages, names from the parameter file.

A GitHub runner reads every line of a job's log for workflow commands (``::add-mask::``,
``::stop-commands::``, ``::warning``...), whatever its leading spaces. So:

- a *value* (shown inside a line of ours) never starts a new line: newlines and other control
  characters are shown escaped (``\\n``, ``\\x1b``), as Python's ``repr`` shows them;
- a *block* of output (a step's log) is printed between ``::stop-commands::<token>`` and ``::<token>::``
  with a fresh random token per block, the runner's own way to print text it must not interpret
  ("Workflow commands for GitHub Actions": stopping and starting workflow commands); control
  characters other than the newline are escaped in it too.

Both reporters (the console's and the check run's) print through this module, and so do the plan's and the
run's text renderings. Byte limits for what goes to GitHub live here too.
"""

from __future__ import annotations

import re
import secrets

# C0 and C1 controls except tab, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\x1b"}


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group()
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def value(text: object) -> str:
    """One line: anything that could end the line or drive a terminal is shown escaped."""
    return _CONTROL.sub(_escape_char, str(text))


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
    """Each line of ``text`` with its other control characters escaped (for use inside a block)."""
    return [value(line) for line in text.replace("\r\n", "\n").split("\n")]


def token() -> str:
    return secrets.token_hex(16)


def block(text: str) -> str:
    """``text`` as the runner will show it and never interpret: inside a stop-commands block."""
    body = "\n".join(lines(text.rstrip("\n")))
    stop = token()
    while stop in body:  # practically never; but the block must not end early
        stop = token()
    return f"::stop-commands::{stop}\n{body}\n::{stop}::\n"


_CONTROL_NOT_NEWLINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def command_data(text: str, *, controls: bool = True) -> str:
    """The message of a ``::command::message`` line: the runner turns %0A back into a newline in the
    annotation it shows, so the message stays one line in the log; other controls are shown escaped
    (unless ``controls`` is False: ``add-mask`` needs the value itself)."""
    if controls:
        text = _CONTROL_NOT_NEWLINE.sub(_escape_char, text)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


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
