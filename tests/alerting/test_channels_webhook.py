"""WebhookChannel against the sandbox's webhook receiver, which records bodies and headers."""

from __future__ import annotations

import pytest

from healthmon.alerting.channels.webhook import WebhookChannel
from healthmon.alerting.notification import DeliveryError, Kind, Notification, Sent, Severity
from healthmon.sandbox import RunningSandbox, SandboxState
from tests.alerting.conftest import MakeNotification, rollup_tenants
from tests.support.refusals import send_refused

API_KEY = "whk-api-key-0123456789abcdef"


def channel(sandbox: RunningSandbox, timeout_s: float = 5) -> WebhookChannel:
    return WebhookChannel(
        f"{sandbox.base_url}/webhook/healthmon",
        headers={"Authorization": f"Bearer {API_KEY}", "X-Team": "platform-ops"},
        timeout_s=timeout_s,
    )


async def refused(webhook: WebhookChannel, notification: Notification) -> DeliveryError:
    return await send_refused(webhook, notification, API_KEY)


@pytest.mark.parametrize("kind", list(Kind))
async def test_every_kind_arrives_as_the_documented_json(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification, kind: Kind
) -> None:
    notification = make_notification(
        kind,
        delivery_id=77,
        acknowledged_by="ana" if kind is Kind.ACKNOWLEDGE else None,
        details={"error": "connect", "api_key": "leak-me-not", "nested": {"pool": 0.9}},
    )
    webhook = channel(sandbox)
    assert await webhook.send(notification) == Sent()
    await webhook.send(notification)  # the delivery layer resending after a lost answer
    first = state.received("webhook")[0]
    assert first["path"] == "/webhook/healthmon"
    assert first["body"] == {
        "kind": kind.value,
        "severity": "p1",
        "signature": "postgres||unhealthy",
        "service": "postgres",
        "tenant": None,
        "title": "PostgreSQL is unhealthy",
        "status": "unhealthy",
        "reason": "connection refused",
        "since": "2026-10-01T12:00:00Z",
        "last_seen": "2026-10-01T12:05:00Z",
        "count": 3,
        "details": {"error": "connect", "nested": {"pool": 0.9}},
        "tenants": [],
        "dashboard_url": "https://healthmon.example",
        "alert_id": 12,
        "delivery_id": 77,
        "acknowledged_by": "ana" if kind is Kind.ACKNOWLEDGE else None,
        "opened_at": None,
        "signature_text": "postgres · platform · unhealthy",
        "tenant_name": None,
        "tenant_names": {},
        "alert_url": "https://healthmon.example/alerts?alert=12",
        "service_url": "https://healthmon.example/service?service=postgres",
    }
    headers = first["headers"]
    assert headers["idempotency-key"] == "healthmon-delivery-77"
    assert headers["x-team"] == "platform-ops"
    assert headers["content-type"] == "application/json"
    # A resend of the same delivery carries the same key, which is what lets the receiver drop it.
    assert state.received("webhook")[1]["headers"]["idempotency-key"] == "healthmon-delivery-77"


async def test_a_rollup_sends_every_tenant(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification
) -> None:
    rollup = make_notification(service="shopify", severity=Severity.P2, tenants=rollup_tenants(50))
    await channel(sandbox).send(rollup)
    assert state.received("webhook")[0]["body"]["tenants"] == list(rollup_tenants(50))


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (503, True), (408, True), (429, True), (400, False), (404, False), (410, False)],
)
async def test_http_errors_map_to_retryable_or_not(
    sandbox: RunningSandbox,
    state: SandboxState,
    make_notification: MakeNotification,
    status: int,
    retryable: bool,
) -> None:
    state.add_fault("webhook", "http_error", status=status)
    error = await refused(channel(sandbox), make_notification())
    assert error.retryable is retryable
    assert f"HTTP {status}" in error.reason
    assert state.received("webhook") == []


async def test_a_receiver_echoing_the_credential_does_not_leak_it(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification
) -> None:
    state.add_fault("webhook", "http_error", status=401, error=f"bad header: Bearer {API_KEY}")
    error = await refused(channel(sandbox), make_notification())
    assert error.retryable is False
    assert "[redacted]" in error.reason
    # A long answer is shortened only after the secret is gone, so no half of it survives.
    state.add_fault("webhook", "http_error", status=401, error="x" * 470 + API_KEY)
    error = await refused(channel(sandbox), make_notification())
    assert API_KEY[:6] not in error.reason


async def test_refused_and_silent_receivers_are_retryable(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification, refused_url: str
) -> None:
    error = await refused(WebhookChannel(refused_url, timeout_s=2), make_notification())
    assert (error.retryable, error.reason) == (True, "webhook: connection refused")
    state.add_fault("webhook", "hang", seconds=5)
    error = await refused(channel(sandbox, timeout_s=0.3), make_notification())
    assert (error.retryable, error.reason) == (True, "webhook: no answer in time")
    state.clear_faults()
    state.add_fault("webhook", "reset")
    error = await refused(channel(sandbox), make_notification())
    assert error.retryable is True
