"""A version pin (``3``, ``default``, ``latest``), as the parameter file, the command line or an action input writes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from ..backends.base import VersionPin

MAX_VERSION = 2**31 - 1  # larger numbers are a typo, and some stores hold versions as 32-bit integers


def parse_version_pin(value: object) -> VersionPin:
    """``3``, ``"3"``, ``"default"``, ``"latest"``; raise ValueError with what to write instead.

    0 is allowed: pipeline endpoints published from Azure ML's v1 designer number versions from 0.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a version number, 'default' or 'latest', got {value!r}.")
    if isinstance(value, int) and 0 <= value <= MAX_VERSION:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("default", "latest"):
            return text
        if text.isdigit() and len(text) <= 10 and int(text) <= MAX_VERSION:
            return int(text)
    raise ValueError(f"expected a version number, 'default' or 'latest', got {value!r}.")


def parse_version_option(text: str, *, origin: str) -> VersionPin:
    """A version typed by a person (``--version``, an action input); a bad one is a :class:`UsageError`."""
    try:
        return parse_version_pin(text)
    except ValueError as e:
        raise UsageError(f"{origin}: {e}") from None
