from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.inngest import InngestMonitor
from healthmon.monitors.result import Status
from healthmon.sandbox.server import RunningSandbox
from tests.support.vendor_cases import check_healthy, run_monitor, settings_fixture

# Inngest's faults and settings: test_common_failures.py, test_bad_settings.py
M = InngestMonitor()
settings = settings_fixture(M)


async def test_healthy(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    before = sandbox.state.requests_for("inngest")
    d = (await check_healthy(M, settings)).details
    assert (d["failed_runs"], d["failed_functions"], d["failed_runs_capped"]) == (0, 0, False)
    assert d["window_s"] == 3600 and d["failed_function_ids"] == []
    assert sandbox.state.requests_for("inngest") - before == 2


async def test_failures_are_counted_not_judged(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("inngest", "failed_jobs", count=5)
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    d = result.details
    assert (d["failed_runs"], d["failed_functions"]) == (5, 1)
    assert d["failed_function_ids"] == ["healthmon-sandbox-sync-orders"]


@pytest.mark.parametrize(("window_s", "expected"), [(None, 4), (3600, 4), (1500, 2), (60, 1)])
async def test_only_failures_inside_the_window_count(
    sandbox: RunningSandbox, settings: dict[str, Any], window_s: int | None, expected: int
) -> None:
    # failures now, 1000 s, 2000 s, 3000 s and 4000 s ago
    sandbox.state.add_fault("inngest", "failed_jobs", count=5, spacing_s=1000)
    if window_s is not None:
        settings["failed_window_s"] = window_s
    result = await run_monitor(M, settings)
    assert result.details["failed_runs"] == expected
    assert result.details["window_s"] == (window_s or 3600)


async def test_a_full_page_is_reported_as_capped(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("inngest", "failed_jobs", count=150, spacing_s=1)
    result = await run_monitor(M, settings)
    assert (result.details["failed_runs"], result.details["failed_runs_capped"]) == (100, True)


async def test_branch_env_header_does_not_break_the_check(settings: dict[str, Any]) -> None:
    settings["env"] = "feature-branch"
    assert (await run_monitor(M, settings)).status is Status.HEALTHY
