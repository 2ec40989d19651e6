from __future__ import annotations

from typing import Any

import pytest

from healthmon.alerting.thresholds import defaults_for, evaluate
from healthmon.monitors.mux import MuxMonitor
from healthmon.monitors.result import Status
from healthmon.sandbox.server import RunningSandbox
from healthmon.sandbox.vendors.mux import Mux
from tests.monitors.conftest import TRANSPORT_FAULTS, check_fault, run_monitor

M = MuxMonitor()


@pytest.fixture
def settings(bed: dict[str, Any]) -> dict[str, Any]:
    return dict(bed["services"]["mux"])


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["http_status"] == 200 and result.latency_ms is not None
    assert result.details["rate_limit_remaining_pct"] == 99.0
    assert result.details["latest_asset_errored"] is False


@pytest.mark.parametrize(
    ("kind", "params", "status", "error"),
    [
        ("revoked", {}, Status.UNHEALTHY, "auth"),
        ("expired", {}, Status.UNHEALTHY, "auth"),
        ("http_error", {"status": 403}, Status.UNHEALTHY, "auth"),
        ("rate_limited", {"retry_after": 1}, Status.DEGRADED, "rate_limited"),
        ("http_error", {"status": 503}, Status.UNHEALTHY, "vendor_error"),
        ("http_error", {"status": 404}, Status.UNHEALTHY, "client_error"),
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
    sandbox.state.add_fault("mux", kind, **params)
    await check_fault(M, settings, (status, error))


async def test_forbidden_says_permission(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("mux", "http_error", status=403, error="Token does not have Video read access")
    result = await run_monitor(M, settings)
    assert result.details["reason"].startswith("token lacks permission")
    assert result.details["mux_error_type"] == "forbidden"


async def test_rate_limited_reports_wait_and_headroom(
    sandbox: RunningSandbox, settings: dict[str, Any]
) -> None:
    sandbox.state.add_fault("mux", "rate_limited", retry_after=3)
    result = await run_monitor(M, settings)
    assert result.details["retry_after_s"] == 3.0 and result.details["rate_limited"] is True
    assert result.details["rate_limit_remaining_pct"] == 0.0


@pytest.mark.parametrize(("used", "final"), [(85, Status.DEGRADED), (95, Status.UNHEALTHY)])
async def test_near_limit_is_left_to_thresholds(
    sandbox: RunningSandbox, settings: dict[str, Any], used: float, final: Status
) -> None:
    sandbox.state.add_fault("mux", "near_limit", pct=used)
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY
    assert result.details["rate_limit_remaining_pct"] == pytest.approx(100 - used)
    assert evaluate(result, defaults_for("mux")).status is final


async def test_errored_asset_is_reported_not_judged(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any]
) -> None:
    monkeypatch.setattr(Mux, "latest_status", "errored")
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY
    assert result.details["latest_asset_errored"] is True


async def test_missing_secret_is_unknown(settings: dict[str, Any]) -> None:
    settings.pop("token_secret")
    result = await run_monitor(M, settings)
    assert result.status is Status.UNKNOWN and "token_secret" in result.details["reason"]


async def test_wrong_secret_is_rejected_without_leaking_it(settings: dict[str, Any]) -> None:
    settings["token_secret"] = "wrongwrongwrongmuxsecret"
    result = await run_monitor(M, settings)
    assert result.status is Status.UNHEALTHY and result.details["error"] == "auth"
    assert "wrongwrongwrongmuxsecret" not in repr(result.details)
