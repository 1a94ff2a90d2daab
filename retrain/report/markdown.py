"""Markdown reports of outcomes, rendered with jinja2 from the package's templates: one source for the
check run's summary and the job summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import jinja2

from .. import escape
from ..backends.base import StepResult, StepStatus
from ..flow.execute import Conclusion, Outcome
from ..metric_values import shown
from ..text import duration

ICONS = {
    Conclusion.SUCCESS: "✅", Conclusion.FAILURE: "❌", Conclusion.CANCELLED: "⏹️", Conclusion.TIMED_OUT: "⏱️",
    Conclusion.NEUTRAL: "➖", Conclusion.ACTION_REQUIRED: "⚠️", Conclusion.SKIPPED: "➖", Conclusion.PENDING: "⏳",
}
HEADLINES = {
    Conclusion.SUCCESS: "succeeded", Conclusion.FAILURE: "failed", Conclusion.CANCELLED: "canceled",
    Conclusion.TIMED_OUT: "timed out", Conclusion.NEUTRAL: "nothing to do", Conclusion.ACTION_REQUIRED: "the parameter file needs a fix",
    Conclusion.SKIPPED: "skipped", Conclusion.PENDING: "running",
}


@dataclass(frozen=True)
class ParameterRow:
    name: str
    value: object
    default: object
    changed: bool


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("retrain.report", "templates"),
        autoescape=False,  # markdown, not HTML: text from data is escaped by `e` (escape.markdown), one rule
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(duration=duration, step_word=_step_word, number=_number)
    env.filters["e"] = escape.markdown
    env.filters["url"] = _url
    return env


def _step_word(step: StepResult) -> str:
    if step.status is StepStatus.REUSED:
        return f"♻️ reused{' from ' + step.reused_from if step.reused_from else ''}"
    return step.status.value.replace("_", " ")


def _number(value: float) -> str:
    return shown(value)


def _url(value: object) -> str:
    """A link's destination inside ``<...>``: nothing in it can end the link or the table cell."""
    return quote(str(value), safe=":/?#[]@!$&'()*+,;=%~-._")


def title(outcome: Outcome) -> str:
    run = outcome.run
    head = f"{outcome.item.pipeline}: {'draft ' if outcome.item.draft else ''}{HEADLINES[outcome.conclusion]}"
    if run is not None:
        head += " (a draft)" if outcome.item.draft else f" on version {run.version}"
        key = next((k for k in ("auc", "AUC", "accuracy") if k in run.metrics), None)
        if key:
            head += f", {key} {_number(run.metrics[key])}"
    return head


def _shown(value: object, root: Path | None) -> object:
    """Paths inside the repository as the repository names them; the runner's checkout path says nothing."""
    if root is not None and isinstance(value, str) and value.startswith("/"):
        try:
            return Path(value).relative_to(root).as_posix()
        except ValueError:
            return value
    return value


def render(outcome: Outcome, defaults: Mapping[str, object] | None = None, *, root: Path | None = None,
           run_url: str | None = None) -> str:
    """``run_url``: the run's link as a reviewer can open it (the workflow run for a run on the runner)."""
    item = outcome.item
    values = dict(outcome.run.parameters) if outcome.run is not None and outcome.run.parameters else dict(item.parameters)
    defaults = defaults or {}
    rows = [ParameterRow(n, _shown(v, root), _shown(defaults.get(n), root),
                         defaults[n] != v if n in defaults else n in item.changed_parameters)
            for n, v in sorted(values.items())] if item.submit or outcome.run is not None else []
    from ..review.report import markdown_context

    review = markdown_context(outcome.review, draft=item.draft, candidate=outcome.candidate, promoted=outcome.promoted)
    return _env().get_template("run.md.j2").render(
        item=item, run=outcome.run, published=outcome.published, message=outcome.message,
        parameters=rows, icon=ICONS[outcome.conclusion], headline=HEADLINES[outcome.conclusion], **review,
        run_url=run_url or (outcome.run.url if outcome.run is not None else None),
    )


def comment_body(outcomes: Sequence[Outcome], *, commit: str | None, run_link: str | None,
                 check_links: Mapping[str, str]) -> str:
    """The pull request's review comment: per pipeline, the same review partial (``review.md.j2``, with the
    same context) as its check run and the job summary, so all three show the same numbers."""
    from ..review.report import markdown_context

    lines = ["### retrain: what this pull request does to the models", ""]
    where = f"For commit `{commit[:7]}`" if commit else "For the pull request's head"
    lines += [f"{where}{f' ([workflow run]({run_link}))' if run_link else ''}; this comment is updated on every push.", ""]
    for outcome in outcomes:
        item = outcome.item
        link = check_links.get(item.pipeline)
        head = f"#### {ICONS[outcome.conclusion]} {title(outcome).replace('|', '/')}"
        lines += [head + (f" · [check run]({link})" if link else ""), ""]
        if outcome.run is None:
            lines += [outcome.message.replace("\n", " "), ""]
            continue
        review = markdown_context(outcome.review, draft=item.draft, candidate=outcome.candidate, promoted=outcome.promoted)
        lines.append(_env().get_template("review.md.j2").render(**review).strip("\n"))
        lines.append("")
    return "\n".join(lines)
