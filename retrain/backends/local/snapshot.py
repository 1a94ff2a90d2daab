"""Published versions as immutable, content-addressed copies of the pipeline's files in the store."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ...pipeline.model import Pipeline


def snapshot_dir(store: Path, content_hash: str) -> Path:
    return store / "snapshots" / content_hash.removeprefix("sha256:")[:32]


def save_snapshot(store: Path, pipeline: Pipeline) -> Path:
    """Copy the pipeline's files (relative to ``pipeline.root``) once per content; return the
    snapshot's pipeline file, relative to ``store``."""
    target = snapshot_dir(store, pipeline.content_hash)
    rel_pipeline = pipeline.path.relative_to(pipeline.root)
    if not target.exists():
        # Copy into a temporary folder and rename it into place, so a crash never leaves half a snapshot.
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=target.parent))
        for file in pipeline.files:
            dest = tmp / file.relative_to(pipeline.root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, dest)
            os.chmod(dest, 0o444 | (os.stat(dest).st_mode & 0o111))  # read-only: versions are immutable
        try:
            tmp.rename(target)
        except OSError:  # another process published the same content first
            shutil.rmtree(tmp, ignore_errors=True)
    return (target / rel_pipeline).relative_to(store)
