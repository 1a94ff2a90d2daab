"""A sweep's trials as the local backend samples them: azure-ai-ml's distributions, grid and random sampling,
the trial count, and the best trial by its metric."""

from __future__ import annotations

import math

from retrain.backends.local.sweep import best, trial_count, trials
from retrain.pipeline.tasks import SearchSpace, Sweep


def sweep(space: dict[str, SearchSpace], sampling: str = "random", total: int | None = 200, seed: int | None = None) -> Sweep:
    return Sweep(search_space=space, sampling_algorithm=sampling, seed=seed, primary_metric="m", goal="maximize",
                 max_total_trials=total, max_concurrent_trials=None)


def space(kind: str, values: tuple[object, ...] = (), **params: float) -> SearchSpace:
    return SearchSpace("x", kind, values, params)


def test_grid_tries_every_combination_of_the_choices_up_to_the_limit() -> None:
    grid = sweep({"a": space("choice", (1, 2, 3)), "b": space("choice", ("x", "y"))}, "grid", total=None)
    assert trial_count(grid) == 6
    assert trials(grid, seed=0) == [{"a": a, "b": b} for a in (1, 2, 3) for b in ("x", "y")]
    assert len(trials(sweep(grid.search_space, "grid", total=4), seed=0)) == 4


def test_random_sampling_draws_each_distribution_as_azure_ai_ml_defines_it() -> None:
    draws = {
        kind: [t["x"] for t in trials(sweep({"x": s}), seed=1)]
        for kind, s in {
            "uniform": space("uniform", min_value=2, max_value=3),
            "loguniform": space("loguniform", min_value=0, max_value=1),   # bounds of log(x): x in [1, e]
            "quniform": space("quniform", min_value=0, max_value=10, q=2.5),
            "qloguniform": space("qloguniform", min_value=0, max_value=3, q=1),
            "randint": space("randint", upper=4),
            "normal": space("normal", mu=10, sigma=0.1),
            "lognormal": space("lognormal", mu=0, sigma=0.01),                # exp(normal): close to 1
            "choice": space("choice", ("a", "b")),
        }.items()
    }
    assert all(2 <= v <= 3 for v in draws["uniform"])
    assert all(1 <= v <= math.e for v in draws["loguniform"]) and max(draws["loguniform"]) > 2
    assert set(draws["quniform"]) <= {0, 2.5, 5, 7.5, 10} and len(set(draws["quniform"])) > 2
    assert all(float(v).is_integer() and 1 <= v <= 20 for v in draws["qloguniform"])
    assert set(draws["randint"]) == {0, 1, 2, 3}
    assert 9.5 < sum(draws["normal"]) / 200 < 10.5
    assert all(0.9 < v < 1.1 for v in draws["lognormal"])
    assert set(draws["choice"]) == {"a", "b"}


def test_a_seed_in_the_yaml_fixes_the_trials_else_the_run_does() -> None:
    s = {"x": space("uniform", min_value=0, max_value=1)}
    assert trials(sweep(s, seed=5), seed=1) == trials(sweep(s, seed=5), seed=2)
    assert trials(sweep(s), seed=1) != trials(sweep(s), seed=2)
    assert trial_count(sweep(s, total=None)) == 1000  # Azure ML's default max_total_trials


def test_the_best_trial_by_goal_first_on_a_tie_ignoring_trials_without_the_metric() -> None:
    results = [("t1", {"m": 0.5}), ("t2", {"m": 0.9}), ("t3", {"other": 5.0}), ("t4", {"m": 0.9}), ("t5", {"m": float("nan")})]
    assert best(results, "m", "maximize") == ("t2", 0.9)
    assert best(results, "m", "minimize") == ("t1", 0.5)
    assert best([("t3", {"other": 1.0})], "m", "maximize") is None
