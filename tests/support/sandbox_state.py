"""A sandbox shared by many tests, and the state each test gets of it."""

from __future__ import annotations

from collections.abc import Iterator

from healthmon.sandbox import RunningSandbox, SandboxState


def fresh_state(sandbox: RunningSandbox) -> Iterator[SandboxState]:
    """`sandbox`'s state, wiped before the test and after it: the sandbox outlives the test, and
    one test's faults and recorded requests must never reach the next."""
    sandbox.state.reset()
    yield sandbox.state
    sandbox.state.reset()
