"""One sandbox on a real loopback port for the whole session, wiped clean around each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from healthmon.sandbox import RunningSandbox, SandboxState, Tenant, start_in_thread

TENANTS = 5


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread(SandboxState.generate(TENANTS, seed=7))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def state(sandbox: RunningSandbox) -> Iterator[SandboxState]:
    sandbox.state.reset()
    yield sandbox.state
    sandbox.state.reset()


@pytest.fixture
def client(sandbox: RunningSandbox, state: SandboxState) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, timeout=5.0) as http:
        yield http


@pytest.fixture
def tenant(state: SandboxState) -> Tenant:
    return state.tenants[0]
