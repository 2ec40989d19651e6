from __future__ import annotations

from typing import Any

import httpx
import pytest

from healthmon.alerting.thresholds import defaults_for, evaluate
from healthmon.monitors.base import Target
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import CheckResult, Status
from healthmon.monitors.runner import RunPolicy, run_check
from healthmon.monitors.vercel import VercelMonitor
from healthmon.sandbox.server import RunningSandbox
from tests.monitors.conftest import TRANSPORT_FAULTS, assert_no_secret, check_fault, run_monitor, secrets

M = VercelMonitor()


@pytest.fixture
def settings(bed: dict[str, Any]) -> dict[str, Any]:
    return dict(bed["services"]["vercel"])


async def test_healthy(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    d = result.details
    assert (d["http_status"], d["deployment_state"]) == (200, "READY")
    assert d["deployment_age_min"] == pytest.approx(60, abs=1)
    assert d["deployment_url"].endswith(".vercel.app")
    assert 90 < d["rate_limit_remaining_pct"] <= 100 and result.latency_ms is not None
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


@pytest.mark.parametrize(
    ("kind", "params", "status", "error"),
    [
        ("revoked", {}, Status.UNHEALTHY, "auth"),
        ("expired", {}, Status.UNHEALTHY, "auth"),
        ("rate_limited", {}, Status.DEGRADED, "rate_limited"),
        ("http_error", {"status": 500}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 400}, Status.UNHEALTHY, "client_error"),
        ("http_error", {"status": 401}, Status.UNHEALTHY, "auth"),
        *TRANSPORT_FAULTS,
        ("deployment_error", {}, Status.UNHEALTHY, "deployment"),
        ("deployment_error", {"state": "CANCELED"}, Status.UNHEALTHY, "deployment"),
        ("deployment_error", {"state": "BUILDING", "age_s": 3600}, Status.DEGRADED, "deployment"),
        ("deployment_error", {"state": "QUEUED", "age_s": 2400}, Status.DEGRADED, "deployment"),
        ("deployment_error", {"state": "INITIALIZING", "age_s": 7200}, Status.DEGRADED, "deployment"),
    ],
)
async def test_faults(
    sandbox: RunningSandbox,
    settings: dict[str, Any],
    kind: str,
    params: dict[str, Any],
    status: Status,
    error: str,
) -> None:
    sandbox.state.add_fault("vercel", kind, **params)
    await check_fault(M, settings, (status, error))


async def test_failed_deployment_names_state_and_url(
    sandbox: RunningSandbox, settings: dict[str, Any]
) -> None:
    sandbox.state.add_fault("vercel", "deployment_error")
    result = await run_monitor(M, settings)
    reason = result.details["reason"]
    assert "ERROR" in reason and "storefront-abc123.vercel.app" in reason and "BUILD_FAILED" in reason
    assert result.details["deployment_state"] == "ERROR"


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


async def test_rate_limited_prefers_retry_after(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("vercel", "rate_limited", retry_after=7)
    result = await run_monitor(M, settings)
    assert result.details["retry_after_s"] == 7


async def test_near_limit_degrades_through_thresholds(
    sandbox: RunningSandbox, settings: dict[str, Any]
) -> None:
    sandbox.state.add_fault("vercel", "near_limit")
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["rate_limit_remaining_pct"] == 5.0
    assert evaluate(result, defaults_for("vercel")).status is Status.UNHEALTHY
    sandbox.state.reset()
    sandbox.state.add_fault("vercel", "near_limit", pct=85)
    result = await run_monitor(M, settings)
    assert evaluate(result, defaults_for("vercel")).status is Status.DEGRADED


async def test_unknown_project_is_config(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    settings["project_id"] = "prj_doesnotexist"
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "config")
    assert "prj_doesnotexist" in result.details["reason"]


async def test_missing_token_is_unknown(settings: dict[str, Any]) -> None:
    settings.pop("token")
    result = await run_monitor(M, settings)
    assert result.status is Status.UNKNOWN and "token" in result.details["reason"]


async def test_wrong_token_is_rejected_without_leaking_it(settings: dict[str, Any]) -> None:
    settings["token"] = "vc_wrongwrongwrong1234"
    result = await run_monitor(M, settings)
    assert result.status is Status.UNHEALTHY and result.details["error"] == "auth"
    assert "invalidToken" in result.details["reason"]
    assert "vc_wrongwrongwrong1234" not in repr(result.details)


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
