"""What to do for an event, and why: pure, no side effects.

Given the parameter file, the event and the files it changed, :func:`make_plan` says per pipeline
whether to publish a new version and whether to submit a retrain run, against which version, with
which values, and which rule matched which file. ``retrain plan`` prints it; every other command
executes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..backends.base import VersionPin
from ..boundary import repository_root
from ..config.records import Config, PipelineConfig, Trigger
from ..errors import UsageError
from .event import Event
from ..config.globs import compile_glob
from ..pipeline.model import Literal
from ..pipeline.types import CoercionError, coerce, unknown_parameter_hint


@dataclass(frozen=True)
class Reason:
    """Why a pipeline is (or is not) in a plan: the rule and what matched it."""

    rule: str  # "publish_on: merge", "submit_on: data", "event", ...
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


@dataclass(frozen=True)
class PipelinePlan:
    """What the plan does with one pipeline: publish, submit, with which version and values."""

    pipeline: str
    endpoint: str
    experiment: str
    publish: bool
    submit: bool
    version: VersionPin
    parameters: Mapping[str, Literal]
    changed_parameters: frozenset[str]
    reasons: tuple[Reason, ...]
    make_default: bool
    timeout_s: float
    draft: bool = False  # run the pipeline as it is in this checkout, not a published version (a pull request)
    gated: bool = False  # the pipeline has a promote: gate: a new version is run with the file's values and judged

    @property
    def action(self) -> str:
        """``publish and submit``, ``submit, no publish``, ... as the plan prints it."""
        if self.draft and self.submit:
            return "draft run, no publish"
        if self.publish and self.submit:
            return "publish and submit"
        if self.publish and self.gated:
            # execute runs a newly published version to judge it: say so, or the plan says "no submit" and then runs.
            return "publish, and run a new version to judge its gate (no other submit; an endpoint's first version is its default at once)"
        if self.publish:
            return "publish, no submit"
        if self.submit:
            return "submit, no publish"
        return "nothing to do"


@dataclass(frozen=True)
class Plan:
    """The event and what it asks of each pipeline."""

    event: Event
    items: tuple[PipelinePlan, ...]


def make_plan(
    config: Config,
    event: Event,
    *,
    repo_root: Path | None = None,
    only: Sequence[str] = (),
    overrides: Mapping[str, str] = {},
    version: VersionPin | None = None,
    origin: str = "--set",
) -> Plan:
    """Decide per pipeline. ``overrides`` are ``name=value`` assignments typed by a person (``origin`` says where)."""
    _check_names(config, only)
    root = (repo_root or repository_root(config.root)).resolve()
    selected = [config.pipelines[n] for n in (only or config.pipelines)]
    items = tuple(_plan_one(config, pc, event, root, overrides, version, explicit=bool(only), origin=origin) for pc in selected)
    return Plan(event=event, items=items)


def _check_names(config: Config, names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in config.pipelines]
    if unknown:
        raise UsageError(
            f"no pipeline named {', '.join(repr(n) for n in unknown)} in {config.path.name}. "
            f"Its pipelines: {', '.join(config.pipelines)}."
        )


def _rel(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def _plan_one(
    config: Config,
    pc: PipelineConfig,
    event: Event,
    repo_root: Path,
    overrides: Mapping[str, str],
    version: VersionPin | None,
    *,
    explicit: bool,
    origin: str = "--set",
) -> PipelinePlan:
    parameters, changed = assign_parameters(config, pc, overrides, explicit=explicit, origin=origin)

    reasons: list[Reason] = []
    publish = submit = False
    name = event.name

    draft = False
    if name == "pull_request" and Trigger.PULL_REQUEST in pc.submit_on:
        submit = draft = _pull_request_rules(config, pc, event, repo_root, reasons)
    elif name == "pull_request":
        reasons.append(Reason("event", "pull requests validate and plan only; nothing is published or run"))
    elif name == "push":
        if event.deleted:
            reasons.append(Reason("event", f"the push deleted {event.ref or 'a ref'}; there is nothing to publish or run"))
        elif event.tag is not None:
            reasons.append(Reason("event", f"push of the tag {event.tag}: a tag is not a merge"))
        elif not event.is_default_branch:
            reasons.append(Reason("event", f"push to {event.branch}, not the default branch {event.default_branch}"))
        else:
            publish, submit = _push_rules(config, pc, event, repo_root, reasons)
    elif name in ("dispatch", "schedule"):
        trigger, why, otherwise = {
            "dispatch": (Trigger.DISPATCH, "started by hand", "dispatch is in neither publish_on nor submit_on"),
            "schedule": (Trigger.SCHEDULE, "scheduled", "scheduled runs only sync the status of earlier runs"),
        }[name]
        publish, submit = trigger in pc.publish_on, trigger in pc.submit_on
        reasons += [Reason(f"{rule}: {trigger.value}", why) for rule, on in (("publish_on", publish), ("submit_on", submit)) if on]
        if not (publish or submit):
            reasons.append(Reason("event", otherwise))

    if overrides and not submit:
        reasons.append(Reason("parameters", "values were given but no run will be submitted"))
    return PipelinePlan(
        pipeline=pc.name,
        endpoint=pc.endpoint,
        experiment=pc.experiment,
        publish=publish,
        submit=submit,
        version=version if version is not None else pc.version,
        parameters=parameters,
        changed_parameters=changed,
        reasons=tuple(reasons),
        make_default=pc.make_default,
        timeout_s=pc.timeout_s,
        draft=draft,
        gated=pc.gate is not None,
    )


def _pull_request_rules(config: Config, pc: PipelineConfig, event: Event, repo_root: Path, reasons: list[Reason]) -> bool:
    """Whether a pull request runs the pipeline as a draft (``submit_on: pull_request``)."""
    if event.from_fork:
        reasons.append(Reason("submit_on: pull_request", "the pull request comes from a fork, whose workflow gets no secrets "
                              "and a read-only token: plan only, no draft run"))
        return False
    if event.changed_files is None or not event.changed_files_complete:
        why = "the changed files are not known" if event.changed_files is None else "the list of changed files is incomplete"
        reasons.append(Reason("submit_on: pull_request", f"{why}; a draft run of the pull request's pipeline"))
        return True
    touched, config_touched, data_hits = _changes(config, pc, event.changed_files, repo_root)
    hits = [*touched, *([_rel(config.path, repo_root) or config.path.name] if config_touched else []),
            *(f"{f} matched {p}" for f, p in data_hits)]
    if not hits:
        reasons.append(Reason("event", "the pull request changes no file of this pipeline"))
        return False
    reasons.append(Reason("submit_on: pull_request", f"a draft run of the pull request's pipeline: {_listing(hits)} changed"))
    return True


def _changes(config: Config, pc: PipelineConfig, changed: Sequence[str], repo_root: Path
             ) -> tuple[list[str], bool, list[tuple[str, str]]]:
    """Of ``changed``: the pipeline's own files, whether the parameter file is one, and data-pattern hits."""
    # Linear in the number of changed files: set lookups and string prefixes, no filesystem calls per file.
    files = pc.pipeline.files if pc.pipeline is not None else ()
    pipeline_files = {rel for f in files if (rel := _rel(f, repo_root)) is not None}
    config_file = _rel(config.path, repo_root)
    touched = [f for f in changed if f in pipeline_files]
    config_touched = config_file is not None and config_file in set(changed)
    data_hits: list[tuple[str, str]] = []
    config_dir = _rel(config.root, repo_root)
    globs = [(pattern, compile_glob(pattern)) for pattern in pc.data]
    if config_dir is not None and globs:
        prefix = "" if config_dir in ("", ".") else config_dir + "/"
        for f in changed:
            if not f.startswith(prefix):
                continue
            local = f[len(prefix):]
            for pattern, glob in globs:
                if glob.matches(local):
                    data_hits.append((f, pattern))
                    break
    return touched, config_touched, data_hits


def parse_assignments(pairs: list[str] | None) -> dict[str, str]:
    """``name=value`` pairs (``--set``, the action's parameters input) as the overrides a plan takes."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {pair!r} is not name=value. Write e.g. --set learning_rate=0.05.")
        out[name.strip()] = value
    return out


def assign_parameters(
    config: Config, pc: PipelineConfig, overrides: Mapping[str, str], *, explicit: bool = True, origin: str = "--set"
) -> tuple[dict[str, Literal], frozenset[str]]:
    """The parameter file's values with ``overrides`` applied; and which differ from the defaults."""
    parameters = dict(pc.parameters)
    if pc.pipeline is None:
        # A designer endpoint: its published pipeline types the values when the run is submitted.
        parameters.update(overrides)
        return parameters, frozenset(overrides)
    for name, text in overrides.items():
        port = pc.pipeline.parameters.get(name)
        if port is None:
            hint = unknown_parameter_hint(name, pc.pipeline.parameters)
            more = "" if explicit or len(config.pipelines) == 1 else " Choose the pipeline with --pipeline."
            raise UsageError(f"pipeline '{pc.name}' has no parameter '{name}'. {hint}{more}")
        try:
            # Values typed by a person are relative to where they typed them, and stay in the repository.
            parameters[name] = coerce(port, text, base_dir=Path.cwd(), inside=config.repo_root or config.root)
        except CoercionError as e:
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise UsageError(f"{name}={shown}: {e} (given with {origin})") from None
    defaults = {n: p.default for n, p in pc.pipeline.parameters.items()}
    changed = frozenset(n for n, v in parameters.items() if defaults.get(n) != v)
    return parameters, changed


def command_plan(
    config: Config,
    names: Sequence[str],
    *,
    publish: bool,
    submit: bool,
    command: str,
    overrides: Mapping[str, str] = {},
    version: VersionPin | None = None,
    make_default: bool | None = None,
    origin: str = "--set",
) -> Plan:
    """A plan for an explicit command (``retrain publish``/``submit``): no rules, the person decides."""
    _check_names(config, names)
    items = []
    for name in names or list(config.pipelines):
        pc = config.pipelines[name]
        parameters, changed = assign_parameters(config, pc, overrides, explicit=bool(names), origin=origin)
        items.append(PipelinePlan(
            pipeline=pc.name, endpoint=pc.endpoint, experiment=pc.experiment,
            publish=publish, submit=submit,
            version=version if version is not None else pc.version,
            parameters=parameters, changed_parameters=changed,
            reasons=(Reason("command", f"retrain {command}"),),
            make_default=pc.make_default if make_default is None else make_default,
            timeout_s=pc.timeout_s, gated=pc.gate is not None,
        ))
    return Plan(event=Event(name="dispatch"), items=tuple(items))


def _push_rules(
    config: Config, pc: PipelineConfig, event: Event, repo_root: Path, reasons: list[Reason]
) -> tuple[bool, bool]:
    changed = event.changed_files
    if changed is None or not event.changed_files_complete:
        # Without the whole list we cannot tell: take the push as touching every file, so nothing that
        # should run is skipped (publishing is safe: unchanged content keeps its version).
        why = "the changed files are not known" if changed is None else "the list of changed files may be incomplete"
        if event.changes_note:
            why += f" ({event.changes_note})"
        why += ", so every file counts as changed"
        publish = Trigger.MERGE in pc.publish_on
        submit = Trigger.MERGE in pc.submit_on or (Trigger.DATA in pc.submit_on and bool(pc.data))
        if publish:
            reasons.append(Reason("publish_on: merge", f"{why}; an unchanged pipeline keeps its version"))
        if Trigger.MERGE in pc.submit_on:
            reasons.append(Reason("submit_on: merge", why))
        elif submit:
            reasons.append(Reason("submit_on: data", why))
        if not (publish or submit):
            reasons.append(Reason("event", "merge is in neither publish_on nor submit_on"))
        return publish, submit

    touched, config_touched, data_hits = _changes(config, pc, changed, repo_root)
    config_file = _rel(config.path, repo_root)

    publish = submit = False
    if touched:
        listing = _listing(touched)
        if Trigger.MERGE in pc.publish_on:
            publish = True
            reasons.append(Reason("publish_on: merge", f"the pipeline changed: {listing}"))
        if Trigger.MERGE in pc.submit_on:
            submit = True
            reasons.append(Reason("submit_on: merge", f"the pipeline changed: {listing}"))
    if config_touched and Trigger.MERGE in pc.submit_on:
        submit = True
        reasons.append(Reason("submit_on: merge", f"the parameter file {config_file} changed"))
    if data_hits:
        listing = _listing([f"{f} matched {p}" for f, p in data_hits])
        if Trigger.DATA in pc.submit_on:
            submit = True
            reasons.append(Reason("submit_on: data", listing))
        else:
            reasons.append(Reason("data", f"{listing}, but data is not in submit_on"))
    if not reasons:
        reasons.append(Reason("event", "no changed file concerns this pipeline"))
    return publish, submit


def _listing(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
