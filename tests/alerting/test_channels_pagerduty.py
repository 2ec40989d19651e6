"""PagerDutyChannel against the sandbox's Events API v2, which validates and records events."""

from __future__ import annotations

import pytest

from healthmon.alerting.channels.pagerduty import MAX_DEDUP_KEY, PagerDutyChannel, dedup_key
from healthmon.alerting.notification import DeliveryError, Kind, Notification, Sent, Severity
from healthmon.sandbox import RunningSandbox, SandboxState
from tests.alerting.conftest import MakeNotification, rollup_tenants
from tests.support.refusals import send_refused


def channel(
    sandbox: RunningSandbox, routing_key: str | None = None, timeout_s: float = 5
) -> PagerDutyChannel:
    return PagerDutyChannel(
        routing_key or sandbox.state.platform.pagerduty_routing_key,
        events_url=f"{sandbox.base_url}/pagerduty/v2/enqueue",
        timeout_s=timeout_s,
    )


async def refused(pd: PagerDutyChannel, notification: Notification) -> DeliveryError:
    return await send_refused(pd, notification, pd.routing_key)


@pytest.mark.parametrize("kind", [Kind.TRIGGER, Kind.ESCALATE, Kind.RENOTIFY])
async def test_paging_kinds_trigger_with_the_signature_as_dedup_key(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification, kind: Kind
) -> None:
    notification = make_notification(
        kind, service="shopify", tenant_id="tenant-0001", signature="shopify|tenant-0001|unhealthy"
    )
    assert await channel(sandbox).send(notification) == Sent(ref="shopify|tenant-0001|unhealthy")
    [event] = [m["body"] for m in state.received("pagerduty")]
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "shopify|tenant-0001|unhealthy"
    assert event["client"] == "healthmon"
    assert event["client_url"] == "https://healthmon.example/alerts?alert=12"
    assert event["links"] == [
        {"href": "https://healthmon.example/alerts?alert=12", "text": "Open alert #12"},
        {
            "href": "https://healthmon.example/service?service=shopify&tenant=tenant-0001",
            "text": "shopify (tenant-0001) in service detail",
        },
    ]
    payload = event["payload"]
    assert payload["summary"] == "shopify unhealthy (tenant-0001): connection refused"
    assert (payload["source"], payload["severity"]) == ("healthmon", "critical")
    assert (payload["component"], payload["group"], payload["class"]) == ("shopify", "tenant-0001", "connect")
    assert payload["timestamp"] == "2026-10-01T12:05:00Z"
    details = payload["custom_details"]
    assert details["details"] == {"error": "connect", "http_status": 503, "pool_used_pct": 93.5}
    assert (details["count"], details["notification"], details["since"]) == (
        3,
        kind.value,
        "2026-10-01T12:00:00Z",
    )


@pytest.mark.parametrize("kind", [Kind.ACKNOWLEDGE, Kind.RESOLVE])
async def test_acknowledge_and_resolve_carry_the_dedup_key_only(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification, kind: Kind
) -> None:
    assert await channel(sandbox).send(make_notification(kind)) == Sent(ref="postgres||unhealthy")
    [event] = [m["body"] for m in state.received("pagerduty")]
    assert event == {
        "routing_key": state.platform.pagerduty_routing_key,
        "event_action": kind.value,
        "dedup_key": "postgres||unhealthy",
    }


async def test_severities_and_platform_group_and_status_as_class(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification
) -> None:
    pd = channel(sandbox)
    for severity in Severity:
        await pd.send(make_notification(severity=severity, details={}, dashboard_url=None))
    events = [m["body"] for m in state.received("pagerduty")]
    assert [e["payload"]["severity"] for e in events] == ["critical", "error", "warning"]
    assert {e["payload"]["group"] for e in events} == {"platform"}
    assert {e["payload"]["class"] for e in events} == {"unhealthy"}
    assert all("links" not in e and "client_url" not in e for e in events)


async def test_long_signatures_and_summaries_are_cut_to_pagerdutys_limits(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification
) -> None:
    signature = "shopify|" + "t" * 400 + "|unhealthy"
    key = dedup_key(signature)
    assert len(key) == MAX_DEDUP_KEY and key == dedup_key(signature) != dedup_key(signature + "x")
    pd = channel(sandbox)
    await pd.send(make_notification(signature=signature, reason="r" * 5000, title="t" * 3000))
    await pd.send(make_notification(Kind.RESOLVE, signature=signature))
    trigger, resolve = (m["body"] for m in state.received("pagerduty"))
    assert trigger["dedup_key"] == resolve["dedup_key"] == key
    assert len(trigger["payload"]["summary"]) <= 1024


async def test_a_rollup_lists_ten_tenants_and_the_count(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification
) -> None:
    await channel(sandbox).send(make_notification(service="shopify", tenants=rollup_tenants(50)))
    event = state.received("pagerduty")[0]["body"]
    details = event["payload"]["custom_details"]
    assert details["tenant_count"] == 50
    assert details["tenants"] == ", ".join(rollup_tenants(10)) + " and 40 more"
    assert event["payload"]["summary"].startswith("shopify unhealthy (platform, 50 tenants)")


async def test_an_invalid_event_is_not_retryable_and_names_pagerdutys_errors(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification
) -> None:
    error = await refused(channel(sandbox, routing_key="f" * 32), make_notification())
    assert error.retryable is False
    assert "HTTP 400" in error.reason and "'routing_key' is invalid" in error.reason
    state.add_fault("pagerduty", "revoked")
    error = await refused(channel(sandbox), make_notification())
    assert (error.retryable, "'routing_key' is invalid" in error.reason) == (False, True)


async def test_throttling_server_errors_and_network_failures_are_retryable(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification, refused_url: str
) -> None:
    state.add_fault("pagerduty", "rate_limited")
    error = await refused(channel(sandbox), make_notification())
    assert (error.retryable, "HTTP 429" in error.reason) == (True, True)
    state.clear_faults()
    for status in (500, 502, 503):
        state.add_fault("pagerduty", "http_error", status=status)
        error = await refused(channel(sandbox), make_notification())
        assert (error.retryable, f"HTTP {status}" in error.reason) == (True, True)
    state.clear_faults()
    state.add_fault("pagerduty", "hang", seconds=5)
    error = await refused(channel(sandbox, timeout_s=0.3), make_notification())
    assert (error.retryable, error.reason) == (True, "pagerduty: no answer in time")
    state.clear_faults()
    offline = PagerDutyChannel(state.platform.pagerduty_routing_key, events_url=refused_url, timeout_s=2)
    error = await refused(offline, make_notification())
    assert (error.retryable, error.reason) == (True, "pagerduty: connection refused")
    assert state.received("pagerduty") == []


async def test_an_error_echoing_the_routing_key_is_scrubbed(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification
) -> None:
    key = state.platform.pagerduty_routing_key
    state.add_fault("pagerduty", "http_error", status=500, error=f"no integration for key {key}")
    error = await refused(channel(sandbox), make_notification())
    assert "[redacted]" in error.reason
    assert key not in repr(channel(sandbox))
