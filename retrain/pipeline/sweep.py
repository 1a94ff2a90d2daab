"""A ``type: sweep`` step's settings: its search space (each distribution with the parameters it takes), the
sampling algorithm and the distributions it allows, the objective, the limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..yamlfile import KeyPath, YamlDoc
from .model import Component
from .problems import Problems
from .types import parse_duration

if TYPE_CHECKING:
    from .tasks import Sweep

GOALS = ("maximize", "minimize")
SAMPLINGS = ("random", "grid", "bayesian")
# Which distributions each sampling takes (Azure ML's hyperparameter-tuning docs: grid takes choice only,
# bayesian choice, uniform and quniform).
SAMPLING_TAKES = {"grid": ("choice",), "bayesian": ("choice", "uniform", "quniform")}


class Sweeps(Problems):
    """Reads a sweep step's settings (steps.py uses it)."""

    def sweep(self, doc: YamlDoc, spec: Mapping[Any, Any], path: KeyPath, trial: Component) -> Sweep | None:
        from .tasks import DISTRIBUTIONS, SearchSpace, Sweep  # a pipeline without a sweep never loads them

        space_spec = self.mapping(doc, spec.get("search_space"), (*path, "search_space"), "search_space") or {}
        if not space_spec:
            self.add(doc, path, "the sweep has no search_space.", "Add search_space: with at least one input to tune.")
        space: dict[str, SearchSpace] = {}
        for key, value in space_spec.items():
            hp = str(key)
            hpath = (*path, "search_space", key)
            if trial.type == "command" and trial.registered is None and hp not in trial.inputs:
                self.add(doc, hpath, f"the trial '{trial.name}' has no input '{hp}' to tune.",
                         f"Its inputs: {', '.join(sorted(trial.inputs)) or 'none'}.", at_key=True)
            if not isinstance(value, dict) or value.get("type") not in DISTRIBUTIONS:
                self.add(doc, hpath, f"'{hp}' needs a type: one of {', '.join(DISTRIBUTIONS)}.", "Write e.g. {type: uniform, min_value: 0.01, max_value: 0.1}.")
                continue
            dist = str(value["type"])
            params: dict[str, float] = {}
            values: tuple[object, ...] = ()
            for pname in DISTRIBUTIONS[dist]:
                if pname not in value:
                    self.add(doc, hpath, f"the {dist} distribution of '{hp}' needs {pname}.",
                             "Give the values to choose from, e.g. values: [0.01, 0.1]." if pname == "values" else f"It takes {', '.join(DISTRIBUTIONS[dist])}.")
                elif pname == "values":
                    if not isinstance(value["values"], list) or not value["values"]:
                        self.add(doc, (*hpath, "values"), "values must be a non-empty list.")
                    else:
                        values = tuple(value["values"])
                elif isinstance(value[pname], bool) or not isinstance(value[pname], (int, float)):
                    self.add(doc, (*hpath, pname), f"{pname} must be a number, not {value[pname]!r}.")
                else:
                    params[pname] = float(value[pname])
            if "min_value" in params and "max_value" in params and params["min_value"] > params["max_value"]:
                self.add(doc, (*hpath, "min_value"), f"min_value {params['min_value']:g} is above max_value {params['max_value']:g}.", "Swap them.")
            if params.get("q", 1) <= 0 or params.get("sigma", 1) < 0 or params.get("upper", 1) < 1:
                self.add(doc, hpath, f"the {dist} distribution of '{hp}' has a parameter out of range.",
                         "q must be above 0, sigma at least 0, upper at least 1.")
            space[hp] = SearchSpace(hp, dist, values, params, doc.where(hpath))
        raw_sampling = spec.get("sampling_algorithm", "random")
        seed = None
        sampling_path: KeyPath = (*path, "sampling_algorithm")
        if isinstance(raw_sampling, dict):
            seed = raw_sampling.get("seed")
            raw_sampling = raw_sampling.get("type")
            sampling_path = (*sampling_path, "type")
        sampling = str(raw_sampling).lower()
        if sampling not in SAMPLINGS:
            self.add(doc, sampling_path, f"unknown sampling algorithm {raw_sampling!r}.", f"Use one of {', '.join(SAMPLINGS)}.")
        elif sampling in SAMPLING_TAKES:
            for hp, ss in space.items():
                if ss.type not in SAMPLING_TAKES[sampling]:
                    self.add(doc, (*path, "search_space", hp, "type"), f"{sampling} sampling takes {' and '.join(SAMPLING_TAKES[sampling])} only, not {ss.type}.",
                             "Use random sampling, or another distribution.")
        objective = self.mapping(doc, spec.get("objective"), (*path, "objective"), "objective") or {}
        metric = objective.get("primary_metric")
        goal = str(objective.get("goal", "")).lower()
        if not isinstance(metric, str) or not metric:
            self.add(doc, (*path, "objective") if "objective" in spec else path, "the sweep has no objective.primary_metric.",
                     "Name the metric the trials log, e.g. objective: {primary_metric: accuracy, goal: maximize}.")
            metric = ""
        if goal not in GOALS:
            self.add(doc, (*path, "objective", "goal") if "goal" in objective else (*path, "objective") if "objective" in spec else path,
                     f"the sweep's goal must be maximize or minimize, not {objective.get('goal')!r}.")
        limits = self.mapping(doc, spec.get("limits"), (*path, "limits"), "limits") or {}
        counts: dict[str, int | None] = {}
        for key in ("max_total_trials", "max_concurrent_trials"):
            value = limits.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                self.add(doc, (*path, "limits", key), f"{key} must be a whole number of at least 1, not {value!r}.")
                value = None
            counts[key] = value
        times: dict[str, float | None] = {}
        for key in ("timeout", "trial_timeout"):
            try:
                times[key] = None if limits.get(key) is None else parse_duration(limits[key])
            except ValueError as e:
                self.add(doc, (*path, "limits", key), str(e))
                times[key] = None
        early = spec.get("early_termination")
        return Sweep(search_space=space, sampling_algorithm=sampling, seed=seed if isinstance(seed, int) else None,
                     primary_metric=metric, goal=goal, max_total_trials=counts["max_total_trials"],
                     max_concurrent_trials=counts["max_concurrent_trials"], timeout_s=times["timeout"],
                     trial_timeout_s=times["trial_timeout"], early_termination=early if isinstance(early, dict) else None)
