from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.yotpo import YotpoMonitor
from healthmon.sandbox.server import RunningSandbox
from healthmon.sandbox.vendors.yotpo import Yotpo
from tests.support.vendor_cases import check_healthy, run_monitor, settings_fixture

# Yotpo's faults and settings: test_common_failures.py, test_bad_settings.py
M = YotpoMonitor()
settings = settings_fixture(M)


async def test_healthy(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    result = await check_healthy(M, settings)
    assert result.details["token_ms"] > 0
    assert result.details["rate_limit_remaining"] == 4.0
    # no limit header, so no percentage is guessed
    assert "rate_limit_remaining_pct" not in result.details
    # minted during the check, so not among the target's secrets: the monitor alone keeps it out
    assert sandbox.state.platform.yotpo_access_token not in repr(result.details)


async def test_limit_header_gives_a_percentage(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any]
) -> None:
    monkeypatch.setattr(Yotpo, "send_limit_header", True)
    result = await run_monitor(M, settings)
    assert result.details["rate_limit_remaining_pct"] == 80.0
