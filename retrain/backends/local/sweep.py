"""A sweep step run locally: its trials' hyperparameters sampled, and the best trial chosen.

The distributions are azure-ai-ml's (``azure.ai.ml.sweep``), with Hyperopt's meaning that Azure ML's
sweep service gives them: ``loguniform``/``qloguniform``/``lognormal``/``qlognormal`` take the bounds or
parameters of the value's natural logarithm, the ``q`` forms round to a multiple of ``q``
(``round(x / q) * q``), ``randint(upper)`` is a whole number in ``[0, upper)``.

``grid`` sampling tries every combination of the ``choice`` values (at most ``max_total_trials``);
``random`` draws ``max_total_trials`` independent samples (1000 when unset, Azure ML's default);
``bayesian`` sampling needs the service's model of earlier trials: the local backend samples at random
instead and says so in the step's message (docs/local-backend.md).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ...pipeline.model import Pipeline

if TYPE_CHECKING:  # only a run with a sweep samples: the others load neither
    import random

    from ...pipeline.tasks import SearchSpace, Sweep

DEFAULT_MAX_TRIALS = 1000  # Azure ML's default for limits.max_total_trials


def trial_name(step: str, index: int) -> str:
    """The name a trial has in the run's steps (``retrain status`` lists it): ``train.trial_1``."""
    return f"{step}.trial_{index}"


def run_step_names(pipeline: Pipeline) -> list[str]:
    """The rows a run of (flattened) ``pipeline`` has: each step, a sweep followed by its trials."""
    names: list[str] = []
    for name, step in pipeline.steps.items():
        names.append(name)
        if step.sweep is not None:
            names += [trial_name(name, i + 1) for i in range(trial_count(step.sweep))]
    return names


def trial_count(sweep: Sweep) -> int:
    if sweep.sampling_algorithm == "grid":
        combos = math.prod(len(s.values) for s in sweep.search_space.values())
        return min(combos, sweep.max_total_trials or combos)
    return sweep.max_total_trials or DEFAULT_MAX_TRIALS


def sample(space: SearchSpace, rng: random.Random) -> object:
    p = space.params
    kind = space.type
    if kind == "choice":
        return rng.choice(list(space.values))
    if kind == "randint":
        return rng.randrange(int(p["upper"]))
    if kind in ("uniform", "quniform"):
        value = rng.uniform(p["min_value"], p["max_value"])
    elif kind in ("loguniform", "qloguniform"):
        value = math.exp(rng.uniform(p["min_value"], p["max_value"]))
    elif kind in ("normal", "qnormal"):
        value = rng.gauss(p["mu"], p["sigma"])
    elif kind in ("lognormal", "qlognormal"):
        value = math.exp(rng.gauss(p["mu"], p["sigma"]))
    else:  # the loader refuses other types; a stored snapshot was checked when it was published
        raise ValueError(f"unknown distribution {kind!r}")
    if kind.startswith("q"):
        q = p["q"]
        value = round(value / q) * q
    return value


def trials(sweep: Sweep, seed: int) -> list[dict[str, object]]:
    """The hyperparameter values of each trial, in order."""
    names = list(sweep.search_space)
    count = trial_count(sweep)
    if sweep.sampling_algorithm == "grid":
        grid = itertools.product(*(sweep.search_space[n].values for n in names))
        return [dict(zip(names, combo)) for combo in itertools.islice(grid, count)]
    import random

    rng = random.Random(sweep.seed if sweep.seed is not None else seed)
    return [{n: sample(sweep.search_space[n], rng) for n in names} for _ in range(count)]


def best(results: Sequence[tuple[str, Mapping[str, float]]], metric: str, goal: str) -> tuple[str, float] | None:
    """The trial whose ``metric`` is best for ``goal`` (the first on a tie); None when no trial logged it."""
    scored = [(name, float(m[metric])) for name, m in results if isinstance(m.get(metric), (int, float))
              and not isinstance(m.get(metric), bool) and math.isfinite(float(m[metric]))]
    if not scored:
        return None
    pick = max if goal == "maximize" else min
    return pick(scored, key=lambda item: item[1])
