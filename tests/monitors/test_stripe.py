from __future__ import annotations

from typing import Any

from healthmon.monitors.stripe import StripeMonitor
from tests.support.vendor_cases import check_healthy, settings_fixture

# Stripe's faults and settings: test_common_failures.py, test_bad_settings.py
M = StripeMonitor()
settings = settings_fixture(M)


async def test_healthy(settings: dict[str, Any]) -> None:
    await check_healthy(M, settings)
