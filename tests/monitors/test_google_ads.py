from __future__ import annotations

from typing import Any

from healthmon.monitors.google_ads import GoogleAdsMonitor
from healthmon.monitors.result import Status
from healthmon.sandbox.server import RunningSandbox
from tests.support.vendor_cases import check_healthy, run_monitor, settings_fixture

# Google Ads' faults, settings and tenant entries: test_common_failures.py, test_bad_settings.py
M = GoogleAdsMonitor()
settings = settings_fixture(M)


async def test_healthy(settings: dict[str, Any]) -> None:
    d = (await check_healthy(M, settings)).details
    assert d["accessible_customers"] == 2
    assert d["token_refresh_ms"] > 0
    assert set(d) <= set(M.metrics)


async def test_dashed_customer_id_and_no_developer_token(settings: dict[str, Any]) -> None:
    cid = settings["customer_id"]
    settings["customer_id"] = f"{cid[:3]}-{cid[3:6]}-{cid[6:]}"
    settings.pop("developer_token")
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details


async def test_missing_customer_names_it(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("google_ads", "customer_missing")
    result = await run_monitor(M, settings)
    cid = settings["customer_id"]
    assert f"{cid[:3]}-{cid[3:6]}-{cid[6:]}" in result.details["reason"]
    assert result.details["accessible_customers"] == 1
