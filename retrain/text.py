"""Plain-text layout every room prints with: aligned tables and durations, their cells escaped.

The terminal's reports (report/console), the review's text (review/report) and the Markdown templates'
durations (report/markdown) read the same because they lay out through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from . import escape


def closest(word: str, known: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The known word nearest to a mistyped one, for a "did you mean" hint; None if none is near."""
    import difflib  # only a mistake needs it: a valid file's load does not pay for loading it

    close = difflib.get_close_matches(word, list(known), n=1, cutoff=cutoff)
    return close[0] if close else None


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [escape.line("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)


def cell(value: object) -> str:
    """A value as one table cell: escaped, so data cannot start a line or drive the terminal."""
    return escape.value(_text(value))


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"
