from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.result import Status
from healthmon.monitors.tiktok_ads import TikTokAdsMonitor
from healthmon.sandbox.server import RunningSandbox
from tests.monitors.conftest import TRANSPORT_FAULTS, assert_no_secret, check_fault, run_monitor

M = TikTokAdsMonitor()
TENANT = "tenant-0001"


@pytest.fixture
def settings(bed: dict[str, Any]) -> dict[str, Any]:
    return {**bed["services"]["tiktok_ads"], **bed["tenants"][TENANT]["tiktok_ads"]}


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.HEALTHY, result.details
    d = result.details
    assert (d["http_status"], d["advertiser_status"], d["currency"], d["balance"]) == (
        200,
        "STATUS_ENABLE",
        "USD",
        1234.56,
    )
    assert result.latency_ms is not None


@pytest.mark.parametrize(
    ("kind", "params", "status", "error"),
    [
        ("revoked", {}, Status.UNHEALTHY, "auth"),
        ("expired", {}, Status.UNHEALTHY, "auth"),
        ("rate_limited", {}, Status.DEGRADED, "rate_limited"),
        ("http_error", {"code": 40101}, Status.UNHEALTHY, "auth"),
        ("http_error", {"code": 40104}, Status.UNHEALTHY, "auth"),
        ("http_error", {"code": 40001}, Status.UNHEALTHY, "client_error"),
        ("http_error", {"code": 40002}, Status.UNHEALTHY, "client_error"),
        ("http_error", {"code": 50000}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"code": 51001}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 500}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 503}, Status.UNHEALTHY, "vendor_error"),
        ("advertiser_disabled", {}, Status.UNHEALTHY, "account"),
        ("advertiser_disabled", {"status": "STATUS_LIMIT"}, Status.UNHEALTHY, "account"),
        ("advertiser_disabled", {"status": "STATUS_PENDING_CONFIRM"}, Status.DEGRADED, "account"),
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
    sandbox.state.add_fault("tiktok_ads", kind, **params)
    await check_fault(M, settings, (status, error), TENANT)


@pytest.mark.parametrize(
    ("kind", "code", "reason"),
    [
        ("revoked", "40105", "access token incorrect or revoked"),
        ("expired", "40102", "access token expired"),
        ("rate_limited", "40100", "Too many requests. Please retry in some time."),
    ],
)
async def test_codes_in_http_200_are_named(
    sandbox: RunningSandbox, settings: dict[str, Any], kind: str, code: str, reason: str
) -> None:
    sandbox.state.add_fault("tiktok_ads", kind)
    result = await run_monitor(M, settings, TENANT)
    d = result.details
    assert (d["http_status"], d["tiktok_code"], d["reason"]) == (200, code, reason)


async def test_disabled_advertiser_names_status(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("tiktok_ads", "advertiser_disabled")
    result = await run_monitor(M, settings, TENANT)
    assert result.details["reason"] == "advertiser STATUS_DISABLE"
    assert result.details["advertiser_status"] == "STATUS_DISABLE"


async def test_unauthorised_advertiser_is_config(settings: dict[str, Any]) -> None:
    settings["advertiser_id"] = "123"
    result = await run_monitor(M, settings, TENANT)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "config"), result.details
    assert "123" in result.details["reason"]


async def test_another_tenants_advertiser_is_refused(bed: dict[str, Any], settings: dict[str, Any]) -> None:
    settings["advertiser_id"] = bed["tenants"]["tenant-0002"]["tiktok_ads"]["advertiser_id"]
    result = await run_monitor(M, settings, TENANT)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "client_error")
    assert result.details["tiktok_code"] == "40001"


@pytest.mark.parametrize("key", ["advertiser_id", "access_token"])
async def test_missing_settings_are_unknown(settings: dict[str, Any], key: str) -> None:
    settings.pop(key)
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.UNKNOWN and key in result.details["reason"]


async def test_wrong_token_is_rejected_without_leaking_it(settings: dict[str, Any]) -> None:
    settings["access_token"] = "wrongwrongwrongwrong1234"
    result = await run_monitor(M, settings, TENANT)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "auth")
    assert "wrongwrongwrongwrong1234" not in repr(result.details)
    assert_no_secret(result, settings)


def test_validate_tenant() -> None:
    for good in ("7012345678901234567", 7012345678901234567):
        TikTokAdsMonitor.validate_tenant({"advertiser_id": good, "access_token": "t"})
    for bad in ("act_1", "12a", "-1"):
        with pytest.raises(ValueError, match="advertiser_id"):
            TikTokAdsMonitor.validate_tenant({"advertiser_id": bad, "access_token": "t"})
    with pytest.raises(ValueError, match="access_token"):
        TikTokAdsMonitor.validate_tenant({"advertiser_id": "1"})
