"""Metrics a step logged: MLflow's file store (what Azure ML components write with mlflow.log_metric)
and, for scripts without MLflow, a ``metrics.json`` in an output folder.

The file store layout read here (MLflow's ``file:`` tracking URI):
``mlruns/<experiment id>/<run id>/metrics/<key>``, one line per logged value, ``<timestamp> <value> <step>``.
The last line of each file is the metric's final value. MLflow itself is not imported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def read_mlflow(mlruns: Path) -> dict[str, float]:
    found: dict[str, tuple[int, float]] = {}
    if not mlruns.is_dir():
        return {}
    for metrics_dir in mlruns.glob("*/*/metrics"):
        for metric_file in metrics_dir.rglob("*"):
            if not metric_file.is_file():
                continue
            key = metric_file.relative_to(metrics_dir).as_posix()  # keys may contain '/'
            for line in metric_file.read_text(errors="replace").splitlines():
                parts = line.split()
                if len(parts) < 2:
                    continue
                try:
                    stamp, value = int(parts[0]), float(parts[1])
                except ValueError:
                    continue
                # A NaN or an infinity is kept: the gate must see that the metric is there and not a number.
                if key not in found or stamp >= found[key][0]:
                    found[key] = (stamp, value)
    return {k: v for k, (_, v) in sorted(found.items())}


def read_json(folder: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        outputs = sorted(entry.name for entry in os.scandir(folder) if entry.is_dir())
    except OSError:
        return out
    for name in outputs:
        path = folder / name / "metrics.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):  # none there (the usual case), or not JSON
            continue
        if isinstance(data, dict):
            for k, v in data.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):  # NaN kept, as in read_mlflow
                    out[str(k)] = float(v)
    return out


def step_metrics(step_dir: Path) -> dict[str, float]:
    metrics = read_json(step_dir / "outputs")
    metrics.update(read_mlflow(step_dir / "mlruns"))
    return metrics
