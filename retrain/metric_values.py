"""Metric values as numbers a reviewer can trust: exact decimal arithmetic, non-finite values, display, JSON.

A metric is compared in its own precision: the shortest decimal that reads back as the logged float
(``repr``), so ``0.563 - 0.001`` is ``0.562`` exactly, and a value logged as ``0.562`` sits exactly at that
threshold (binary floating point would make it ``0.5619999999999999``, and the verdict a coin toss). The
comparison table and the gate both use :func:`exact`, so they never disagree on an edge.

A non-finite value (NaN, an infinity) is never better, never passes, and never reaches JSON bare (JSON has
no NaN): it is written as the text ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decimal import Decimal

SIGNIFICANT = 4  # digits a table shows of a small number: 0.000003 stays 0.000003, not 0
DECIMALS = 4  # and at least this many decimals for the rest: 0.8708, 12345.6789


def finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def exact(value: float) -> Decimal:
    """The value in its own precision: the decimal it was logged as (shortest round-trip form)."""
    from decimal import Decimal  # only the review compares values: what prints them does not load it

    return Decimal(repr(float(value)))


def as_float(value: Decimal) -> float:
    return float(value)


def full(value: float | None) -> str:
    """Every digit the value has (for a gate's failure message, where an edge must read as it was decided)."""
    if value is None:
        return "-"
    if not finite(value):
        return non_finite_word(value)
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def shown(value: float | None) -> str:
    """For a table: at least four decimals, and four significant digits for a small number."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return non_finite_word(value)
    if isinstance(value, int) or value == 0:
        return str(value) if isinstance(value, int) else "0"
    magnitude = abs(value)
    if magnitude < 1e-9:
        return f"{value:.{SIGNIFICANT}g}"
    decimals = max(DECIMALS, SIGNIFICANT - 1 - math.floor(math.log10(magnitude)))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def non_finite_word(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its word, so ``json.dumps`` writes valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return non_finite_word(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


__all__ = ["exact", "finite", "full", "json_safe", "non_finite_word", "shown"]
