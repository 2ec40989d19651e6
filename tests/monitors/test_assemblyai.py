from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.assemblyai import AssemblyAIMonitor
from healthmon.monitors.result import Status
from healthmon.sandbox.server import RunningSandbox
from healthmon.sandbox.vendors.assemblyai import AssemblyAI
from tests.monitors.conftest import TRANSPORT_FAULTS, check_fault, run_monitor

M = AssemblyAIMonitor()


@pytest.fixture
def settings(bed: dict[str, Any]) -> dict[str, Any]:
    return dict(bed["services"]["assemblyai"])


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["http_status"] == 200 and result.latency_ms is not None
    assert result.details["latest_transcript_error"] is False


@pytest.mark.parametrize(
    ("kind", "params", "status", "error"),
    [
        ("revoked", {}, Status.UNHEALTHY, "auth"),
        ("expired", {}, Status.UNHEALTHY, "auth"),
        ("balance_negative", {}, Status.UNHEALTHY, "account"),
        ("rate_limited", {}, Status.DEGRADED, "rate_limited"),
        ("http_error", {"status": 500}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 503}, Status.UNHEALTHY, "vendor_error"),
        (
            "http_error",
            {"status": 400, "error": "limit must be an integer"},
            Status.UNHEALTHY,
            "client_error",
        ),
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
    sandbox.state.add_fault("assemblyai", kind, **params)
    await check_fault(M, settings, (status, error))


async def test_negative_balance_says_so(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("assemblyai", "balance_negative")
    result = await run_monitor(M, settings)
    assert result.details["reason"] == "account balance is negative"
    assert result.details["http_status"] == 400


async def test_rate_limited_reports_retry_after(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("assemblyai", "rate_limited", retry_after=5)
    result = await run_monitor(M, settings)
    assert result.details["retry_after_s"] == 5.0 and result.details["rate_limited"] is True


async def test_failed_transcript_is_reported_not_judged(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any]
) -> None:
    monkeypatch.setattr(AssemblyAI, "latest_status", "error")
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY
    assert result.details["latest_transcript_error"] is True
    # the transcript's own error text can quote customer audio URLs: it stays out
    assert "example.invalid" not in repr(result.details)


async def test_missing_key_is_unknown(settings: dict[str, Any]) -> None:
    settings.pop("api_key")
    result = await run_monitor(M, settings)
    assert result.status is Status.UNKNOWN and "api_key" in result.details["reason"]


async def test_wrong_key_is_rejected_without_leaking_it(settings: dict[str, Any]) -> None:
    settings["api_key"] = "wrongwrongwrongassemblykey"
    result = await run_monitor(M, settings)
    assert result.status is Status.UNHEALTHY and result.details["error"] == "auth"
    assert "wrongwrongwrongassemblykey" not in repr(result.details)
