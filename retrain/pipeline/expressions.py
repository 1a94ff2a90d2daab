"""The ``${{ }}`` expressions a pipeline YAML writes: a step's bindings to the pipeline's inputs and outputs and to
other steps' outputs, a command's references to its own ports, and the ``$[[ ]]`` sections left out when an
optional input has no value. The loader checks them; the local backend substitutes them."""

from __future__ import annotations

import re

_B = r"\$\{\{\s*"
_E = r"\s*\}\}"
PARENT_INPUT = re.compile(_B + r"parent\.inputs\.([A-Za-z_][A-Za-z0-9_]*)" + _E)
STEP_OUTPUT = re.compile(_B + r"parent\.jobs\.([A-Za-z_][A-Za-z0-9_]*)\.outputs\.([A-Za-z_][A-Za-z0-9_]*)" + _E)
PARENT_OUTPUT = re.compile(_B + r"parent\.outputs\.([A-Za-z_][A-Za-z0-9_]*)" + _E)
COMMAND_REF = re.compile(_B + r"(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)" + _E)
OPTIONAL_SECTION = re.compile(r"\$\[\[(.*?)\]\]", re.S)
