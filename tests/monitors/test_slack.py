from __future__ import annotations

from typing import Any

import pytest

from healthmon.alerting.thresholds import defaults_for, evaluate
from healthmon.monitors.result import Status
from healthmon.monitors.slack import SlackMonitor
from healthmon.sandbox.server import RunningSandbox
from tests.monitors.conftest import TRANSPORT_FAULTS, check_fault, run_monitor

M = SlackMonitor()


@pytest.fixture
def settings(bed: dict[str, Any]) -> dict[str, Any]:
    return dict(bed["services"]["slack"])


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["http_status"] == 200 and result.latency_ms is not None
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


@pytest.mark.parametrize(
    ("kind", "params", "status", "error"),
    [
        ("revoked", {}, Status.UNHEALTHY, "auth"),
        ("expired", {}, Status.UNHEALTHY, "auth"),
        ("rate_limited", {}, Status.DEGRADED, "rate_limited"),
        ("http_error", {"status": 503}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 500}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 200}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 200, "error": "account_inactive"}, Status.UNHEALTHY, "auth"),
        ("http_error", {"status": 200, "error": "missing_scope"}, Status.UNHEALTHY, "auth"),
        ("http_error", {"status": 200, "error": "org_login_required"}, Status.UNHEALTHY, "auth"),
        ("http_error", {"status": 200, "error": "ekm_access_denied"}, Status.UNHEALTHY, "auth"),
        ("http_error", {"status": 200, "error": "fatal_error"}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 200, "error": "service_unavailable"}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 200, "error": "ratelimited"}, Status.DEGRADED, "rate_limited"),
        ("http_error", {"status": 200, "error": "invalid_arguments"}, Status.UNHEALTHY, "client_error"),
        *TRANSPORT_FAULTS,
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
    sandbox.state.add_fault("slack", kind, **params)
    await check_fault(M, settings, (status, error))


@pytest.mark.parametrize(("kind", "code"), [("revoked", "token_revoked"), ("expired", "token_expired")])
async def test_token_errors_name_the_code(
    sandbox: RunningSandbox, settings: dict[str, Any], kind: str, code: str
) -> None:
    sandbox.state.add_fault("slack", kind)
    result = await run_monitor(M, settings)
    assert result.details["slack_error"] == code and code in result.details["reason"]
    assert result.details["http_status"] == 200


async def test_rate_limit_reports_retry_after(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("slack", "rate_limited", retry_after=7)
    result = await run_monitor(M, settings)
    assert (result.details["http_status"], result.details["retry_after_s"]) == (429, 7.0)
    assert result.details["rate_limited"] is True and result.details["slack_error"] == "ratelimited"


async def test_missing_token_is_unknown(settings: dict[str, Any]) -> None:
    settings.pop("bot_token")
    result = await run_monitor(M, settings)
    assert result.status is Status.UNKNOWN and "bot_token" in result.details["reason"]


async def test_wrong_token_is_rejected_without_leaking_it(settings: dict[str, Any]) -> None:
    settings["bot_token"] = "xoxb-wrongwrongwrong1234"
    result = await run_monitor(M, settings)
    assert result.status is Status.UNHEALTHY and result.details["error"] == "auth"
    assert result.details["slack_error"] == "invalid_auth"
    assert "xoxb-wrongwrongwrong1234" not in repr(result.details)
