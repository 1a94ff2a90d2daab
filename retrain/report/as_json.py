"""What scripts read: records (dataclasses, enums, paths, times) as JSON-ready values, for ``--json`` and the
action's outputs."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from ..metric_values import non_finite_word


def to_json(value: Any) -> Any:
    """Dataclasses, enums, paths and datetimes as JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        # A loaded pipeline (a whole graph) is left out; a field named pipeline that holds its name stays.
        return {k: to_json(v) for k, v in asdict(value).items() if k != "pipeline" or isinstance(v, str)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime,)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [to_json(v) for v in value]
        return sorted(items) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, float) and not math.isfinite(value):
        return non_finite_word(value)  # JSON has no NaN: "NaN", "Infinity", "-Infinity"
    return value


def print_json(value: Any) -> None:
    print(json.dumps(to_json(value), indent=2, sort_keys=True))
