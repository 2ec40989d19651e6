from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.google_ads import GoogleAdsMonitor
from healthmon.monitors.result import Status
from healthmon.sandbox.server import RunningSandbox
from tests.monitors.conftest import assert_no_secret, check_fault, run_monitor

M = GoogleAdsMonitor()
TENANT = "tenant-0001"


@pytest.fixture
def settings(bed: dict[str, Any]) -> dict[str, Any]:
    return {**bed["services"]["google_ads"], **bed["tenants"][TENANT]["google_ads"]}


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.HEALTHY, result.details
    d = result.details
    assert (d["http_status"], d["accessible_customers"]) == (200, 2)
    assert d["token_refresh_ms"] > 0 and result.latency_ms is not None
    assert set(d) <= set(M.metrics)


async def test_dashed_customer_id_and_no_developer_token(settings: dict[str, Any]) -> None:
    cid = settings["customer_id"]
    settings["customer_id"] = f"{cid[:3]}-{cid[3:6]}-{cid[6:]}"
    settings.pop("developer_token")
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.HEALTHY, result.details


@pytest.mark.parametrize(
    ("service", "kind", "params", "status", "error"),
    [
        ("google_ads", "revoked", {}, Status.UNHEALTHY, "auth"),
        ("google_ads", "expired", {}, Status.UNHEALTHY, "auth"),
        ("google_ads", "rate_limited", {}, Status.DEGRADED, "rate_limited"),
        ("google_ads", "customer_missing", {}, Status.UNHEALTHY, "config"),
        ("google_ads", "http_error", {"status": 500}, Status.UNHEALTHY, "vendor_error"),
        ("google_ads", "http_error", {"status": 503}, Status.UNHEALTHY, "vendor_error"),
        ("google_ads", "http_error", {"status": 403}, Status.UNHEALTHY, "auth"),
        ("google_ads", "http_error", {"status": 400}, Status.UNHEALTHY, "client_error"),
        ("google_ads", "malformed_json", {}, Status.UNHEALTHY, "bad_body"),
        ("google_ads", "oversize", {"bytes": 3_000_000}, Status.UNHEALTHY, "oversize"),
        ("google_ads", "reset", {}, Status.UNHEALTHY, "reset"),
        ("google_ads", "hang", {}, Status.UNHEALTHY, "timeout"),
        ("google_oauth", "http_error", {"status": 500}, Status.UNHEALTHY, "vendor_error"),
        ("google_oauth", "http_error", {"status": 429}, Status.DEGRADED, "rate_limited"),
        ("google_oauth", "malformed_json", {}, Status.UNHEALTHY, "bad_body"),
        ("google_oauth", "reset", {}, Status.UNHEALTHY, "reset"),
        ("google_oauth", "hang", {}, Status.UNHEALTHY, "timeout"),
    ],
)
async def test_faults(
    sandbox: RunningSandbox,
    settings: dict[str, Any],
    service: str,
    kind: str,
    params: dict[str, Any],
    status: Status,
    error: str,
) -> None:
    sandbox.state.add_fault(service, kind, **params)
    result = await check_fault(M, settings, (status, error), TENANT)
    assert "ya29." not in repr(result.details)


async def test_revoked_refresh_token_says_so(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("google_ads", "revoked")
    result = await run_monitor(M, settings, TENANT)
    assert result.details["reason"] == "refresh token expired or revoked"
    assert (result.details["step"], result.details["oauth_error"]) == ("token_refresh", "invalid_grant")


async def test_expired_access_token_says_so(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("google_ads", "expired")
    result = await run_monitor(M, settings, TENANT)
    assert result.details["reason"] == "access token expired (OAUTH_TOKEN_EXPIRED)"
    assert result.details["google_error"] == "OAUTH_TOKEN_EXPIRED"


@pytest.mark.parametrize(("retry_after", "wait"), [(None, 30.0), (12.0, 12.0)])
async def test_quota_reports_retry_delay(
    sandbox: RunningSandbox, settings: dict[str, Any], retry_after: float | None, wait: float
) -> None:
    sandbox.state.add_fault("google_ads", "rate_limited", retry_after=retry_after)
    result = await run_monitor(M, settings, TENANT)
    d = result.details
    assert (d["rate_limited"], d["retry_after_s"], d["http_status"]) == (True, wait, 429)
    assert d["google_error"] == "RESOURCE_TEMPORARILY_EXHAUSTED"


async def test_missing_customer_names_it(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("google_ads", "customer_missing")
    result = await run_monitor(M, settings, TENANT)
    cid = settings["customer_id"]
    assert f"{cid[:3]}-{cid[3:6]}-{cid[6:]}" in result.details["reason"]
    assert result.details["accessible_customers"] == 1


@pytest.mark.parametrize("key", ["customer_id", "refresh_token", "client_id", "client_secret"])
async def test_missing_settings_are_unknown(settings: dict[str, Any], key: str) -> None:
    settings.pop(key)
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.UNKNOWN and key in result.details["reason"]


@pytest.mark.parametrize(
    ("key", "value", "oauth_error"),
    [
        ("refresh_token", "1//0wrongwrongwrongwrong1234", "invalid_grant"),
        ("client_secret", "GOCSPX-wrongwrongwrong1234", "invalid_client"),
    ],
)
async def test_wrong_credential_is_rejected_without_leaking_it(
    settings: dict[str, Any], key: str, value: str, oauth_error: str
) -> None:
    settings[key] = value
    result = await run_monitor(M, settings, TENANT)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "auth"), result.details
    assert result.details["oauth_error"] == oauth_error
    assert value not in repr(result.details)
    assert_no_secret(result, settings)


def test_validate_tenant() -> None:
    for good in ("1234567890", "123-456-7890", 1234567890):
        GoogleAdsMonitor.validate_tenant({"customer_id": good, "refresh_token": "1//0x"})
    for bad in ("123456789", "12345678901", "123-456-789x"):
        with pytest.raises(ValueError, match="customer_id"):
            GoogleAdsMonitor.validate_tenant({"customer_id": bad, "refresh_token": "1//0x"})
    with pytest.raises(ValueError, match="refresh_token"):
        GoogleAdsMonitor.validate_tenant({"customer_id": "1234567890"})
