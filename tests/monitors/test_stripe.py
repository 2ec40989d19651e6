from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.result import Status
from healthmon.monitors.stripe import StripeMonitor
from healthmon.sandbox.server import RunningSandbox
from tests.monitors.conftest import TRANSPORT_FAULTS, check_fault, run_monitor

M = StripeMonitor()


@pytest.fixture
def settings(bed: dict[str, Any]) -> dict[str, Any]:
    return dict(bed["services"]["stripe"])


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["http_status"] == 200 and result.latency_ms is not None


@pytest.mark.parametrize(
    ("kind", "params", "status", "error"),
    [
        ("revoked", {}, Status.UNHEALTHY, "auth"),
        ("expired", {}, Status.UNHEALTHY, "auth"),
        ("rate_limited", {}, Status.DEGRADED, "rate_limited"),
        ("http_error", {"status": 503}, Status.UNHEALTHY, "vendor_error"),
        *TRANSPORT_FAULTS,
    ],
)
async def test_faults(
    sandbox: RunningSandbox,
    settings: dict[str, Any],
    kind: str,
    params: dict[str, Any],
    status: Status,
    error: str,
) -> None:
    sandbox.state.add_fault("stripe", kind, **params)
    await check_fault(M, settings, (status, error))


async def test_expired_key_says_so(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("stripe", "expired")
    result = await run_monitor(M, settings)
    assert result.details["reason"] == "API key expired"


async def test_missing_key_is_unknown(settings: dict[str, Any]) -> None:
    settings.pop("api_key")
    result = await run_monitor(M, settings)
    assert result.status is Status.UNKNOWN and "api_key" in result.details["reason"]


async def test_wrong_key_is_rejected_without_leaking_it(settings: dict[str, Any]) -> None:
    settings["api_key"] = "sk_test_wrongwrongwrong1234"
    result = await run_monitor(M, settings)
    assert result.status is Status.UNHEALTHY and result.details["error"] == "auth"
    assert "sk_test_wrongwrongwrong1234" not in repr(result.details)
