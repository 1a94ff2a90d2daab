"""The pure parts of a review: verdicts by goal, sparklines, and the Markdown a check run shows."""

from __future__ import annotations

from retrain.review.baseline import compare, sparkline, trend
from retrain.review.promote import Review
from retrain.review.report import markdown_context
from tests.review.scenario import run


def test_verdicts_follow_each_metrics_goal() -> None:
    c = compare(run("b", 2, auc=0.9, log_loss=0.30, rows=3.0), run("a", 1, auc=0.92, log_loss=0.35, rows=3.0, f1=0.7),
                {"log_loss": "min"})
    assert {r.name: (r.verdict, round(r.difference, 4) if r.difference is not None else None) for r in c.rows} == {
        "auc": ("worse", -0.02), "log_loss": ("better", -0.05), "rows": ("same", 0.0), "f1": ("missing", None)}
    assert compare(run("b", 2, auc=0.9), None, {}).rows[0].verdict == "new"


def test_a_sparkline_reads_lowest_to_highest_and_leaves_a_gap_for_a_missing_value() -> None:
    assert sparkline([0.5, 0.6, 0.75, None, 0.9]) == "▁▃▅ █"
    assert sparkline([1.0, 1.0]) == "▅▅"
    assert sparkline([None]) == ""


def test_the_trend_in_markdown_lists_the_last_runs_newest_first() -> None:
    runs = tuple(run(f"r{i}", i, auc=0.80 + i / 100) for i in range(1, 8))
    ctx = markdown_context(Review(trend=runs), draft=False, candidate=None, promoted=False)
    assert ctx["trend_lines"] == [("auc", "▁▂▃▅▆▇█", "0.81", "0.87")]
    assert [row[0] for row in ctx["recent_rows"]] == ["r7", "r6", "r5", "r4", "r3"]
    assert trend(runs).lines[0][0] == "auc"
