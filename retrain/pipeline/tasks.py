"""The settings of a sweep step and of a parallel step: part of :mod:`.model`'s contract, in a module of their own so
that only a pipeline that has such a step loads them (``pipeline/sweep.py`` and ``pipeline/parallel.py`` build them,
the backends read them from ``Step.sweep`` and ``Step.parallel``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import Location


@dataclass(frozen=True)
class SearchSpace:
    """One hyperparameter of a sweep: ``{type: uniform, min_value: 0.1, max_value: 1}`` and the like.

    ``type`` is one of :data:`DISTRIBUTIONS`; ``values`` holds a ``choice``'s values, ``params`` the
    numbers (``min_value``, ``max_value``, ``mu``, ``sigma``, ``q``, ``upper``) as written.
    """

    name: str
    type: str
    values: tuple[object, ...] = ()
    params: Mapping[str, float] = field(default_factory=dict)
    location: Location | None = field(default=None, compare=False)


# The SDK's distributions (azure.ai.ml.sweep) and the parameters each takes.
DISTRIBUTIONS: Mapping[str, tuple[str, ...]] = {
    "choice": ("values",),
    "randint": ("upper",),
    "uniform": ("min_value", "max_value"),
    "loguniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"),
    "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "lognormal": ("mu", "sigma"),
    "qlognormal": ("mu", "sigma", "q"),
}


@dataclass(frozen=True)
class Sweep:
    """A ``type: sweep`` step: its trial is the step's component; these are the rest of the node."""

    search_space: Mapping[str, SearchSpace]
    sampling_algorithm: str  # random | grid | bayesian
    seed: int | None
    primary_metric: str
    goal: str  # maximize | minimize
    max_total_trials: int | None
    max_concurrent_trials: int | None
    timeout_s: float | None = None
    trial_timeout_s: float | None = None
    early_termination: Mapping[str, object] | None = None


@dataclass(frozen=True)
class Parallel:
    """A ``type: parallel`` step's run settings (the node's over its parallel component's).

    ``input_data`` and ``append_row_to`` are the names of the step input and output they point at
    (``${{inputs.x}}`` / ``${{outputs.y}}``); ``mini_batch_size`` as written (a file count, or a size
    such as ``"10kb"`` for tabular data).
    """

    task_type: str  # run_function (or a prompt flow's, for flow components)
    entry_script: str | None
    input_data: str | None
    mini_batch_size: str | None
    max_concurrency_per_instance: int
    error_threshold: int | None
    mini_batch_error_threshold: int | None
    append_row_to: str | None
    program_arguments: str
    max_retries: int | None = None
    retry_timeout_s: float | None = None
    partition_keys: tuple[str, ...] = ()
