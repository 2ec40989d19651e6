from __future__ import annotations

from typing import Any

from healthmon.monitors.result import Status
from healthmon.monitors.wise import WiseMonitor
from tests.support.vendor_cases import check_healthy, run_monitor, settings_fixture

# Wise's faults and settings: test_common_failures.py, test_bad_settings.py
M = WiseMonitor()
settings = settings_fixture(M)


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await check_healthy(M, settings)
    assert result.details["profiles"] == 2
    assert str(result.details["profile_id"]) == str(settings["profile_id"])
    assert result.details["profile_type"] == "PERSONAL"
    assert result.details["profile_state"] == "VISIBLE"


async def test_v1_shape_and_profile_id_as_text(settings: dict[str, Any]) -> None:
    settings["api_path"] = "/v1/profiles"
    settings["profile_id"] = str(settings["profile_id"])
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["profile_type"] == "PERSONAL" and result.details["profiles"] == 2


async def test_without_profile_id_any_profile_will_do(settings: dict[str, Any]) -> None:
    settings.pop("profile_id")
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert "profile_id" not in result.details
