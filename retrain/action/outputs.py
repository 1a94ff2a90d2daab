"""The step's outputs (``published-version``, ``run-id``, ``metrics``, ``gate``, ``plan``, ...) as action.yml
declares them, from a plan and its outcomes."""

from __future__ import annotations

import json
from typing import Any

from ..flow.execute import Outcome
from ..flow.plan import Plan
from ..github.workflow import Workflow
from ..report.as_json import to_json
from .check_reporter import CheckReporter


def write_outputs(workflow: Workflow, plan: Plan | None, outcomes: list[Outcome], reporter: CheckReporter | None = None) -> None:
    published = next((o.published for o in outcomes if o.published and o.published.created), None)
    ran = next((o for o in outcomes if o.run is not None), None)
    first = ran or (outcomes[0] if outcomes else None)
    workflow.set_output("published-version", str(published.version.number) if published else "")
    # A pull request's draft is not a version: `version` and `gate` stay empty (its gate is only a preview),
    # and `draft` says what the run was.
    draft = ran is not None and ran.item.draft
    workflow.set_output("version", str(ran.run.version) if ran and ran.run and not draft else "")
    workflow.set_output("draft", "true" if draft else "")
    workflow.set_output("run-id", ran.run.id if ran and ran.run else "")
    url = (reporter.url(ran.run) if reporter else ran.run.url) if ran and ran.run else None
    workflow.set_output("run-url", url or "")
    workflow.set_output("outputs-dir", _outputs_dir(workflow, ran.run) if ran and ran.run else "")
    workflow.set_output("status", first.conclusion.value if first else "neutral")
    workflow.set_output("metrics", json.dumps(to_json(dict(ran.run.metrics)) if ran and ran.run else {}, sort_keys=True))
    _review_outputs(workflow, ran)
    if plan is not None:
        workflow.set_output("plan", json.dumps(to_json(plan), sort_keys=True))


def _outputs_dir(workflow: Workflow, run: Any) -> str:
    """A local run's folder (its steps' outputs and logs), for actions/upload-artifact; empty on a cloud backend."""
    url = str(run.url or "")
    if not url.startswith("file://"):
        return ""
    from urllib.parse import unquote, urlparse

    return workflow.relative(unquote(urlparse(url).path))


def _review_outputs(workflow: Workflow, ran: Outcome | None) -> None:
    """``baseline-run-id``, ``gate`` (passed, failed or empty) and ``metric-differences`` (JSON)."""
    comparison = ran.review.comparison if ran else None
    gate = ran.review.gate if ran else None
    workflow.set_output("baseline-run-id", (comparison.baseline_run or "") if comparison else "")
    # Only a gated candidate's run has a verdict; on a draft or any other run the gate is a preview.
    previewed = gate is None or ran is None or ran.item.draft or ran.candidate is None
    workflow.set_output("gate", "" if previewed else "passed" if gate.passed else "failed")  # type: ignore[union-attr]
    workflow.set_output("metric-differences", json.dumps(comparison.differences() if comparison else {}, sort_keys=True))
