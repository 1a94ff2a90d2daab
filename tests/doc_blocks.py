"""The ```yaml blocks of the README and docs/, each with where it starts, for the tests that check them as their
consumers read them: whole workflows through actionlint and GitHub's schema (tests/action/test_github_manifest.py),
parameter files through `retrain validate` (tests/config/test_doc_examples.py)."""

from __future__ import annotations

import re

from tests.paths import ROOT

FENCE = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)


def yaml_blocks() -> list[tuple[str, str]]:
    """(doc:line of the block's first line, its text) for every ```yaml block of the README and docs/."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            found.append((f"{doc.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 2}", m.group(1)))
    return found


def is_workflow(text: str) -> bool:
    """A whole workflow: it has on: and jobs: (PyYAML reads an `on` key as True, so this looks at the text)."""
    return bool(re.search(r"^jobs:", text, re.M) and re.search(r"^on:", text, re.M))
