"""What a person at a terminal sees: progress while a run goes, and plain-text tables after."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .. import escape
from ..backends.base import Backend, Endpoint, PublishResult, Run, StepStatus
from ..text import cell, duration, table

if TYPE_CHECKING:  # `retrain plan` and the listings render without loading the executor and the review
    from ..flow.execute import Outcome
    from ..flow.plan import PipelinePlan, Plan

MARK = {
    StepStatus.COMPLETED: "done",
    StepStatus.REUSED: "reused",
    StepStatus.FAILED: "FAILED",
    StepStatus.CANCELED: "canceled",
    StepStatus.NOT_RUN: "not run",
    StepStatus.RUNNING: "running",
    StepStatus.QUEUED: "queued",
}


def format_value(value: object) -> str:
    text = str(value)
    if text.startswith("/"):
        # Paths under the current folder read better relative, as a person would type them.
        try:
            text = str(Path(text).relative_to(Path.cwd()))
        except ValueError:
            pass
    text = escape.value(text)  # a newline in a value must not start a line of its own
    return text if len(text) <= 60 else "..." + text[-57:]


def render_plan(plan: Plan) -> str:
    lines = [f"event: {plan.event.name}" + (f" on {escape.value(plan.event.branch)}" if plan.event.branch else "")]
    for item in plan.items:
        lines.append(f"\n{escape.value(item.pipeline)}: {item.action}")
        pinned = "a draft of this checkout (no version)" if item.draft else f"version {item.version}"
        lines.append(f"  endpoint {escape.value(item.endpoint)}, {pinned}")
        for reason in item.reasons:
            lines.append(f"  because {escape.value(reason)}")
        if item.submit:
            for name, value in sorted(item.parameters.items()):
                star = " (changed)" if name in item.changed_parameters else ""
                lines.append(f"  {escape.value(name)} = {format_value(value)}{star}")
    return "\n".join(lines)


def render_run(run: Run, *, defaults: Mapping[str, object] | None = None, metrics: bool = True) -> str:
    lines = [
        f"run {run.id}: {run.status.value}",
        f"  pipeline {run.pipeline}, endpoint {run.endpoint}, "
        + ("a DRAFT (no version)" if run.tags.get("retrain.draft") == "true" else f"version {run.version}"),
        f"  created {cell(run.created)}, duration {duration(run.duration_s)}",
    ]
    if run.url:
        lines.append(f"  {run.url}")
    if run.message and run.status.value != "completed":
        # The message may quote a step's output: each line escaped and behind a bar, so that none can
        # start with a workflow command (the runner ignores leading spaces, not a bar).
        lines += ["  | " + line for line in escape.lines(run.message)]
    if run.parameters:
        lines.append("\nparameters")
        rows = []
        for name, value in sorted(run.parameters.items()):
            changed = defaults is not None and defaults.get(name) != value
            rows.append((name, format_value(value), "changed" if changed else ""))
        lines.append(_indent(table(("name", "value", ""), rows)))
    if run.steps:
        lines.append("\nsteps")
        rows2 = [(s.name, MARK[s.status] + (f" from {s.reused_from}" if s.reused_from else ""), duration(s.duration_s)) for s in run.steps]
        lines.append(_indent(table(("step", "status", "duration"), rows2)))
    if run.metrics and metrics:  # metrics=False: the comparison with the baseline shows them instead
        lines.append("\nmetrics")
        lines.append(_indent(table(("metric", "value"), sorted(run.metrics.items()))))
    return "\n".join(lines)


def render_runs(runs: Sequence[Run]) -> str:
    if not runs:
        return "no runs yet."
    # Only the parameters that differ between the listed runs say something; all of them for one run.
    names = sorted({k for r in runs for k in r.parameters})
    varying = [k for k in names if len({str(r.parameters.get(k)) for r in runs}) > 1] or names
    rows = []
    for r in runs:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(r.metrics.items())[:4])
        values = ", ".join(f"{k}={format_value(r.parameters[k])}" for k in varying if k in r.parameters)
        version = "draft" if r.tags.get("retrain.draft") == "true" else f"v{r.version}"
        rows.append((r.id, r.pipeline, version, r.status.value, r.created, duration(r.duration_s), values, metrics))
    return table(("run", "pipeline", "version", "status", "created", "duration", "parameters", "metrics"), rows)


def render_endpoints(endpoints: Sequence[Endpoint]) -> str:
    if not endpoints:
        return "no endpoints yet. Publish a pipeline: retrain publish"
    rows = [(e.name, len(e.versions), e.default_version, e.latest.number if e.latest else None) for e in endpoints]
    return table(("endpoint", "versions", "default", "latest"), rows)


def render_endpoint(endpoint: Endpoint) -> str:
    rows = [
        (v.number, "yes" if v.is_default else "", v.content_hash.removeprefix("sha256:")[:12], v.created, (v.source_commit or "")[:12])
        for v in endpoint.versions
    ]
    head = f"endpoint {endpoint.name}" + (f"  ({endpoint.backend_name})" if endpoint.backend_name else "") + (f"  {endpoint.url}" if endpoint.url else "")
    return head + "\n" + table(("version", "default", "content", "created", "commit"), rows)


def print_logs(backend: Backend, run: Run, out: TextIO, *, blocks: bool | None = None) -> None:
    """Each step's log under a heading, streamed chunk by chunk as the backend hands it over, so a log of
    any size costs one chunk of memory.

    The log is data: it must not drive the runner nor the terminal. Its control characters are shown
    escaped (an ANSI colour is not applied), and unless ``out`` is a terminal (a person reading; never the
    case in a workflow, whose steps write to pipes) or ``blocks`` says otherwise, each step's log is printed
    inside its own ``::stop-commands::<token>`` block, as ``submit`` prints step output in the action;
    at a terminal, each line is a :func:`escape.value`, so none holds ``##[``; a leading ``::`` is harmless
    there."""
    if blocks is None:
        blocks = not _is_terminal(out)
    for step in run.steps:
        offset, stop = 0, None
        while True:
            text, after = backend.logs(run.id, step.name, offset)
            if text:
                if stop is None:
                    out.write("\n" + escape.line(f"--- {step.name} ---") + "\n")
                    stop = escape.token()
                    if blocks:
                        out.write(f"::stop-commands::{stop}\n")
                body = text[:-1] if text.endswith("\n") else text
                shown = escape.block_lines(body, stop) if blocks else escape.lines(body)
                out.write("\n".join(shown) + "\n")
            if after == offset:
                break
            offset = after
        if stop is not None and blocks:
            out.write(f"::{stop}::\n")
        out.flush()


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream: not a person at a terminal
        return False


def _on(item: PipelinePlan, run: Run) -> str:
    return "as a draft" if item.draft else f"on version {run.version}"


def _indent(text: str) -> str:
    return "\n".join(escape.line("  " + line) for line in text.splitlines())


class ConsoleReporter:
    """Progress lines while work goes on, then the run's report."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._steps: dict[str, StepStatus] = {}

    def _say(self, text: str) -> None:
        print("\n".join(escape.line(line) for line in text.split("\n")), file=self.out, flush=True)

    def started(self, item: PipelinePlan) -> None:
        self._steps = {}
        self._say(f"{item.pipeline}: {item.action}")

    def published(self, item: PipelinePlan, result: PublishResult) -> None:
        v = result.version
        if result.created:
            default = " (the default)" if v.is_default else ""
            self._say(f"{item.pipeline}: published version {v.number} of endpoint {item.endpoint}{default}")
        else:
            self._say(f"{item.pipeline}: unchanged, endpoint {item.endpoint} keeps version {v.number}")

    def submitted(self, item: PipelinePlan, run: Run, *, attached: bool) -> None:
        verb = "attached to earlier run" if attached else "submitted run"
        self._say(f"{item.pipeline}: {verb} {run.id} {_on(item, run)}" + (f"  {run.url}" if run.url else ""))

    def progress(self, item: PipelinePlan, run: Run) -> None:
        for step in run.steps:
            if self._steps.get(step.name) == step.status:
                continue
            self._steps[step.name] = step.status
            if step.status in (StepStatus.QUEUED,):
                continue
            took = f" in {duration(step.duration_s)}" if step.duration_s is not None else ""
            self._say(f"  {step.name}: {MARK[step.status]}{took}")

    def stopping(self, item: PipelinePlan, run: Run) -> None:
        pass  # the signal's own message already said it; the cancel's outcome follows

    def log(self, item: PipelinePlan, step: str, text: str) -> None:
        # Prefixed, so no line of a step's output starts a line of ours (nor a workflow command).
        for line in escape.lines(text.rstrip("\n")):
            self._say(f"    [{escape.value(step)}] {line}")

    def finished(self, outcome: Outcome) -> None:
        from ..flow.execute import Conclusion

        if outcome.run is not None and outcome.conclusion is not Conclusion.PENDING:
            from ..review.report import review_text

            self._say("")
            compared = outcome.review.comparison is not None
            self._say(render_run(outcome.run, defaults=None, metrics=not compared))
            extra = review_text(outcome.review, draft=outcome.item.draft, candidate=outcome.candidate is not None)
            if extra:
                self._say("\n" + extra)
        word = outcome.conclusion.value
        # The report above already shows a failure's log; the last line only needs its first sentence.
        message = outcome.message.splitlines()[0] if outcome.run is not None and outcome.message else outcome.message
        self._say(f"{escape.value(outcome.item.pipeline)}: {word}: {escape.value(message)}")
