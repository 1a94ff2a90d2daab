"""The plan says, per pipeline, what an event would do and which rule matched which file."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrain.config.load import load_config
from retrain.errors import UsageError
from retrain.flow.event import Event
from retrain.flow.plan import make_plan


def plan_for(project: Path, event: Event, **kwargs: object):  # type: ignore[no-untyped-def]
    config = load_config(project / "retrain.yml")
    plan = make_plan(config, event, **kwargs)  # type: ignore[arg-type]
    assert len(plan.items) == 1
    return plan.items[0]


def test_a_data_file_change_submits_without_publishing(project: Path) -> None:
    item = plan_for(project, Event("push", changed_files=("data/other.csv",)))
    assert (item.publish, item.submit) == (False, True)
    assert item.action == "submit, no publish"
    assert [str(r) for r in item.reasons] == ["submit_on: data: data/other.csv matched data/**/*.csv"]
    assert item.version == "default"


def test_a_component_code_change_publishes_and_submits(project: Path) -> None:
    item = plan_for(project, Event("push", changed_files=("pipelines/tiny/src/train.py", "README.md")))
    assert item.action == "publish and submit"
    assert [str(r) for r in item.reasons] == [
        "publish_on: merge: the pipeline changed: pipelines/tiny/src/train.py",
        "submit_on: merge: the pipeline changed: pipelines/tiny/src/train.py",
    ]


def test_an_unrelated_change_does_nothing(project: Path) -> None:
    item = plan_for(project, Event("push", changed_files=("README.md",)))
    assert item.action == "nothing to do"
    assert [str(r) for r in item.reasons] == ["event: no changed file concerns this pipeline"]


def test_a_parameter_file_change_submits(project: Path) -> None:
    item = plan_for(project, Event("push", changed_files=("retrain.yml",)))
    assert item.action == "submit, no publish"
    assert [str(r) for r in item.reasons] == ["submit_on: merge: the parameter file retrain.yml changed"]


def test_a_push_to_another_branch_does_nothing(project: Path) -> None:
    event = Event("push", ref="refs/heads/feature", default_branch="main", changed_files=("data/other.csv",))
    item = plan_for(project, event)
    assert item.action == "nothing to do"
    assert [str(r) for r in item.reasons] == ["event: push to feature, not the default branch main"]


def test_unknown_changes_publish_safely(project: Path) -> None:
    item = plan_for(project, Event("push"))
    assert item.action == "publish and submit"
    assert str(item.reasons[0]) == (
        "publish_on: merge: the changed files are not known, so every file counts as changed; "
        "an unchanged pipeline keeps its version"
    )


def test_an_incomplete_list_counts_every_file_and_says_why(project: Path) -> None:
    note = "the compare API lists at most 300 files and listed 300 for aaa...bbb"
    event = Event("push", changed_files=("README.md",), changed_files_complete=False, changes_note=note)
    item = plan_for(project, event)
    assert item.action == "publish and submit"  # README.md alone would do nothing; the rest is unknown
    assert str(item.reasons[1]) == f"submit_on: merge: the list of changed files may be incomplete ({note}), so every file counts as changed"


def test_tags_and_deletions_plan_nothing(project: Path) -> None:
    tag = plan_for(project, Event("push", ref="refs/tags/v2", default_branch="main", changed_files=("data/other.csv",)))
    assert [str(r) for r in tag.reasons] == ["event: push of the tag v2: a tag is not a merge"]
    gone = plan_for(project, Event("push", ref="refs/heads/main", default_branch="main", deleted=True))
    assert gone.action == "nothing to do"


def test_a_pull_request_only_plans(project: Path) -> None:
    item = plan_for(project, Event("pull_request", changed_files=("pipelines/tiny/src/train.py",)))
    assert item.action == "nothing to do"


def test_dispatch_values_are_typed_and_marked_changed(project: Path) -> None:
    item = plan_for(project, Event("dispatch"), overrides={"epochs": "7", "flavour": "fancy"})
    assert item.submit and not item.publish
    assert item.parameters["epochs"] == 7
    assert item.parameters["flavour"] == "fancy"
    assert item.parameters["learning_rate"] == 0.2  # from the parameter file
    # learning_rate differs from the pipeline's default 0.1; training_data points elsewhere.
    assert item.changed_parameters == {"epochs", "flavour", "learning_rate", "training_data"}


def test_an_unknown_dispatch_value_lists_the_parameters(project: Path) -> None:
    with pytest.raises(UsageError) as e:
        plan_for(project, Event("dispatch"), overrides={"epoch": "7"})
    assert str(e.value) == (
        "pipeline 'tiny' has no parameter 'epoch'. Did you mean 'epochs'? "
        "Its parameters: epochs, flavour, learning_rate, training_data."
    )


def test_a_pinned_version_can_be_overridden(project: Path) -> None:
    item = plan_for(project, Event("dispatch"), version=3)
    assert item.version == 3


def test_schedule_only_syncs_by_default(project: Path) -> None:
    item = plan_for(project, Event("schedule"))
    assert item.action == "nothing to do"
    assert [str(r) for r in item.reasons] == ["event: scheduled runs only sync the status of earlier runs"]


def test_an_unknown_pipeline_lists_the_known_ones(project: Path) -> None:
    config = load_config(project / "retrain.yml")
    with pytest.raises(UsageError) as e:
        make_plan(config, Event("push"), only=["tini"])
    assert str(e.value) == "no pipeline named 'tini' in retrain.yml. Its pipelines: tiny."


def test_the_printed_plan_keeps_each_value_on_its_line(project: Path) -> None:
    from retrain.report.console import render_plan

    config = load_config(project / "retrain.yml")
    plan = make_plan(config, Event("dispatch"), overrides={"flavour": "fancy"})
    item = plan.items[0]
    hostile = type(item)(**{**item.__dict__, "parameters": {**item.parameters, "flavour": "fancy\n::add-mask::x\x1b[2J"}})
    text = render_plan(type(plan)(plan.event, (hostile,)))
    assert "  flavour = fancy\\n::add-mask::x\\x1b[2J (changed)" in text
    assert not any(line.lstrip().startswith("::") for line in text.splitlines())


def test_a_gated_publish_says_it_runs_the_new_version_and_that_a_first_version_needs_no_gate(project: Path) -> None:
    from retrain.flow.plan import command_plan

    plain = command_plan(load_config(project / "retrain.yml"), [], publish=True, submit=False, command="publish")
    assert plain.items[0].action == "publish, no submit"
    (project / "retrain.yml").write_text((project / "retrain.yml").read_text() + '    promote:\n      score: ">= 0.5"\n')
    gated = command_plan(load_config(project / "retrain.yml"), [], publish=True, submit=False, command="publish")
    assert gated.items[0].action == ("publish, and run a new version to judge its gate "
                                     "(no other submit; an endpoint's first version is its default at once)")
