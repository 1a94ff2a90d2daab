"""The Azure/azureml-examples corpus (tests/fixtures/azureml-examples, YAML only): a working copy with
stand-ins for the code folders and local data the YAML names, so loaders that check existence find them.

The fixtures hold only the examples' YAML (tests/fixtures/README.md); a job's ``code: ./src`` or
``path: ./data`` points at sources and data not copied. :func:`corpus_copy` copies the YAML and
creates, for every relative ``code``/``path``/``conda_file``/``entry_script`` value, an empty folder (or
a small file when the name has a suffix), the same for azure-ai-ml and for retrain.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import yaml

CORPUS = Path(__file__).parent / "fixtures" / "azureml-examples"
STANDIN_KEYS = frozenset({"code", "path", "conda_file", "entry_script", "entry", "docker_context", "dockerfile_path"})
FOLDER_KEYS = frozenset({"code", "docker_context"})


def _documents() -> Iterator[tuple[Path, object]]:
    for file in sorted(CORPUS.rglob("*")):
        if file.suffix in (".yml", ".yaml") and file.is_file():
            try:
                yield file, yaml.safe_load(file.read_text())
            except yaml.YAMLError:
                continue


def pipeline_jobs() -> list[str]:
    """Every pipeline job of the corpus (``type: pipeline`` or ``jobs:``, not a pipeline component), relative."""
    found = []
    for file, data in _documents():
        if isinstance(data, dict) and (data.get("type") == "pipeline" or "jobs" in data) \
                and "Component" not in str(data.get("$schema", "")):
            found.append(file.relative_to(CORPUS).as_posix())
    return found


def _values(data: object, key: str | None = None) -> Iterator[tuple[str, str]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _values(v, str(k))
    elif isinstance(data, list):
        for v in data:
            yield from _values(v, key)
    elif isinstance(data, str) and key in STANDIN_KEYS:
        yield key, data


def _local(value: str) -> str | None:
    text = value.strip()
    if text.startswith("file:") and not text.startswith("file://"):
        text = text[len("file:"):]
    if not text or "${{" in text or ":" in text or text.startswith("/"):
        return None
    return text


def corpus_copy(dest: Path) -> Path:
    """The corpus copied under ``dest`` with stand-ins created; the copy's root."""
    root = dest / "azureml-examples"
    shutil.copytree(CORPUS, root)
    for file, data in _documents():
        base = root / file.relative_to(CORPUS).parent
        for key, value in _values(data):
            rel = _local(value)
            if rel is None:
                continue
            target = (base / rel).resolve()
            if not target.is_relative_to(root.resolve()) or target.exists():
                continue
            if key in FOLDER_KEYS or not Path(rel).suffix:
                target.mkdir(parents=True, exist_ok=True)
                (target / "standin.txt").write_text("a stand-in for the example's sources, which are not copied\n")
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("name: standin\n" if target.suffix in (".yml", ".yaml") else "# stand-in\n")
    return root
