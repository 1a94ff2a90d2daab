"""The ``workflow_dispatch`` form of a workflow that uses the retrain action, kept in step with the pipeline.

One module per job:

- ``fields``: the form a pipeline asks for (one input per parameter, typed from the pipeline) and its lines;
- ``records``: what a workflow file's form and retrain steps hold, with the lines warnings point at;
- ``nodes``: those read from the YAML with ``yaml.compose``, so every input keeps its line;
- ``workflow``: a repository's workflow files, and each one's form, remembered by the file's bytes (a
  ``retrain validate`` whose workflows did not change does not import PyYAML);
- ``drift``: that form checked against the pipelines and the parameter file's values, as warnings at the
  workflow's lines (``retrain validate``, the action);
- ``edit``: the rewrite (``retrain init --update``), line by line.

The wiring is one ``name=${{ inputs.name }}`` line per input in the action's ``parameters`` input; on a
push or a schedule ``inputs`` is empty, and the action drops ``name=`` lines with no value, so an empty
field keeps the parameter file's value.
"""
