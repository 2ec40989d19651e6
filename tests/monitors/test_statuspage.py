from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.result import Status
from healthmon.monitors.statuspage import StatuspageMonitor
from healthmon.sandbox.server import RunningSandbox
from tests.support.servers import free_port
from tests.support.vendor_cases import assert_no_secret, run_monitor, settings_fixture

M = StatuspageMonitor()
settings = settings_fixture(M)
PAGES = ("shopify", "inngest", "wise", "mux", "assemblyai", "yotpo", "vercel")


def refused_url() -> str:
    """A loopback port nobody listens on (bound, then released)."""
    return f"http://127.0.0.1:{free_port()}/status"


async def test_all_healthy(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    d = result.details
    assert (d["pages_checked"], d["pages_with_incidents"], d["pages_unreadable"]) == (8, 0, 0)
    assert set(d["pages"]) == {*PAGES, "slack"}
    assert d["pages"]["shopify"] == {
        "indicator": "none",
        "description": "All Systems Operational",
        "components_not_operational": [],
        "incidents": 0,
    }
    assert d["pages"]["slack"]["indicator"] == "ok"
    assert result.latency_ms is not None
    assert all(sandbox.state.requests_for("statuspage", page) == 1 for page in (*PAGES, "slack"))


async def test_one_page_major_outage(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("statuspage", "statuspage", tenant="shopify")
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "incident"), result.details
    assert result.details["reason"] == "shopify: major (Partial outage of Admin)"
    shopify = result.details["pages"]["shopify"]
    assert (shopify["indicator"], shopify["components_not_operational"], shopify["incidents"]) == (
        "major",
        ["Admin"],
        1,
    )
    assert result.details["pages"]["mux"]["indicator"] == "none"
    assert result.details["pages_with_incidents"] == 1
    assert_no_secret(result, settings)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"indicator": "minor"}, Status.DEGRADED),
        ({"indicator": "critical"}, Status.UNHEALTHY),
        ({"indicator": "none", "component_status": "under_maintenance"}, Status.DEGRADED),
        ({"indicator": "none", "component_status": "degraded_performance"}, Status.DEGRADED),
        ({"indicator": "minor", "component_status": "major_outage"}, Status.UNHEALTHY),
        ({"indicator": "none", "component_status": "operational"}, Status.HEALTHY),
    ],
)
async def test_indicator_and_components(
    sandbox: RunningSandbox, settings: dict[str, Any], params: dict[str, Any], status: Status
) -> None:
    sandbox.state.add_fault("statuspage", "statuspage", tenant="mux", component="Video API", **params)
    result = await run_monitor(M, settings)
    assert result.status is status, result.details
    if status is not Status.HEALTHY:
        assert result.details["reason"].startswith("mux: ")
        assert result.details["pages"]["mux"]["components_not_operational"] == ["Video API"]


async def test_one_page_unreachable(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    settings["pages"]["gone"] = refused_url()
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNKNOWN, "unreadable"), result.details
    assert result.details["reason"] == "gone: unreadable (connection refused)"
    assert result.details["pages"]["gone"]["error"] == "connect"
    assert (result.details["pages_checked"], result.details["pages_unreadable"]) == (9, 1)
    assert result.details["pages"]["shopify"]["indicator"] == "none"
    assert result.latency_ms is not None  # the pages that answered still say how fast


async def test_outage_outranks_an_unreadable_page(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    settings["pages"]["gone"] = refused_url()
    sandbox.state.add_fault("statuspage", "statuspage", tenant="wise", indicator="minor")
    result = await run_monitor(M, settings)
    assert result.status is Status.DEGRADED, result.details
    assert result.details["reason"].startswith("wise: minor (Degraded performance of")
    assert "gone" not in result.details["reason"]
    assert result.details["pages_unreadable"] == 1


@pytest.mark.parametrize(
    ("kind", "params", "error"),
    [
        ("malformed_json", {}, "bad_body"),
        ("oversize", {"bytes": 3_000_000}, "oversize"),
        ("http_error", {"status": 503}, "vendor_error"),
        ("http_error", {"status": 403}, "auth"),
        ("reset", {}, "reset"),
        ("hang", {}, "timeout"),
    ],
)
async def test_one_page_broken(
    sandbox: RunningSandbox, settings: dict[str, Any], kind: str, params: dict[str, Any], error: str
) -> None:
    sandbox.state.add_fault("statuspage", kind, tenant="mux", **params)
    settings["page_timeout_s"] = 0.5
    result = await run_monitor(M, settings, timeout_s=2.0)
    assert (result.status, result.details["error"]) == (Status.UNKNOWN, "unreadable"), result.details
    assert result.details["reason"].startswith("mux: unreadable (")
    assert result.details["pages"]["mux"]["error"] == error
    assert result.details["pages_unreadable"] == 1
    assert all(result.details["pages"][p]["indicator"] == "none" for p in PAGES if p != "mux")
    assert_no_secret(result, settings)


@pytest.mark.parametrize(
    ("kind", "params", "status", "error"),
    [
        ("malformed_json", {}, Status.UNKNOWN, "unreadable"),
        ("oversize", {"bytes": 3_000_000}, Status.UNKNOWN, "unreadable"),
        ("http_error", {"status": 500}, Status.UNKNOWN, "unreadable"),
        ("reset", {}, Status.UNKNOWN, "unreadable"),
        # every page stuck for longer than the whole check: the runner's timeout decides
        ("hang", {}, Status.UNHEALTHY, "timeout"),
    ],
)
async def test_every_page_broken(
    sandbox: RunningSandbox,
    settings: dict[str, Any],
    kind: str,
    params: dict[str, Any],
    status: Status,
    error: str,
) -> None:
    sandbox.state.add_fault("statuspage", kind, **params)
    result = await run_monitor(M, settings, timeout_s=1.0)
    assert (result.status, result.details.get("error")) == (status, error), result.details
    assert result.details["reason"]
    if status is Status.UNKNOWN:
        assert result.details["pages_unreadable"] == 8


async def test_summary_404_falls_back_to_status(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("statuspage", "http_error", tenant="wise", status=404, times=1)
    sandbox.state.add_fault("statuspage", "statuspage", tenant="wise", indicator="critical")
    result = await run_monitor(M, settings)
    assert result.status is Status.UNHEALTHY, result.details
    assert result.details["reason"] == "wise: critical (Major System Outage)"
    assert result.details["pages"]["wise"]["components_not_operational"] == []
    assert sandbox.state.requests_for("statuspage", "wise") == 2


@pytest.mark.parametrize(
    ("incident_type", "status"),
    [("incident", Status.DEGRADED), ("outage", Status.UNHEALTHY), ("notice", Status.HEALTHY)],
)
async def test_slack_incident(
    sandbox: RunningSandbox, settings: dict[str, Any], incident_type: str, status: Status
) -> None:
    sandbox.state.add_fault("statuspage", "slack_incident", tenant="slack", type=incident_type)
    result = await run_monitor(M, settings)
    assert result.status is status, result.details
    slack = result.details["pages"]["slack"]
    assert (slack["indicator"], slack["incidents"]) == ("active", 1)
    assert slack["description"] == "Users may have trouble sending messages"
    assert result.details["pages_with_incidents"] == 1
    if status is not Status.HEALTHY:
        assert result.details["reason"] == f"slack: {incident_type} (Users may have trouble sending messages)"
        assert "Messaging" in slack["components_not_operational"]


async def test_slack_status_alone(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    settings["pages"] = {}
    sandbox.state.add_fault("statuspage", "slack_incident", tenant="slack", type="outage")
    result = await run_monitor(M, settings)
    assert result.status is Status.UNHEALTHY and result.details["pages_checked"] == 1


async def test_pages_are_read_concurrently(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    # eight pages at 300 ms each: one after another would not fit in the 1.5 s budget
    sandbox.state.add_fault("statuspage", "latency", ms=300)
    sandbox.state.add_fault("statuspage", "latency", tenant="yotpo", ms=600)
    result = await run_monitor(M, settings, timeout_s=1.5)
    assert result.status is Status.HEALTHY, result.details
    assert result.latency_ms is not None and 600 <= result.latency_ms < 1400  # the slowest page


async def test_no_pages_is_unknown(settings: dict[str, Any]) -> None:
    settings["pages"] = {}
    settings.pop("slack_status_url")
    result = await run_monitor(M, settings)
    assert result.status is Status.UNKNOWN
    assert result.details["reason"] == "no status pages configured"


async def test_pages_not_a_mapping_is_unknown(settings: dict[str, Any]) -> None:
    settings["pages"] = ["https://www.shopifystatus.com"]
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNKNOWN, "config")
