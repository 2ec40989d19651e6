from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.result import Status
from healthmon.monitors.wise import WiseMonitor
from healthmon.sandbox.server import RunningSandbox
from tests.monitors.conftest import check_fault, run_monitor

M = WiseMonitor()


@pytest.fixture
def settings(bed: dict[str, Any]) -> dict[str, Any]:
    return dict(bed["services"]["wise"])


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["http_status"] == 200 and result.latency_ms is not None
    assert result.details["profiles"] == 2
    assert str(result.details["profile_id"]) == str(settings["profile_id"])
    assert result.details["profile_type"] == "PERSONAL"
    assert result.details["profile_state"] == "VISIBLE"


async def test_v1_shape_and_profile_id_as_text(settings: dict[str, Any]) -> None:
    settings["api_path"] = "/v1/profiles"
    settings["profile_id"] = str(settings["profile_id"])
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["profile_type"] == "PERSONAL" and result.details["profiles"] == 2


async def test_without_profile_id_any_profile_will_do(settings: dict[str, Any]) -> None:
    settings.pop("profile_id")
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert "profile_id" not in result.details


@pytest.mark.parametrize(
    ("kind", "params", "status", "error"),
    [
        ("revoked", {}, Status.UNHEALTHY, "auth"),
        ("expired", {}, Status.UNHEALTHY, "auth"),
        ("rate_limited", {}, Status.DEGRADED, "rate_limited"),
        ("http_error", {"status": 500}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 503}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 422, "error": "Invalid profile"}, Status.UNHEALTHY, "client_error"),
        ("http_error", {"status": 403, "error": "Missing scope"}, Status.UNHEALTHY, "auth"),
        ("http_error", {"status": 403}, Status.UNHEALTHY, "auth"),
        ("profile_deactivated", {}, Status.UNHEALTHY, "account"),
        ("malformed_json", {}, Status.UNHEALTHY, "bad_body"),
        ("oversize", {"bytes": 3_000_000}, Status.UNHEALTHY, "oversize"),
        ("reset", {}, Status.UNHEALTHY, "reset"),
        ("reset", {"mode": "close"}, Status.UNHEALTHY, "reset"),
        ("hang", {}, Status.UNHEALTHY, "timeout"),
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
    sandbox.state.add_fault("wise", kind, **params)
    await check_fault(M, settings, (status, error))


async def test_vendor_messages_are_read(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("wise", "expired")
    assert (await run_monitor(M, settings)).details["reason"] == "Access token expired"
    sandbox.state.add_fault("wise", "http_error", status=422, error="Invalid profile")
    refused = await run_monitor(M, settings)
    assert (refused.details["reason"], refused.details["http_status"]) == ("Invalid profile", 422)


async def test_sca_challenge_says_so(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("wise", "http_error", status=403)
    result = await run_monitor(M, settings)
    assert result.details["reason"] == "strong customer authentication required"
    assert result.details["sca_result"] == "REJECTED"


async def test_rate_limit_without_retry_after_and_with_it(
    sandbox: RunningSandbox, settings: dict[str, Any]
) -> None:
    sandbox.state.add_fault("wise", "rate_limited")
    bare = await run_monitor(M, settings)
    assert bare.details["rate_limited"] is True and "retry_after_s" not in bare.details
    sandbox.state.add_fault("wise", "rate_limited", retry_after=3)
    timed = await run_monitor(M, settings)
    assert timed.details["retry_after_s"] == 3.0


async def test_deactivated_names_the_state(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("wise", "profile_deactivated")
    result = await run_monitor(M, settings)
    assert "DEACTIVATED" in result.details["reason"]
    assert result.details["profile_state"] == "DEACTIVATED" and result.details["profiles_deactivated"] == 2


async def test_profile_not_listed_is_config(settings: dict[str, Any]) -> None:
    settings["profile_id"] = 1
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "config")
    assert "1" in result.details["reason"]


async def test_missing_token_is_unknown(settings: dict[str, Any]) -> None:
    settings.pop("api_token")
    result = await run_monitor(M, settings)
    assert result.status is Status.UNKNOWN and "api_token" in result.details["reason"]


async def test_wrong_token_is_rejected_without_leaking_it(settings: dict[str, Any]) -> None:
    settings["api_token"] = "0123456789abcdefwrongwrong"
    result = await run_monitor(M, settings)
    assert result.status is Status.UNHEALTHY and result.details["error"] == "auth"
    assert "0123456789abcdefwrongwrong" not in repr(result.details)
