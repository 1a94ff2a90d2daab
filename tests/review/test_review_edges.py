"""Gates at their edges: nothing to compare with, NaN and infinities, values exactly at a threshold, goal: min,
missing metrics, the first run ever. None crashes, none promotes wrongly, and the reports stay readable and valid."""

from __future__ import annotations

import json

import pytest

from retrain.review.baseline import MetricDiff, compare, sparkline, trend
from retrain.config.gate import Change, Condition, Gate
from retrain.review.gate import evaluate
from retrain.metric_values import shown
from retrain.review.promote import Review
from retrain.report.markdown import _env
from retrain.review.report import gate_text, markdown_context
from tests.review.scenario import run, strict_json

NAN, INF = float("nan"), float("inf")


def render_review(review: Review, *, candidate: int | None = 2) -> str:
    ctx = markdown_context(review, draft=False, candidate=candidate, promoted=False)
    return _env().get_template("review.md.j2").render(**ctx)


# -- nothing to compare with ------------------------------------------------------------------------------------------

def test_a_failed_baseline_with_no_metrics_fails_the_gate_and_says_why() -> None:
    gate = Gate((), "baseline", 0.005)
    result = evaluate(gate, {"auc": 0.01}, goals={}, baseline={}, baseline_run="r-failed")
    assert not result.passed
    assert result.summary() == (
        "the gate failed: the baseline run r-failed has no metrics (it failed, or its metrics could not be read), so "
        "nothing can be compared with it; name a run with metrics in compare_to, or promote by hand")
    # With an absolute condition beside it, the comparison still fails: the relative condition was asked for.
    both = evaluate(Gate((Condition("auc", ">=", 0.0),), "baseline", 0.0), {"auc": 0.01}, goals={}, baseline={},
                    baseline_run="r-failed")
    assert not both.passed and [c.result for c in both.checks] == ["passed", "failed"]


def test_with_no_baseline_a_relative_condition_is_skipped_and_a_gate_of_only_that_fails() -> None:
    only_relative = evaluate(Gate((), "baseline"), {"auc": 0.01}, goals={}, baseline=None)
    assert [c.result for c in only_relative.checks] == ["skipped", "failed"]
    assert not only_relative.passed
    assert only_relative.summary() == ("the gate failed: no condition could be evaluated (no baseline run to compare with), "
                                       "and a gate does not pass on nothing")
    text = gate_text(only_relative)
    assert "not worse than the baseline" in text and "skipped: no baseline run to compare with" in text
    assert "passed" not in text.split("\n", 1)[1]  # no row reads as passed
    with_absolute = evaluate(Gate((Condition("auc", ">=", 0.9),), "baseline", changes=(Change("auc", "absolute", 0.0),)),
                             {"auc": 0.95}, goals={}, baseline=None)
    assert with_absolute.passed
    assert with_absolute.summary() == "the gate passed (1 condition, 2 skipped)"


# -- non-finite values ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_a_non_finite_value_in_this_run_never_passes(bad: float) -> None:
    gate = Gate((Condition("rmse", "<=", 1.0), Condition("auc", ">=", 0.5)), "baseline", 0.0,
                changes=(Change("rmse", "absolute", -0.1), Change("auc", "relative", -0.5)))
    result = evaluate(gate, {"rmse": bad, "auc": bad}, goals={"rmse": "min"}, baseline={"rmse": 0.5, "auc": 0.9},
                      baseline_run="b")
    assert not result.passed
    assert all(c.result == "failed" for c in result.checks)
    assert MetricDiff("rmse", bad, 0.5, "min").verdict == "not finite"
    assert MetricDiff("auc", bad, 0.9, "max").verdict == "not finite"
    assert MetricDiff("auc", bad, 0.9, "max").difference is None


def test_a_nan_in_the_baseline_is_never_better_nor_passed_but_skipped() -> None:
    gate = Gate((), "baseline", 0.0)
    result = evaluate(gate, {"rmse": 0.3}, goals={"rmse": "min"}, baseline={"rmse": NAN}, baseline_run="b")
    assert not result.passed  # the only comparison could not be made
    assert result.checks[0].result == "skipped" and "is NaN: nothing to compare with" in result.checks[0].why
    assert MetricDiff("rmse", 0.3, NAN, "min").verdict == "not finite"


def test_nan_in_the_history_keeps_the_trend_the_report_and_json_whole() -> None:
    history = (run("r1", 1, auc=0.8, rows=3.0), run("r2", 2, auc=NAN, rows=3.0), run("r3", 3, auc=0.9, rows=INF))
    assert sparkline([0.8, NAN, 0.9]) == "▁ █"
    assert trend(history).lines == (("auc", "▁ █", 0.8, 0.9), ("rows", "▅▅ ", 3.0, 3.0))
    comparison = compare(run("r4", 4, auc=NAN, rows=3.0), history[-1], {}, how="test")
    gate = evaluate(Gate((Condition("auc", ">=", 0.5),), "baseline"), {"auc": NAN, "rows": 3.0}, goals={},
                    baseline={"auc": 0.9, "rows": INF}, baseline_run="r3")
    text = render_review(Review(comparison, gate, history))
    assert "| <code>auc</code> | NaN | 0.9 | - | ⚠ not a finite number |" in text
    assert "| <code>rows</code> | 3 | Infinity | - | ⚠ not a finite number |" in text
    assert "| <code>auc</code> | ▁ █ | 0.8 | 0.9 |" in text
    assert "❌ failed" in text
    differences = strict_json(json.dumps(comparison.differences()))
    assert differences == {"auc": {"value": "NaN", "baseline": 0.9, "difference": None, "goal": "max", "verdict": "not finite"},
                           "rows": {"value": 3.0, "baseline": "Infinity", "difference": None, "goal": "max",
                                    "verdict": "not finite"}}


# -- exactly at a threshold -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op, passes", [(">=", True), ("<=", True), ("==", True), (">", False), ("<", False), ("!=", False)])
def test_an_absolute_condition_exactly_at_its_threshold(op: str, passes: bool) -> None:
    assert evaluate(Gate((Condition("auc", op, 0.9),)), {"auc": 0.9}, goals={}).passed is passes


def test_baseline_minus_tolerance_is_decided_in_the_metrics_own_precision() -> None:
    # 0.563 - 0.001 is 0.5619999999999999 in binary floating point; the run logged 0.562.
    assert 0.563 - 0.001 != 0.562
    gate = Gate((), "baseline", 0.001)
    at = evaluate(gate, {"score": 0.562}, goals={}, baseline={"score": 0.563}, baseline_run="b")
    assert at.passed and at.checks[0].threshold == 0.562
    below = evaluate(gate, {"score": 0.5619}, goals={}, baseline={"score": 0.563}, baseline_run="b")
    assert below.failed[0].why == "score is 0.5619, needs >= 0.562 (baseline run b: 0.563, tolerance 0.001)"
    # goal: min, where the float sum overshoots: 0.1 + 0.2 is 0.30000000000000004.
    minimum = evaluate(gate, {"loss": 0.3}, goals={"loss": "min"}, baseline={"loss": 0.299}, baseline_run="b")
    assert minimum.passed
    worse = evaluate(gate, {"loss": 0.3001}, goals={"loss": "min"}, baseline={"loss": 0.299}, baseline_run="b")
    assert worse.failed[0].why == "loss is 0.3001, needs <= 0.3 (baseline run b: 0.299, tolerance 0.001)"


@pytest.mark.parametrize("goal, base, kind, amount, at, just_short", [
    ("max", 0.1, "absolute", 0.2, 0.3, 0.2999),  # 0.1 + 0.2 == 0.30000000000000004 in floats
    ("min", 0.5, "absolute", 0.2, 0.3, 0.3001),
    ("max", 0.5, "relative", 0.1, 0.55, 0.5499),
    ("min", 0.4, "relative", 0.25, 0.3, 0.3001),
    ("max", 0.9, "absolute", -0.005, 0.895, 0.8949),  # negative: at most this much worse
    ("min", -2.0, "relative", 0.5, -3.0, -2.9),  # a negative baseline: half its magnitude lower
])
def test_a_change_against_the_baseline_exactly_at_its_bound(goal: str, base: float, kind: str, amount: float,
                                                              at: float, just_short: float) -> None:
    gate = Gate(changes=(Change("m", kind, amount),))
    assert evaluate(gate, {"m": at}, goals={"m": goal}, baseline={"m": base}, baseline_run="b").passed
    short = evaluate(gate, {"m": just_short}, goals={"m": goal}, baseline={"m": base}, baseline_run="b")
    assert not short.passed and short.failed[0].threshold == at


def test_the_table_and_the_gate_agree_on_an_edge() -> None:
    # Logged as 0.30000000000000004 against 0.3: the table says worse for goal min, and so does the gate.
    row = MetricDiff("loss", 0.1 + 0.2, 0.3, "min")
    assert row.verdict == "worse"
    assert not evaluate(Gate((), "baseline"), {"loss": 0.1 + 0.2}, goals={"loss": "min"}, baseline={"loss": 0.3},
                        baseline_run="b").passed
    same = MetricDiff("auc", 0.9, 0.9, "max")
    assert (same.verdict, same.difference) == ("same", 0.0)
    assert evaluate(Gate((), "baseline"), {"auc": 0.9}, goals={}, baseline={"auc": 0.9}, baseline_run="b").passed


def test_goal_min_metrics_are_better_lower() -> None:
    gate = Gate((Condition("log_loss", "<=", 0.4),), "baseline", 0.01, changes=(Change("log_loss", "relative", 0.1),))
    goals = {"log_loss": "min"}
    better = evaluate(gate, {"log_loss": 0.27}, goals=goals, baseline={"log_loss": 0.3}, baseline_run="b")
    assert better.passed
    worse = evaluate(gate, {"log_loss": 0.28}, goals=goals, baseline={"log_loss": 0.3}, baseline_run="b")
    assert [c.why for c in worse.failed] == [
        "log_loss is 0.28, needs <= 0.27 (at least 10% better than the baseline run b's 0.3)"]
    assert MetricDiff("log_loss", 0.27, 0.3, "min").verdict == "better"


def test_a_missing_metric_fails_and_names_what_was_reported() -> None:
    gate = Gate((Condition("aucc", ">=", 0.9),), "baseline", changes=(Change("f1", "absolute", 0.0),))
    result = evaluate(gate, {"auc": 0.95}, goals={}, baseline={"auc": 0.9, "f1": 0.7}, baseline_run="b")
    assert [c.why for c in result.failed] == [
        "the gate names metric 'aucc', but the run reported no such metric (it reported: auc); fix the name in promote:",
        "f1 was not reported by this run but the baseline run b has it (0.7)",
        "the gate names metric 'f1', but the run reported no such metric (it reported: auc); fix the name in promote:",
    ]


# -- how numbers read -------------------------------------------------------------------------------------------------

def test_small_numbers_keep_their_significant_digits() -> None:
    row = MetricDiff("drift", 9e-6, 3e-6, "min")
    assert (shown(row.value), shown(row.baseline), shown(row.difference), row.verdict) == ("0.000009", "0.000003", "0.000006", "worse")
    assert [shown(v) for v in (0.8708, 0.92600001, 12345.678901, 3, 0.0, 1e-12, -0.000123456)] == [
        "0.8708", "0.926", "12345.6789", "3", "0", "1e-12", "-0.0001235"]
    assert MetricDiff("score", 0.603, 0.563, "max").difference == 0.04  # rounded to the values' own precision


def test_a_baseline_that_could_not_be_read_fails_a_comparison_rather_than_skipping_it() -> None:
    from retrain.review.baseline import Comparison
    from retrain.config.records import PipelineConfig
    from retrain.review.promote import judge

    gate = Gate((Condition("auc", ">=", 0.5),), "baseline")
    pc = PipelineConfig(name="p", definition=None, endpoint="e", version="default", experiment="p", parameters={},
                        data=(), publish_on=frozenset(), submit_on=frozenset(), make_default=False, timeout_s=60.0,
                        pipeline=None, gate=gate)
    unread = Comparison(None, None, "the baseline could not be read: 503", (), unreadable=True)
    result = judge(pc, run("r", 2, auc=0.9), unread)
    assert result is not None and not result.passed
    assert result.failed[0].why.startswith("the baseline could not be read, so nothing can be compared with it;")
    # No baseline at all (a new endpoint) is another matter: the comparison is skipped, the absolute condition decides.
    none = judge(pc, run("r", 2, auc=0.9), Comparison(None, None, "endpoint 'e' has no default version yet", ()))
    assert none is not None and none.passed
