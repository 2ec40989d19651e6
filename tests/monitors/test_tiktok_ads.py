from __future__ import annotations

from typing import Any

from healthmon.monitors.result import Status
from healthmon.monitors.tiktok_ads import TikTokAdsMonitor
from tests.support.vendor_cases import check_healthy, run_monitor, settings_fixture

# TikTok's faults, settings and tenant entries: test_common_failures.py, test_bad_settings.py
M = TikTokAdsMonitor()
settings = settings_fixture(M)


async def test_healthy(settings: dict[str, Any]) -> None:
    d = (await check_healthy(M, settings)).details
    assert (d["advertiser_status"], d["currency"], d["balance"]) == ("STATUS_ENABLE", "USD", 1234.56)


async def test_another_tenants_advertiser_is_refused(bed: dict[str, Any], settings: dict[str, Any]) -> None:
    settings["advertiser_id"] = bed["tenants"]["tenant-0002"]["tiktok_ads"]["advertiser_id"]
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "client_error")
    assert result.details["tiktok_code"] == "40001"
