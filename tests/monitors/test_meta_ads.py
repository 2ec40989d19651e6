from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.meta_ads import MetaAdsMonitor
from healthmon.monitors.result import Status
from tests.support.vendor_cases import check_healthy, run_monitor, settings_fixture

# Meta's faults, settings and tenant entries: test_common_failures.py, test_bad_settings.py
M = MetaAdsMonitor()
settings = settings_fixture(M)


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await check_healthy(M, settings)
    d = result.details
    assert (d["account_status"], d["currency"]) == ("ACTIVE", "USD")
    assert d["rate_limit_remaining_pct"] == 97.0
    assert 54 < d["token_expires_in_days"] <= 55 and 84 < d["data_access_expires_in_days"] <= 85
    assert result.latency_ms is not None and result.latency_ms >= d["debug_token_ms"]
    assert set(d) - {"reason", "account_status", "currency"} <= set(M.metrics)


async def test_never_expiring_token_reports_no_expiry(
    settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("healthmon.sandbox.vendors.meta.TOKEN_LIFETIME_DAYS", None)
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY and "token_expires_in_days" not in result.details
    assert "data_access_expires_in_days" in result.details


async def test_missing_ads_read_scope(settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("healthmon.sandbox.vendors.meta.SCOPES", ("ads_management", "public_profile"))
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "auth")
    assert result.details["reason"] == "missing scope ads_read"


async def test_someone_elses_account_is_config(bed: dict[str, Any], settings: dict[str, Any]) -> None:
    settings["ad_account_id"] = bed["tenants"]["tenant-0002"]["meta_ads"]["ad_account_id"]
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "config"), result.details
    # the app secret rides in debug_token's query string: no URL may reach details
    assert "://" not in repr(result.details)
