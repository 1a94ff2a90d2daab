"""Order steps so each comes after the steps it reads from, without recursion.

A depth-first walk with an explicit stack: the order is the one a recursive walk in file order gives
(each step right after its last missing upstream step), and a chain of any length (10,000 steps listed
in reverse) costs linear time and no Python stack. Cycles are returned, not raised, so the loader can
report each with the others problems of the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

_ON_PATH, _DONE = 1, 2


def dependency_order(names: Iterable[str], depends_on: Mapping[str, Sequence[str]]) -> tuple[list[str], list[list[str]]]:
    """``(order, cycles)``: every name once, upstream first, ties in the order given; each cycle found is
    listed as the steps along it, first and last the same (``[a, b, a]``). Names a step depends on that
    are not in ``names`` are ignored (the loader reports those bindings elsewhere)."""
    known = list(names)
    present = set(known)
    state: dict[str, int] = {}
    order: list[str] = []
    cycles: list[list[str]] = []
    for root in known:
        if state.get(root):
            continue
        state[root] = _ON_PATH
        path = [root]
        stack = [iter(depends_on.get(root, ()))]
        while stack:
            for dep in stack[-1]:
                if dep not in present:
                    continue
                seen = state.get(dep)
                if seen == _DONE:
                    continue
                if seen == _ON_PATH:
                    cycles.append(path[path.index(dep):] + [dep])
                    continue
                state[dep] = _ON_PATH
                path.append(dep)
                stack.append(iter(depends_on.get(dep, ())))
                break
            else:  # every upstream step of the top one is placed: place it
                stack.pop()
                name = path.pop()
                state[name] = _DONE
                order.append(name)
    return order, cycles
