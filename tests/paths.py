"""The repository's root, so that where a test module sits in tests/ never changes what its paths name."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
