from __future__ import annotations

from typing import Any

import pytest

from healthmon.alerting.thresholds import defaults_for, evaluate
from healthmon.monitors.meta_ads import MetaAdsMonitor
from healthmon.monitors.result import Status
from healthmon.sandbox.server import RunningSandbox
from tests.monitors.conftest import TRANSPORT_FAULTS, assert_no_secret, check_fault, run_monitor

M = MetaAdsMonitor()
TENANT = "tenant-0001"


@pytest.fixture
def settings(bed: dict[str, Any]) -> dict[str, Any]:
    return {**bed["services"]["meta_ads"], **bed["tenants"][TENANT]["meta_ads"]}


def assert_no_url(details: dict[str, Any]) -> None:
    # the app secret rides in debug_token's query string: no URL may reach details
    assert "://" not in repr(details)


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.HEALTHY, result.details
    d = result.details
    assert (d["http_status"], d["account_status"], d["currency"]) == (200, "ACTIVE", "USD")
    assert d["rate_limit_remaining_pct"] == 97.0
    assert 54 < d["token_expires_in_days"] <= 55 and 84 < d["data_access_expires_in_days"] <= 85
    assert result.latency_ms is not None and result.latency_ms >= d["debug_token_ms"]
    assert set(d) - {"reason", "account_status", "currency"} <= set(M.metrics)


@pytest.mark.parametrize(
    ("kind", "params", "status", "error"),
    [
        ("revoked", {}, Status.UNHEALTHY, "auth"),
        ("expired", {}, Status.UNHEALTHY, "auth"),
        ("rate_limited", {}, Status.DEGRADED, "rate_limited"),
        ("rate_limited", {"code": 4}, Status.DEGRADED, "rate_limited"),
        ("rate_limited", {"code": 613}, Status.DEGRADED, "rate_limited"),
        ("rate_limited", {"code": 80004}, Status.DEGRADED, "rate_limited"),
        ("http_error", {"status": 500}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 503}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 400, "code": 200}, Status.UNHEALTHY, "auth"),
        ("http_error", {"status": 400, "code": 10}, Status.UNHEALTHY, "auth"),
        ("http_error", {"status": 400, "code": 2}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 400}, Status.UNHEALTHY, "client_error"),
        ("account_disabled", {}, Status.UNHEALTHY, "account"),
        ("account_disabled", {"account_status": 101, "disable_reason": 0}, Status.UNHEALTHY, "account"),
        ("account_disabled", {"account_status": 9, "disable_reason": 0}, Status.DEGRADED, "account"),
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
    sandbox.state.add_fault("meta_ads", kind, **params)
    result = await check_fault(M, settings, (status, error), TENANT)
    assert_no_url(result.details)


async def test_token_errors_say_which(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("meta_ads", "expired")
    expired = await run_monitor(M, settings, TENANT)
    assert (expired.details["reason"], expired.details["meta_error"]) == ("access token expired", "190/463")
    sandbox.state.reset()
    sandbox.state.add_fault("meta_ads", "revoked")
    revoked = await run_monitor(M, settings, TENANT)
    assert "revoked" in revoked.details["reason"] and revoked.details["meta_error"] == "190/467"


async def test_disabled_account_names_status_and_reason(
    sandbox: RunningSandbox, settings: dict[str, Any]
) -> None:
    sandbox.state.add_fault("meta_ads", "account_disabled", disable_reason=3)
    result = await run_monitor(M, settings, TENANT)
    assert result.details["reason"] == "ad account DISABLED (disable reason RISK_PAYMENT)"
    assert (result.details["account_status"], result.details["disable_reason"]) == (
        "DISABLED",
        "RISK_PAYMENT",
    )


async def test_rate_limited_reports_headroom_and_wait(
    sandbox: RunningSandbox, settings: dict[str, Any]
) -> None:
    sandbox.state.add_fault("meta_ads", "rate_limited", code=80004)
    result = await run_monitor(M, settings, TENANT)
    d = result.details
    assert (d["rate_limited"], d["rate_limit_remaining_pct"], d["retry_after_s"]) == (True, 0.0, 300.0)
    assert d["meta_error"] == "80004/2446079"


@pytest.mark.parametrize(("used", "final"), [(85.0, Status.DEGRADED), (95.0, Status.UNHEALTHY)])
async def test_near_limit_is_left_to_thresholds(
    sandbox: RunningSandbox, settings: dict[str, Any], used: float, final: Status
) -> None:
    sandbox.state.add_fault("meta_ads", "near_limit", pct=used)
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.HEALTHY
    assert result.details["rate_limit_remaining_pct"] == 100 - used
    assert evaluate(result, defaults_for("meta_ads")).status is final


@pytest.mark.parametrize(("days", "final"), [(3.0, Status.DEGRADED), (0.5, Status.UNHEALTHY)])
async def test_token_expiring_is_left_to_thresholds(
    sandbox: RunningSandbox, settings: dict[str, Any], days: float, final: Status
) -> None:
    sandbox.state.add_fault("meta_ads", "token_expiring", days=days)
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.HEALTHY
    assert result.details["token_expires_in_days"] == pytest.approx(days, abs=0.02)
    assert evaluate(result, defaults_for("meta_ads")).status is final


async def test_never_expiring_token_reports_no_expiry(
    settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("healthmon.sandbox.vendors.meta.TOKEN_LIFETIME_DAYS", None)
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.HEALTHY and "token_expires_in_days" not in result.details
    assert "data_access_expires_in_days" in result.details


async def test_missing_ads_read_scope(settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("healthmon.sandbox.vendors.meta.SCOPES", ("ads_management", "public_profile"))
    result = await run_monitor(M, settings, TENANT)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "auth")
    assert result.details["reason"] == "missing scope ads_read"


async def test_someone_elses_account_is_config(bed: dict[str, Any], settings: dict[str, Any]) -> None:
    settings["ad_account_id"] = bed["tenants"]["tenant-0002"]["meta_ads"]["ad_account_id"]
    result = await run_monitor(M, settings, TENANT)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "config"), result.details
    assert_no_url(result.details)


@pytest.mark.parametrize("key", ["access_token", "ad_account_id", "app_id", "app_secret"])
async def test_missing_settings_are_unknown(settings: dict[str, Any], key: str) -> None:
    settings.pop(key)
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.UNKNOWN and key in result.details["reason"]


@pytest.mark.parametrize(
    ("key", "reason"), [("access_token", "access token"), ("app_secret", "app credentials rejected")]
)
async def test_wrong_credential_is_rejected_without_leaking_it(
    settings: dict[str, Any], key: str, reason: str
) -> None:
    settings[key] = "EAABwrongwrongwrong1234"
    result = await run_monitor(M, settings, TENANT)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "auth"), result.details
    assert reason in result.details["reason"].lower()
    assert "EAABwrongwrongwrong1234" not in repr(result.details)
    assert_no_secret(result, settings)


def test_validate_tenant() -> None:
    MetaAdsMonitor.validate_tenant({"ad_account_id": "act_123456", "access_token": "EAAB1"})
    for bad in ("123456", "act_", "act_12x", "act_1 "):
        with pytest.raises(ValueError, match="ad_account_id"):
            MetaAdsMonitor.validate_tenant({"ad_account_id": bad, "access_token": "EAAB1"})
    with pytest.raises(ValueError, match="access_token"):
        MetaAdsMonitor.validate_tenant({"ad_account_id": "act_1"})
