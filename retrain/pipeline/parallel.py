"""A ``type: parallel`` step's settings (and a prompt flow's, which Azure ML runs as one): its task and entry
script, the input it splits into mini-batches, where rows are appended, concurrency, error thresholds, retries."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..yamlfile import KeyPath, YamlDoc
from .model import Component, Port
from .problems import Problems

if TYPE_CHECKING:
    from .tasks import Parallel

# Parallel settings a parallel component declares and a parallel node may override.
PARALLEL_KEYS = ("input_data", "mini_batch_size", "task", "max_concurrency_per_instance", "error_threshold",
                 "mini_batch_error_threshold", "logging_level", "retry_settings", "partition_keys", "resources")
SELF_INPUT = re.compile(r"\$\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
SELF_OUTPUT = re.compile(r"\$\{\{\s*outputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class ParallelSettings(Problems):
    """Reads a parallel step's settings (steps.py uses it)."""

    def parallel(self, doc: YamlDoc, spec: Mapping[Any, Any], path: KeyPath, component: Component) -> Parallel | None:
        """The node's parallel settings over its component's (a parallel component file, or the node itself)."""
        from .tasks import Parallel  # a pipeline without a parallel step never loads it

        if component.type == "flow":
            return Parallel(task_type="flow", entry_script=None, input_data=None, mini_batch_size=None,
                            max_concurrency_per_instance=1, error_threshold=None, mini_batch_error_threshold=None,
                            append_row_to=None, program_arguments="")
        if component.type not in ("parallel", "registered"):
            self.add(doc, (*path, "component"), f"a type: parallel step needs a parallel component; this one is {component.type}.",
                     "Point it at a YAML file with type: parallel and task:, or change the step's type.")
            return None
        merged = {k: v for k, v in component.raw.items() if k in PARALLEL_KEYS}
        merged.update({k: v for k, v in spec.items() if k in PARALLEL_KEYS})
        task = merged.get("task")
        if component.registered is not None:
            task = task if isinstance(task, dict) else {}
        elif not isinstance(task, dict):
            self.add(doc, path, "the parallel step has no task.", "Add task: {type: run_function, code: ./src, entry_script: score.py}.")
            return None
        task_type = str(task.get("type", "run_function"))
        entry = task.get("entry_script")
        if component.registered is None and task_type == "run_function" and not isinstance(entry, str):
            self.add(doc, path, "the parallel task has no entry_script.", "Add entry_script: the Python file with init() and run(mini_batch).")
        def ref(key: str, pattern: re.Pattern[str], ports: Mapping[str, Port]) -> str | None:
            raw = merged.get(key) if key != "append_row_to" else task.get("append_row_to")
            if raw is None:
                return None
            m = pattern.fullmatch(str(raw).strip())
            if m is None or (ports and m.group(1) not in ports and component.registered is None):
                self.add(doc, (*path, key), f"{key} must name one of the step's {'inputs' if pattern is SELF_INPUT else 'outputs'} "
                         f"as {'${{inputs.NAME}}' if pattern is SELF_INPUT else '${{outputs.NAME}}'}, not {raw!r}.",
                         f"Its {'inputs' if pattern is SELF_INPUT else 'outputs'}: {', '.join(sorted(ports)) or 'none'}.")
                return None
            return m.group(1)

        input_data = ref("input_data", SELF_INPUT, component.inputs)
        append = ref("append_row_to", SELF_OUTPUT, component.outputs)
        concurrency = merged.get("max_concurrency_per_instance", 1)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            self.add(doc, (*path, "max_concurrency_per_instance"), f"max_concurrency_per_instance must be a whole number of at least 1, not {concurrency!r}.")
            concurrency = 1
        retry = merged.get("retry_settings") if isinstance(merged.get("retry_settings"), dict) else {}
        keys = merged.get("partition_keys")
        partition = tuple(str(k) for k in keys) if isinstance(keys, list) else tuple(k.strip() for k in str(keys).split(",")) if keys else ()
        size = merged.get("mini_batch_size")
        return Parallel(
            task_type=task_type, entry_script=entry if isinstance(entry, str) else None, input_data=input_data,
            mini_batch_size=None if size is None else str(size), max_concurrency_per_instance=concurrency,
            error_threshold=_int_or_none(merged.get("error_threshold")),
            mini_batch_error_threshold=_int_or_none(merged.get("mini_batch_error_threshold")),
            append_row_to=append, program_arguments=str(task.get("program_arguments") or ""),
            max_retries=_int_or_none(retry.get("max_retries")),
            retry_timeout_s=float(retry["timeout"]) if isinstance(retry.get("timeout"), (int, float)) and not isinstance(retry.get("timeout"), bool) else None,
            partition_keys=partition,
        )


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
