"""Load and validate the parameter file (``retrain.yml``) before anything else is touched.

Every problem is collected, not just the first: each names ``file:line:column``, the key path and what
to do. The pipeline definitions the file names are loaded and checked too, so a parameter the
pipeline does not declare, or a value of the wrong type for it, is caught here.

This module reads the file's top level; each block is read by its own module: ``backend_block``,
``retention``, ``pipeline_entry`` (with ``review_keys`` for metrics, compare_to and promote), all through
one ``checker.Checker`` that collects the problems.
"""

from __future__ import annotations

from pathlib import Path

from ..boundary import repository_root, resolve
from .backend_block import read_backend
from .checker import Checker
from .pipeline_entry import read_pipeline
from .records import Config, PipelineConfig
from .retention import read_retention
from ..errors import InvalidFile
from ..yamlfile import load_yaml

TOP_KEYS = ("backend", "pipelines", "retention")


def load_config(path: Path, *, display_root: Path | None = None) -> Config:
    """Load ``path`` and everything it names; raise :class:`InvalidFile` listing every problem."""
    path = resolve(path if path.is_absolute() else Path.cwd() / path)
    shown = _display(path, display_root)
    doc = load_yaml(path, display=shown)
    checker = Checker(doc)
    root = path.parent
    repo_root = repository_root(root)
    data = doc.data
    if data is None:
        checker.add((), "the file is empty.", "Start from examples/income/retrain.yml or docs/parameter-file.md.")
        raise InvalidFile(checker.problems, what=f"parameter file {shown}")
    top = checker.mapping(data, (), "the parameter file")
    if top is None:
        raise InvalidFile(checker.problems, what=f"parameter file {shown}")
    checker.unknown_keys(top, (), TOP_KEYS)

    backend = read_backend(checker, top.get("backend", "local"), root, repo_root)
    retention = read_retention(checker, top["retention"], ("retention",)) if "retention" in top else None
    pipelines: dict[str, PipelineConfig] = {}
    if "pipelines" not in top:
        checker.add((), "the file has no 'pipelines' key.", "Add pipelines: with at least one pipeline (see docs/parameter-file.md).")
    else:
        entries = checker.mapping(top["pipelines"], ("pipelines",), "'pipelines'")
        if entries is not None and not entries:
            checker.add(("pipelines",), "no pipelines are listed.", "Add at least one, e.g. income: {definition: pipeline.yml}.")
        for name, entry in (entries or {}).items():
            pc = read_pipeline(checker, str(name), entry, root, repo_root, display_root, backend.kind)
            if pc is not None:
                pipelines[str(name)] = pc

    if checker.problems:
        raise InvalidFile(checker.problems, what=f"parameter file {shown}")
    return Config(path=path, root=root, backend=backend, pipelines=pipelines, repo_root=repo_root,
                  retention=retention, warnings=tuple(checker.warnings))


def _display(path: Path, display_root: Path | None) -> str:
    base = display_root or Path.cwd()
    try:
        return str(path.relative_to(base.resolve()))
    except ValueError:
        return str(path)

