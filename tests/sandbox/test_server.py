"""start_in_thread / stop and the server settings."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from healthmon.sandbox import SandboxState, create_app, start_in_thread
from healthmon.sandbox.server import uvicorn_config


def test_two_sandboxes_get_their_own_free_ports() -> None:
    with (
        start_in_thread(SandboxState.generate(1)) as one,
        start_in_thread(SandboxState.generate(1, seed=5)) as two,
    ):
        assert one.port != two.port
        assert httpx.get(f"{one.base_url}/_sandbox/health").json() == {"ok": True, "tenants": 1}
        assert (
            httpx.get(f"{two.base_url}/_sandbox/platform").json()["stripe_key"]
            == two.state.platform.stripe_key
        )
    two.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{one.base_url}/_sandbox/health")


def test_stop_frees_hung_requests_at_once() -> None:
    running = start_in_thread(SandboxState.generate(1))
    running.state.add_fault("stripe", "hang")
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            httpx.get(f"{running.base_url}/stripe/v1/balance", timeout=30)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 2
    while running.state.stats()["total"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    running.stop()
    caller.join(30)
    assert not caller.is_alive()  # stop() ended the call in flight instead of waiting on it
    assert isinstance(outcome[0], httpx.RemoteProtocolError)


def test_config_is_tuned_for_throughput() -> None:
    config = uvicorn_config(create_app(SandboxState.generate(0)), "127.0.0.1", 0)
    assert config.access_log is False
    assert config.log_level == "warning"
    assert config.http == "httptools"
    assert config.loop in ("uvloop", "asyncio")
