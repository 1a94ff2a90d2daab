"""Which fakes a test started, so that a request a fake recorded as a violation fails the test at teardown.

A fake answers a request that breaks the service's rules with the error the service would give, and records
it in ``violations``. A test that means to send one says so (``fake.expect_violation("text")``); every other
violation, and every expected one that never came, fails the test (``tests/conftest.py``, an autouse fixture).
A fake is the test's that started it: start fakes per test (function-scoped fixtures), not per module.
"""

from __future__ import annotations

from typing import Protocol


class Watched(Protocol):
    def violation_report(self) -> str | None: ...


_started: list[Watched] = []


def started(fake: Watched) -> None:
    _started.append(fake)


def take() -> list[Watched]:
    """The fakes started since the last call (the current test's)."""
    fakes = list(_started)
    _started.clear()
    return fakes


def report(name: str, violations: list[str], expected: list[str]) -> str | None:
    """What is wrong with a fake's record: violations no test expected, and expected ones that never happened."""
    unexpected = [v for v in violations if not any(e in v for e in expected)]
    missing = [e for e in expected if not any(e in v for v in violations)]
    if not unexpected and not missing:
        return None
    lines = [f"{name} recorded requests the service would refuse: {unexpected}"] if unexpected else []
    lines += [f"{name}: the test expected a violation containing {e!r}, and none was recorded" for e in missing]
    return "\n".join(lines)
