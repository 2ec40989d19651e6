from __future__ import annotations

from typing import Any

import httpx
import pytest

from healthmon.monitors.base import Target
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import CheckResult, Status
from healthmon.monitors.runner import RunPolicy, run_check
from healthmon.monitors.vercel import VercelMonitor
from healthmon.sandbox.server import RunningSandbox
from tests.support.vendor_cases import assert_no_secret, check_healthy, run_monitor, secrets, settings_fixture

# Vercel's faults and settings: test_common_failures.py, test_bad_settings.py
M = VercelMonitor()
settings = settings_fixture(M)


async def test_healthy(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    result = await check_healthy(M, settings)
    d = result.details
    assert d["deployment_state"] == "READY"
    assert d["deployment_age_min"] == pytest.approx(60, abs=1)
    assert d["deployment_url"].endswith(".vercel.app")
    assert 90 < d["rate_limit_remaining_pct"] <= 100
    assert_no_secret(result, settings)


async def test_token_only_without_project(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    settings.pop("project_id")
    result, urls = await _run_recording(settings)
    assert result.status is Status.HEALTHY, result.details
    assert "deployment_state" not in result.details
    assert [u.path for u in urls] == ["/vercel/v2/user"]


async def test_team_id_only_on_deployments(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    settings["team_id"] = "team_sandbox"
    result, (user, deployments) = await _run_recording(settings)
    assert result.status is Status.HEALTHY, result.details
    assert "teamId" not in user.params
    assert deployments.params["teamId"] == "team_sandbox"
    assert (deployments.params["target"], deployments.params["limit"]) == ("production", "1")


async def test_deployments_version_is_configurable(settings: dict[str, Any]) -> None:
    settings["deployments_api_version"] = "v7"
    result, (_, deployments) = await _run_recording(settings)
    assert result.status is Status.HEALTHY, result.details
    assert deployments.path == "/vercel/v7/deployments"


async def test_young_build_is_healthy(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("vercel", "deployment_error", state="BUILDING", age_s=300)
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["deployment_state"] == "BUILDING"
    assert result.details["deployment_age_min"] == pytest.approx(5, abs=0.5)


async def test_stuck_threshold_is_configurable(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("vercel", "deployment_error", state="BUILDING", age_s=900)
    settings["deployment_stuck_min"] = 10
    result = await run_monitor(M, settings)
    assert result.status is Status.DEGRADED and "BUILDING" in result.details["reason"]


async def test_rate_limited_retry_after_from_reset(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("vercel", "rate_limited")
    result = await run_monitor(M, settings)
    assert result.details["rate_limited"] is True and result.details["http_status"] == 429
    # the sandbox puts the window end 60 s ahead and sends no Retry-After
    assert 50 <= result.details["retry_after_s"] <= 61


async def _run_recording(settings: dict[str, Any]) -> tuple[CheckResult, list[httpx.URL]]:
    """run_monitor, also keeping the URL (with its query) of every request the check made."""
    urls: list[httpx.URL] = []
    target = Target(M.service, None, settings, secrets(settings))
    async with BatchResources() as resources:
        session = resources.http()
        send = session.request

        def record(method: str, url: str, **kwargs: Any) -> Any:
            urls.append(httpx.URL(url, params=kwargs.get("params")))
            return send(method, url, **kwargs)

        session.request = record  # type: ignore[method-assign, assignment]
        result = await run_check(M, target, resources, M.tier, RunPolicy(timeout_s=2.0, confirm_retries=0))
    return result, urls
