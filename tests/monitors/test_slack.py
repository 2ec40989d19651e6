from __future__ import annotations

from typing import Any

from healthmon.alerting.thresholds import defaults_for, evaluate
from healthmon.monitors.result import Status
from healthmon.monitors.slack import SlackMonitor
from tests.support.vendor_cases import check_healthy, run_monitor, settings_fixture

# Slack's faults and settings: test_common_failures.py, test_bad_settings.py
M = SlackMonitor()
settings = settings_fixture(M)


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await check_healthy(M, settings)
    assert (result.details["team"], result.details["bot_id"]) == ("Healthmon Sandbox", "B000SANDBOX")
    assert result.details["scopes"] == ["channels:read", "chat:write"]
    assert "token_expires_in_days" not in result.details


async def test_rotating_token_reports_its_expiry(settings: dict[str, Any]) -> None:
    settings["bot_token"] = f"xoxe.{settings['bot_token']}"
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["token_expires_in_days"] == 0.5
    # 12 hours is inside the default "unhealthy <= 1 day" rule: a static rotating token in the
    # config stops working before the next day's checks.
    assert evaluate(result, defaults_for("slack")).status is Status.UNHEALTHY
