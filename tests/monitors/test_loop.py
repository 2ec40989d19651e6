from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.loop import LoopMonitor, _error_text
from healthmon.monitors.result import Status
from healthmon.sandbox.server import RunningSandbox
from tests.monitors.conftest import TRANSPORT_FAULTS, check_fault, run_monitor

M = LoopMonitor()


@pytest.fixture
def settings(bed: dict[str, Any]) -> dict[str, Any]:
    return dict(bed["services"]["loop"])


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["http_status"] == 200 and result.latency_ms is not None
    assert "rate_limit_remaining_pct" not in result.details  # the sandbox sends no such headers


@pytest.mark.parametrize(
    ("kind", "params", "status", "error"),
    [
        ("revoked", {}, Status.UNHEALTHY, "auth"),
        ("expired", {}, Status.UNHEALTHY, "auth"),
        ("rate_limited", {}, Status.DEGRADED, "rate_limited"),
        ("error_in_200", {}, Status.UNHEALTHY, "auth"),
        ("error_in_200", {"message": "Server Error"}, Status.UNHEALTHY, "vendor_error"),
        ("error_in_200", {"message": "Too Many Attempts."}, Status.DEGRADED, "rate_limited"),
        ("http_error", {"status": 500}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 503}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 422}, Status.UNHEALTHY, "client_error"),
        ("http_error", {"status": 400, "error": "Unauthorized."}, Status.UNHEALTHY, "auth"),
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
    sandbox.state.add_fault("loop", kind, **params)
    await check_fault(M, settings, (status, error))


async def test_error_in_200_names_the_vendor_words(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("loop", "error_in_200")
    result = await run_monitor(M, settings)
    assert result.details["http_status"] == 200
    assert result.details["reason"] == "API key rejected: Unauthorized."


async def test_rate_limit_carries_retry_after(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("loop", "rate_limited", retry_after=30)
    result = await run_monitor(M, settings)
    assert result.details["retry_after_s"] == 30.0 and result.details["rate_limited"] is True
    assert result.details["reason"] == "Too Many Attempts."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized"}},
            "Unauthorized",
        ),
        ({"error": {"http_code": "GEN-UNAUTHORIZED"}}, "GEN-UNAUTHORIZED"),
        ({"errors": "Unauthorized."}, "Unauthorized."),
        ({"errors": {"message": "Return not found"}}, "Return not found"),
        ({"errors": [{"message": "Invalid cursor"}]}, "Invalid cursor"),
        ({"errors": ["Unauthorized."]}, "Unauthorized."),
        (
            {"message": "The given data was invalid.", "errors": {"pageSize": ["bad"]}},
            "The given data was invalid.",
        ),
        ({"message": "Server Error"}, "Server Error"),
        ({"returns": [], "nextCursor": None}, None),
        ({"returns": [], "errors": []}, None),
        ([], None),
        (None, None),
    ],
)
def test_every_error_envelope_is_read(body: Any, message: str | None) -> None:
    assert _error_text(body) == message


async def test_missing_key_is_unknown(settings: dict[str, Any]) -> None:
    settings.pop("api_key")
    result = await run_monitor(M, settings)
    assert result.status is Status.UNKNOWN and "api_key" in result.details["reason"]


async def test_wrong_key_is_rejected_without_leaking_it(settings: dict[str, Any]) -> None:
    settings["api_key"] = "loop_wrongwrongwrong1234"
    result = await run_monitor(M, settings)
    assert result.status is Status.UNHEALTHY and result.details["error"] == "auth"
    assert result.details["http_status"] == 401
    assert "loop_wrongwrongwrong1234" not in repr(result.details)
