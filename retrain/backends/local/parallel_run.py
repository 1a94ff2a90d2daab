"""Run a parallel step's ``run_function`` task on this machine, as Azure ML's parallel job runs it on a node.

This file is run as a script by the step's command (``python parallel_run.py ... -- PROGRAM_ARGUMENTS``)
with the step's code folder as the working folder; it imports nothing from retrain, so any Python that
has the entry script's own packages runs it.

- The input folder's files (a ``uri_file`` input: that one file; an mltable folder's ``MLTable`` file left
  out), sorted by relative path, are cut into mini-batches: ``mini_batch_size`` files each, or, for a size
  such as ``10kb``/``1mb``, as many files as fit in that many bytes (at least one).
- ``max_concurrency_per_instance`` worker processes each import the entry script and call its ``init()``
  once, then ``run(mini_batch)`` (a list of file paths) for the batches they are given. ``sys.argv`` holds
  the task's ``program_arguments``, which entry scripts read with argparse.
- What ``run()`` returns (a list, or a pandas DataFrame) is appended to the ``append_row_to`` output, one
  line per element or row (a DataFrame's values separated by spaces), in mini-batch order: into the file
  when the output is a ``uri_file``, else into ``parallel_run_step.txt`` in the output folder.
- A mini-batch whose ``run()`` raises is retried up to ``max_retries`` times, then counts as failed, and
  all its files as failed items; a result shorter than its mini-batch counts the difference as failed
  items. More failed items than ``error_threshold`` or failed mini-batches than
  ``mini_batch_error_threshold`` (``-1``: no limit) fails the step (exit code 1).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

APPEND_FILE = "parallel_run_step.txt"
_entry = None


def _init_worker(entry_script: str, argv: list[str]) -> None:
    global _entry
    sys.argv = [entry_script, *argv]
    sys.path.insert(0, os.getcwd())
    spec = importlib.util.spec_from_file_location("entry_script", os.path.join(os.getcwd(), entry_script))
    if spec is None or spec.loader is None:
        raise SystemExit(f"parallel: cannot import the entry script {entry_script}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "init"):
        module.init()
    _entry = module


def _run_batch(index: int, batch: list[str], retries: int) -> tuple[int, list[str] | None, str]:
    last = ""
    for _ in range(retries + 1):
        try:
            result = _entry.run(batch)  # type: ignore[union-attr]
            return index, _rows(result), ""
        except Exception:  # a user's script: any failure counts against the thresholds
            last = traceback.format_exc()
    return index, None, last


def _rows(result: object) -> list[str]:
    if result is None:
        return []
    if hasattr(result, "itertuples"):  # a pandas DataFrame, without importing pandas here
        return [" ".join(str(v) for v in row) for row in result.itertuples(index=False)]  # type: ignore[attr-defined]
    return [str(item) for item in result]  # type: ignore[attr-defined]


def _size(text: str) -> tuple[int | None, int | None]:
    """``"10"`` -> (10 files, None); ``"10kb"`` -> (None, 10240 bytes)."""
    m = re.fullmatch(r"\s*(\d+)\s*([kmg]?b)?\s*", text.lower())
    if m is None:
        raise SystemExit(f"parallel: mini_batch_size {text!r} is neither a number of files nor a size such as 10kb")
    number, unit = int(m.group(1)), m.group(2)
    if unit is None:
        return max(1, number), None
    return None, number * {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}[unit]


def _batches(files: list[Path], size: str) -> list[list[str]]:
    count, limit = _size(size)
    out: list[list[str]] = []
    current: list[str] = []
    used = 0
    for file in files:
        length = file.stat().st_size
        if current and ((count is not None and len(current) >= count) or (limit is not None and used + length > limit)):
            out.append(current)
            current, used = [], 0
        current.append(str(file))
        used += length
    if current:
        out.append(current)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="parallel_run")
    parser.add_argument("--entry-script", required=True)
    parser.add_argument("--input-data", required=True)
    parser.add_argument("--mini-batch-size", default="1")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--append-row-to", default="")
    parser.add_argument("--error-threshold", type=int, default=-1)
    parser.add_argument("--mini-batch-error-threshold", type=int, default=-1)
    parser.add_argument("--max-retries", type=int, default=0)
    args, rest = parser.parse_known_args(argv)
    program_arguments = rest[1:] if rest[:1] == ["--"] else rest
    source = Path(args.input_data)
    # An mltable folder's MLTable file describes the data; the other files are the data.
    files = sorted(p for p in source.rglob("*") if p.is_file() and p != source / "MLTable") if source.is_dir() else [source]
    batches = _batches(files, args.mini_batch_size)
    print(f"parallel: {len(files)} files in {len(batches)} mini-batches, {args.concurrency} processes", flush=True)
    results: dict[int, list[str] | None] = {}
    failed_items = failed_batches = 0
    with ProcessPoolExecutor(max_workers=max(1, args.concurrency), initializer=_init_worker,
                             initargs=(args.entry_script, program_arguments)) as pool:
        futures = [pool.submit(_run_batch, i, batch, args.max_retries) for i, batch in enumerate(batches)]
        for future in futures:
            index, rows, error = future.result()
            results[index] = rows
            if rows is None:
                failed_batches += 1
                failed_items += len(batches[index])
                print(f"parallel: mini-batch {index + 1} failed:\n{error}", flush=True)
            elif args.append_row_to and len(rows) < len(batches[index]):
                failed_items += len(batches[index]) - len(rows)
    if args.append_row_to:
        target = Path(args.append_row_to)
        if target.is_dir():
            target = target / APPEND_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as out:
            for index in range(len(batches)):
                for row in results.get(index) or []:
                    out.write(row + "\n")
    print(f"parallel: {len(batches) - failed_batches} of {len(batches)} mini-batches succeeded, {failed_items} items failed", flush=True)
    if 0 <= args.error_threshold < failed_items or 0 <= args.mini_batch_error_threshold < failed_batches:
        print("parallel: more failures than error_threshold / mini_batch_error_threshold allow", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
