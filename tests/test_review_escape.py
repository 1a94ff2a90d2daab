"""The one rule for text from data in a Markdown report (escape.markdown): it renders as itself, and ordinary
text (conditions, run ids, snake_case names) reads as it is written."""

from __future__ import annotations

import pytest

from retrain.escape import markdown


@pytest.mark.parametrize("text, shown", [
    ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)>"),  # no tag
    ("<!-- x -->", "&lt;!-- x -->"),  # no comment
    ("a|b", "a\\|b"),  # no extra table cell
    ("&lt;", "&amp;lt;"),  # the data's own entity stays text
    ("*bold* _it_ ~~s~~ `code` [l](u)", "\\*bold\\* \\_it\\_ \\~\\~s\\~\\~ \\`code\\` \\[l\\](u)"),
    ("line one\nline two", "line one<br>line two"),  # a newline would end a table row
    ("# heading", "\\# heading"), ("> quote", "\\> quote"), ("- item", "\\- item"), ("1. item", "1\\. item"),
    ("---", "\\---"),
    ("back\\slash", "back\\\\slash"),
    ("bell\x07", "bell\\\\x07"),  # shown escaped (\x07), and that backslash is text too
])
def test_text_from_data_is_disarmed(text: str, shown: str) -> None:
    assert markdown(text) == shown


@pytest.mark.parametrize("text", ["auc >= 0.9, needs >= 0.95", "tiny-20261204-223405-f2fe35", "submit_on: pull_request",
                                  "0.563", "+0.04", "−0.04", "retrain.yml:12:5", "1.5x faster"])
def test_ordinary_text_reads_as_written(text: str) -> None:
    assert markdown(text) == text
