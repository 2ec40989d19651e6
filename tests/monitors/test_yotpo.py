from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.result import CheckResult, Status
from healthmon.monitors.yotpo import YotpoMonitor
from healthmon.sandbox.server import RunningSandbox
from healthmon.sandbox.vendors.yotpo import Yotpo
from tests.monitors.conftest import TRANSPORT_FAULTS, check_fault, run_monitor

M = YotpoMonitor()


@pytest.fixture
def settings(bed: dict[str, Any]) -> dict[str, Any]:
    return dict(bed["services"]["yotpo"])


def assert_no_access_token(result: CheckResult, sandbox: RunningSandbox) -> None:
    # minted during the check, so not among the target's secrets: the monitor alone keeps it out
    assert sandbox.state.platform.yotpo_access_token not in repr(result.details)


async def test_healthy(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["http_status"] == 200 and result.latency_ms is not None
    assert result.details["token_ms"] > 0
    assert result.details["rate_limit_remaining"] == 4.0
    # no limit header, so no percentage is guessed
    assert "rate_limit_remaining_pct" not in result.details
    assert_no_access_token(result, sandbox)


async def test_limit_header_gives_a_percentage(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any]
) -> None:
    monkeypatch.setattr(Yotpo, "send_limit_header", True)
    result = await run_monitor(M, settings)
    assert result.details["rate_limit_remaining_pct"] == 80.0


@pytest.mark.parametrize(
    ("kind", "params", "status", "error"),
    [
        ("revoked", {}, Status.UNHEALTHY, "auth"),
        ("expired", {}, Status.UNHEALTHY, "auth"),
        ("rate_limited", {}, Status.DEGRADED, "rate_limited"),
        ("http_error", {"status": 403}, Status.UNHEALTHY, "auth"),
        ("http_error", {"status": 500}, Status.UNHEALTHY, "vendor_error"),
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
    sandbox.state.add_fault("yotpo", kind, **params)
    result = await check_fault(M, settings, (status, error))
    assert_no_access_token(result, sandbox)


@pytest.mark.parametrize(
    ("kind", "params", "step"),
    [
        ("rate_limited", {"retry_after": 2}, "token"),
        ("http_error", {"status": 502}, "token"),
        ("expired", {}, "products"),
    ],
)
async def test_fault_names_the_step(
    sandbox: RunningSandbox, settings: dict[str, Any], kind: str, params: dict[str, Any], step: str
) -> None:
    sandbox.state.add_fault("yotpo", kind, **params)
    result = await run_monitor(M, settings)
    assert result.details["step"] == step, result.details


async def test_expired_token_says_so(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("yotpo", "expired")
    result = await run_monitor(M, settings)
    assert result.details["reason"].startswith("fresh access token rejected")
    assert "token_ms" in result.details
    assert_no_access_token(result, sandbox)


async def test_revoked_secret_says_so(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("yotpo", "revoked")
    result = await run_monitor(M, settings)
    assert (result.details["reason"], result.details["step"]) == ("secret rejected", "token")


async def test_unknown_store_is_config(settings: dict[str, Any]) -> None:
    settings["store_id"] = "nosuchstore"
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "config")


@pytest.mark.parametrize("key", ["store_id", "secret"])
async def test_missing_setting_is_unknown(settings: dict[str, Any], key: str) -> None:
    settings.pop(key)
    result = await run_monitor(M, settings)
    assert result.status is Status.UNKNOWN and key in result.details["reason"]


async def test_wrong_secret_is_rejected_without_leaking_it(settings: dict[str, Any]) -> None:
    settings["secret"] = "wrongwrongwrongyotposecret"
    result = await run_monitor(M, settings)
    assert result.status is Status.UNHEALTHY and result.details["error"] == "auth"
    assert "wrongwrongwrongyotposecret" not in repr(result.details)
