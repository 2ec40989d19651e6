from __future__ import annotations

from typing import Any

from healthmon.monitors.mux import MuxMonitor
from tests.support.vendor_cases import check_healthy, settings_fixture

# Mux's faults, settings and failed jobs: test_common_failures.py, test_bad_settings.py
M = MuxMonitor()
settings = settings_fixture(M)


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await check_healthy(M, settings)
    assert result.details["rate_limit_remaining_pct"] == 99.0
    assert result.details["latest_asset_errored"] is False
