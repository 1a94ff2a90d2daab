"""Step logs read in bounded pieces: a 200 MB log, or one line of 200 MB with no newline, costs the reader
a chunk of memory, never the whole file.

:func:`read_chunk` hands back whole lines from an offset, at most :data:`CHUNK` bytes at a time, a line longer
than :data:`LINE_MAX` cut (the rest of it skipped, wherever it ends), and the unterminated end of the log once
the step has ended (output with no newline is shown too). The offset alone says where the reader is: an
offset just after a cut (the byte before it is not a newline) means "skip to the end of this line first".
:func:`log_tail` reads the last lines from the end of the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

CHUNK = 64 * 1024
LINE_MAX = 4096
TAIL_BYTES = 64 * 1024


def _cut(line: bytes) -> str:
    if len(line) <= LINE_MAX:
        return line.decode(errors="replace")
    return line[:LINE_MAX].decode(errors="replace") + f" [line cut at {LINE_MAX} bytes]"


def read_chunk(path: Path, offset: int, ended: Callable[[], bool]) -> tuple[str, int]:
    """``(text, next offset)``; ``ended()`` says whether the step has ended (asked only when the log ends in
    an unterminated line)."""
    try:
        f = path.open("rb")
    except OSError:
        return "", offset
    with f:
        if offset > 0:
            f.seek(offset - 1)
            if f.read(1) != b"\n":  # inside a line that was cut: skip the rest of it
                while True:
                    block = f.read(CHUNK)
                    if not block:
                        return "", f.tell()
                    nl = block.find(b"\n")
                    if nl >= 0:
                        offset = f.tell() - len(block) + nl + 1
                        break
        f.seek(offset)
        data = f.read(CHUNK)
    if not data:
        return "", offset
    out: list[str] = []
    start = 0
    while True:
        nl = data.find(b"\n", start)
        if nl < 0:
            break
        out.append(_cut(data[start:nl]))
        start = nl + 1
    rest = data[start:]
    if len(rest) > LINE_MAX:
        out.append(_cut(rest))  # marks the line as cut; the next read skips what remains of it
        start += LINE_MAX
    elif rest and len(data) < CHUNK and ended():
        out.append(rest.decode(errors="replace"))  # the last line has no newline and never will
        start = len(data)
    if not out:
        return "", offset
    return "\n".join(out) + "\n", offset + start


def log_tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log, read from its end, each cut to :data:`LINE_MAX`."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - TAIL_BYTES))
            data = f.read(TAIL_BYTES)
    except OSError:
        return ""
    parts = data.split(b"\n")
    if size > TAIL_BYTES and len(parts) > 1:
        parts = parts[1:]  # the first piece is the end of a line that started earlier
    if parts and parts[-1] == b"":
        parts = parts[:-1]
    return "\n".join(_cut(p) for p in parts[-lines:])
