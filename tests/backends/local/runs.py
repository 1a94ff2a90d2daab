"""The local backend tests' shared pieces: a pipeline written from its jobs, a submit to it, and waiting for the
run's end."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from retrain.backends.base import Run, SubmitRequest
from retrain.backends.local import LocalBackend


def write_pipeline(folder: Path, jobs: str, inputs: str = "") -> Path:
    """``folder``/pipeline.yml holding ``jobs`` (and ``inputs``), each given as YAML at the top level."""
    folder.mkdir(parents=True, exist_ok=True)
    text = "type: pipeline\n" + (f"inputs:\n{textwrap.indent(textwrap.dedent(inputs), '  ')}" if inputs else "") + \
        "jobs:\n" + textwrap.indent(textwrap.dedent(jobs), "  ")
    (folder / "pipeline.yml").write_text(text)
    return folder / "pipeline.yml"


def wait_for(backend: LocalBackend, run: Run, timeout: float = 60) -> Run:
    """The run once it has ended; an AssertionError after ``timeout`` seconds."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        run = backend.run(run.id)
        if run.status.is_terminal:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run.id} still {run.status} after {timeout}s")


def submit(backend: LocalBackend, key: str, version: int | str = "default", force: bool = False, **parameters: object) -> Run:
    """A submit of pipeline ``p`` on the endpoint ``ep-test`` with the idempotency key ``key``."""
    request = SubmitRequest(pipeline="p", endpoint="ep-test", version=version, parameters=parameters,  # type: ignore[arg-type]
                            experiment="exp", key=key, force=force)
    return backend.submit(request)
