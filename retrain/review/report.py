"""How a run's review reads: the comparison with the baseline, the gate, the trend, side by side runs.

Plain text for the terminal here; the Markdown (check run, job summary) is the template partial
``templates/review.md.j2``, fed by :func:`markdown_context`. Both say the same things in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..backends.base import Run
from .baseline import Comparison, MetricDiff, by_hand, compare, is_draft, trend
from .gate import Check, GateResult
from ..metric_values import full, shown
from ..text import table
from .promote import Review

ARROWS = {"better": "▲ better", "worse": "▼ worse", "same": "= same", "new": "new", "missing": "missing",
          "not finite": "⚠ not a finite number"}
LAST_RUNS = 5  # rows of the recent-runs table under the sparklines


def num(value: float | None) -> str:
    """A table's number: four decimals, or four significant digits for a small one (3e-6 is 0.000003, not 0)."""
    return shown(value)


def signed(value: float | None) -> str:
    if value is None:
        return "-"
    text = num(abs(value))
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


def verdict(row: MetricDiff) -> str:
    goal = "higher is better" if row.goal == "max" else "lower is better"
    return f"{ARROWS[row.verdict]} ({goal})" if row.verdict in ("better", "worse", "same") else ARROWS[row.verdict]


def version_word(run: Run) -> str:
    return "draft" if is_draft(run) else f"v{run.version}"


def baseline_line(c: Comparison) -> str:
    if c.baseline_run is None:
        return f"baseline: none ({c.how})"
    return f"baseline: run {c.baseline_run} (version {c.baseline_version}): {c.how}"


def check_result(check: Check) -> str:
    return {"passed": "passed", "failed": "FAILED", "skipped": "skipped"}[check.result]


def comparison_text(c: Comparison) -> str:
    rows = [(r.name, num(r.value), num(r.baseline), signed(r.difference), verdict(r)) for r in c.rows]
    body = table(("metric", "this run", "baseline", "difference", "verdict"), rows) if rows else "(no metrics)"
    return baseline_line(c) + "\n" + _indent(body)


def gate_text(g: GateResult, preview: str | None = None) -> str:
    # The gate's numbers in full: an edge (0.562 against >= 0.562) reads as it was decided.
    rows = [(c.text, full(c.value), full(c.threshold), check_result(c) + (f": {c.why}" if c.skipped else "")) for c in g.checks]
    label = f"gate ({preview})" if preview else "gate"
    return f"{label}: {'passed' if g.passed else 'FAILED'}\n" + _indent(table(("condition", "value", "threshold", "result"), rows))


# A gate judges every completed run, but decides only for a version published under it (a candidate): on any
# other run (a resubmit of the default on new data, say) it is shown as a preview, so "FAILED" is not read as the
# run's outcome.
PREVIEW_DRAFT = "preview: a draft is never promoted"
PREVIEW_RUN = "preview: this run is not a candidate version, so no default moves"


def review_text(review: Review, *, draft: bool = False, candidate: bool = False) -> str:
    parts = []
    if draft:
        parts.append("DRAFT: the pull request's pipeline, not a published version; it never becomes the default.")
    if review.comparison is not None:
        parts.append(comparison_text(review.comparison))
    if review.gate is not None:
        preview = PREVIEW_DRAFT if draft else None if candidate else PREVIEW_RUN
        parts.append(gate_text(review.gate, preview))
    return "\n".join(parts)


def compare_runs_text(a: Run, b: Run, goals: Mapping[str, str]) -> str:
    """``retrain runs --compare A B``: B against A (A is the baseline), parameters and metrics."""
    c = compare(b, a, goals, how="")
    head = table(("", "A", "B"), [
        ("run", a.id, b.id), ("version", version_word(a), version_word(b)), ("status", a.status.value, b.status.value),
    ])
    names = sorted(set(a.parameters) | set(b.parameters))
    params = [(n, _short(a.parameters.get(n)), _short(b.parameters.get(n)), "" if a.parameters.get(n) == b.parameters.get(n) else "differs")
              for n in names]
    metrics = [(r.name, num(r.baseline), num(r.value), signed(r.difference), verdict(r)) for r in c.rows]
    out = [head]
    if params:
        out += ["", "parameters", _indent(table(("name", "A", "B", ""), params))]
    out += ["", "metrics (B against A)", _indent(table(("metric", "A", "B", "difference", "verdict"), metrics)) if metrics else "  (no metrics)"]
    return "\n".join(out)


def markdown_context(review: Review, *, draft: bool, candidate: int | None, promoted: bool) -> dict[str, Any]:
    """What ``review.md.j2`` needs, already worded."""
    t = trend(review.trend) if review.trend else None
    recent = list(reversed(review.trend))[:LAST_RUNS]
    names = [line[0] for line in t.lines] if t else []
    return {
        "draft": draft, "candidate": candidate, "promoted": promoted,
        "gate_preview": PREVIEW_DRAFT if draft else None if candidate is not None else PREVIEW_RUN,
        "comparison": review.comparison, "gate": review.gate,
        "baseline_line": baseline_line(review.comparison) if review.comparison else "",
        "diff_rows": [(r.name, num(r.value), num(r.baseline), signed(r.difference), verdict(r))
                      for r in (review.comparison.rows if review.comparison else ())],
        "gate_rows": [(c.text, full(c.value), full(c.threshold), c.result, c.why) for c in (review.gate.checks if review.gate else ())],
        "trend_count": len(review.trend),
        "trend_lines": [(n, spark, num(lo), num(hi)) for n, spark, lo, hi in (t.lines if t else ())],
        "recent_names": names,
        # A run with values given by hand is shown, and marked: it is never a baseline unless compare_to names it.
        "recent_rows": [(r.id, version_word(r) + (" (values by hand)" if by_hand(r) else ""), r.created.strftime("%Y-%m-%d %H:%M"),
                         [num(r.metrics.get(n)) for n in names])
                        for r in recent],
    }


def _short(value: object) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 40 else "..." + text[-37:]


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


__all__ = ["compare_runs_text", "comparison_text", "gate_text", "markdown_context", "review_text"]
