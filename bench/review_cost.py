"""What reviewing a finished run costs on the local backend: choosing its baseline, comparing the metrics,
judging the gate and reading the trend, in a store that already holds many runs of the pipeline.

The store is filled through the store's own SQLite tables (completed runs with metrics, 6 steps each),
then ``promote.review`` is timed on the newest run. Prints the median of several reviews per store size.
The goal: well under a second for a pipeline with thousands of runs, next to a run that takes seconds.

    python bench/review_cost.py [--runs 100 1000 5000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def fill(store_dir: Path, n: int) -> None:
    from retrain.backends.local.store import Store, utcnow

    store = Store(store_dir)
    with store.write() as db:
        db.execute("INSERT INTO endpoints(name, default_version, created) VALUES ('bench-ep', 1, ?)", (utcnow(),))
        db.execute("INSERT INTO versions(endpoint, number, content_hash, created, snapshot, parameters) "
                   "VALUES ('bench-ep', 1, 'sha256:0', ?, 'snap/pipeline.yml', '{}')", (utcnow(),))
        for i in range(n):
            run_id = f"bench-{i:06d}"
            metrics = {"auc": 0.9 + (i % 50) / 1000, "accuracy": 0.85, "f1": 0.7, "precision": 0.78, "recall": 0.65}
            db.execute("INSERT INTO runs(id, key, pipeline, endpoint, version, experiment, status, parameters, tags, created, "
                       "started, ended, metrics) VALUES (?, ?, 'bench', 'bench-ep', 1, 'bench', 'completed', ?, '{}', ?, ?, ?, ?)",
                       (run_id, f"k-{i}", json.dumps({"max_iter": 100}), f"2026-01-01T00:00:{i % 60:02d}.{i:06d}+00:00",
                        utcnow(), utcnow(), json.dumps(metrics)))
            db.executemany("INSERT INTO steps(run_id, name, ord, status) VALUES (?, ?, ?, 'completed')",
                           [(run_id, f"step{s}", s) for s in range(6)])
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, nargs="*", default=[100, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from retrain.backends.local import LocalBackend
    from retrain.config.records import PipelineConfig
    from retrain.config.gate import Condition, Gate
    from retrain.review.promote import review

    pc = PipelineConfig(name="bench", definition=None, endpoint="bench-ep", version="default", experiment="bench",
                        parameters={}, data=(), publish_on=frozenset(), submit_on=frozenset(), make_default=False,
                        timeout_s=60.0, pipeline=None, gate=Gate((Condition("auc", ">=", 0.9),), "baseline", 0.005))
    print(f"{'runs in store':>14}  {'median review':>14}  {'baseline':>12}  trend")
    for n in args.runs:
        with tempfile.TemporaryDirectory() as tmp:
            fill(Path(tmp), n)
            backend = LocalBackend(Path(tmp), environ={})
            newest = backend.runs(pipeline="bench", limit=1)[0]
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                result = review(backend, pc, newest)
                times.append(time.perf_counter() - start)
            assert result.comparison is not None
            print(f"{n:>14}  {statistics.median(times) * 1000:>11.1f} ms  {result.comparison.baseline_run:>12}  {len(result.trend)} runs")
            backend.store.close()


if __name__ == "__main__":
    main()
