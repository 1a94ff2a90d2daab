"""Render a component's command line as Azure ML does, with every substituted value shell-quoted.

``${{inputs.x}}`` and ``${{outputs.y}}`` are replaced by the value or path, quoted with
:func:`shlex.quote` so a value such as ``x; rm -rf ~`` arrives as one literal argument. A ``$[[ ... ]]``
section is kept (without its brackets) only when every input it names has a value.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from ...pipeline.expressions import COMMAND_REF, OPTIONAL_SECTION


def render(command: str, inputs: Mapping[str, str | None], outputs: Mapping[str, str]) -> str:
    def keep(section: re.Match[str]) -> str:
        body = section.group(1)
        for ref in COMMAND_REF.finditer(body):
            if ref.group(1) == "inputs" and inputs.get(ref.group(2)) is None:
                return ""
        return body

    def substitute(ref: re.Match[str]) -> str:
        kind, name = ref.group(1), ref.group(2)
        value = inputs.get(name) if kind == "inputs" else outputs.get(name)
        return "" if value is None else shlex.quote(value)

    text = OPTIONAL_SECTION.sub(keep, command)
    return COMMAND_REF.sub(substitute, text).strip()
