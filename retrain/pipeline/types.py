"""Parameter types: coercing values (often strings, as workflow_dispatch sends them) to the declared
type, durations, and rendering literals on a command line the way Azure ML does."""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path

from ..boundary import OUTSIDE_HINT, BadFileUri, describe_outside, file_uri_path, outside
from .model import InputType, Literal, Port
from ..text import closest

# Schemes that name data somewhere else; they pass through untouched.
URI_PREFIXES = ("azureml://", "azureml:", "https://", "http://", "wasbs://", "wasb://", "abfss://", "abfs://", "adl://", "file://")

# The longest value, as it appears on a step's command line (shell-quoted, in UTF-8 bytes). Linux takes
# at most 128 KiB in one argument (MAX_ARG_STRLEN) and the local backend hands a step's whole command
# to bash as one argument, so a 1 MB value would validate and then fail the run with "Argument list
# too long"; 16 KiB leaves room for several long values and the command itself. docs/limits.md.
MAX_VALUE_BYTES = 16 * 1024
# Integers as Azure ML, SQLite and JSON consumers hold them exactly.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


class CoercionError(ValueError):
    """A value that does not fit its parameter; the message is a full sentence with the fix."""


def is_uri(value: str) -> bool:
    return value.startswith(URI_PREFIXES)


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def coerce(port: Port, value: object, *, base_dir: Path, inside: Path | None = None) -> Literal:
    """``value`` as ``port.type``, checked against ``min``/``max``/``enum`` and the length limit.

    Data values (uri_file, uri_folder, ...) that are local paths become absolute against ``base_dir``
    and, when ``inside`` (the repository root) is given, must resolve under it. ``file:///abs/path``
    is the explicit way to name local data elsewhere; it becomes that path.
    """
    kind = port.type
    name = port.name
    if value is None:
        raise CoercionError(f"'{name}' needs a value of type {kind.value}; it is empty.")
    if isinstance(value, str):
        _check_text(name, value)
    if kind is InputType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        raise CoercionError(f"'{name}' is a boolean; {_show(value)} is not. Use true or false.")
    if kind is InputType.INTEGER:
        number = _integer(name, value)
        _range(port, number)
        return number
    if kind is InputType.NUMBER:
        real = _number(name, value)
        _range(port, real)
        return real
    if kind is InputType.STRING:
        if not isinstance(value, (str, int, float)):
            raise CoercionError(f"'{name}' is a string; {_show(value)} is not. Quote it in YAML: '{value}'.")
        # As azure-ai-ml: a YAML true given to a string input is the string "True" (Python's str()).
        text = value if isinstance(value, str) else str(value)
        if port.enum is not None and text not in port.enum:
            raise CoercionError(f"'{name}' must be one of {', '.join(port.enum)}; {text!r} is not.")
        return text
    # Data types: a path or a URI.
    if not isinstance(value, str) or not value.strip():
        raise CoercionError(f"'{name}' is a {kind.value} (a path or URI); {_show(value)} is not. Give a path such as data/train.csv.")
    text = value.strip()
    if text.lower().startswith("file:"):
        try:
            return str(file_uri_path(text))
        except BadFileUri as e:
            raise CoercionError(f"'{name}': {e}") from None
    if is_uri(text):
        return text
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # ~someone who does not exist here
        path = Path(text)
    path = path if path.is_absolute() else (base_dir / path)
    if inside is not None and (resolved := outside(path, inside)) is not None:
        raise CoercionError(f"'{name}': {describe_outside(text, resolved, inside)} {OUTSIDE_HINT}")
    return str(Path(_normalise(path)))


def _check_text(name: str, text: str) -> None:
    if "\x00" in text:
        raise CoercionError(f"'{name}' contains a NUL character, which no command line can carry. Remove it.")
    size = len(shlex.quote(text).encode("utf-8", errors="surrogatepass"))
    if size > MAX_VALUE_BYTES:
        raise CoercionError(
            f"'{name}' is {size:,} bytes on the command line; the limit is {MAX_VALUE_BYTES:,} bytes (docs/limits.md). "
            "Put long content in a file in the repository and pass its path."
        )


def _normalise(path: Path) -> str:
    # resolve() without requiring existence; keeps symlinks' targets out of the value users see.
    return os.path.normpath(str(path))


def _integer(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise CoercionError(f"'{name}' is an integer; {_show(value)} is a boolean. Write a whole number such as 5.")
    if isinstance(value, int):
        return _int64(name, value)
    if isinstance(value, float) and value.is_integer():
        return _int64(name, int(value))
    if isinstance(value, str):
        text = value.strip()
        digits = text.lstrip("+-").replace("_", "")
        if digits.isdigit() and len(digits) > 19:
            raise CoercionError(f"'{name}' is an integer of {len(digits):,} digits; integers are limited to 64 bits.")
        try:
            return _int64(name, int(text))
        except ValueError:
            try:
                real = float(text)
            except ValueError:
                real = math.nan
            if real.is_integer():
                return _int64(name, int(real))
    raise CoercionError(f"'{name}' is an integer; {_show(value)} is not. Write a whole number such as 5.")


def _int64(name: str, number: int) -> int:
    if not INT_MIN <= number <= INT_MAX:
        raise CoercionError(f"'{name}' is {number:.3g}, beyond 64 bits, the limit for integers.")
    return number


def _number(name: str, value: object) -> float:
    if isinstance(value, bool):
        raise CoercionError(f"'{name}' is a number; {_show(value)} is a boolean. Write a number such as 0.1.")
    if isinstance(value, (int, float)):
        real = float(value)
    elif isinstance(value, str):
        try:
            real = float(value.strip())
        except ValueError:
            raise CoercionError(f"'{name}' is a number; {_show(value)} is not. Write a number such as 0.1.") from None
    else:
        raise CoercionError(f"'{name}' is a number; {_show(value)} is not. Write a number such as 0.1.")
    if math.isnan(real) or math.isinf(real):
        raise CoercionError(f"'{name}' must be a finite number, not {value}.")
    return real


def _range(port: Port, value: float) -> None:
    if port.min is not None and value < port.min:
        raise CoercionError(f"'{port.name}' must be at least {_num(port.min)}; {_num(value)} is below.")
    if port.max is not None and value > port.max:
        raise CoercionError(f"'{port.name}' must be at most {_num(port.max)}; {_num(value)} is above.")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([hms])\s*")


MAX_DURATION_S = 30 * 24 * 3600.0  # a longer timeout is a typo; `.inf` would mean never (docs/limits.md)


def parse_duration(value: object) -> float:
    """``"2h"``, ``"90m"``, ``"1h30m"``, ``"45s"`` or a number of seconds, as seconds (at most 30 days)."""
    seconds = _duration(value)
    if not seconds <= MAX_DURATION_S:  # also catches nan
        raise ValueError(f"{_short(value)} is longer than 30 days (720h), the longest timeout; write e.g. 2h, 30m or 45s.")
    return seconds


def _duration(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{_short(value)} is not a duration; write e.g. 2h, 30m, 1h30m or 45s.")
    if isinstance(value, (int, float)):
        if value > 0:
            return float(value)
        raise ValueError(f"a duration must be positive, not {value}; write e.g. 2h, 30m or 45s.")
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d+(\.\d+)?", text) and float(text) > 0:
            return float(text)
        pos, total, units = 0, 0.0, set()
        for m in _DURATION.finditer(text):
            if m.start() != pos or m.group(2) in units:
                break
            units.add(m.group(2))
            total += float(m.group(1)) * {"h": 3600, "m": 60, "s": 1}[m.group(2)]
            pos = m.end()
        else:
            if pos == len(text) and total > 0:
                return total
    raise ValueError(f"{_short(value)} is not a duration; write e.g. 2h, 30m, 1h30m or 45s.")


def _short(value: object, limit: int = 40) -> str:
    """A value as quoted in a message, cut so a megabyte of input does not become a megabyte of error."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def format_literal(value: Literal) -> str:
    """A literal as Azure ML puts it on a command line: Python's ``str()``, so booleans are True/False."""
    return str(value)


def unknown_parameter_hint(name: str, declared: Mapping[str, object]) -> str:
    known = sorted(declared)
    close = closest(name, known)
    listing = ", ".join(known) if known else "none"
    return (f"Did you mean '{close}'? " if close else "") + f"Its parameters: {listing}."

