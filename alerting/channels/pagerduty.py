"""PagerDuty Events API v2: trigger, acknowledge and resolve, keyed by the alert's signature."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from healthmon.alerting.channels.failures import failure, network_reason, retryable_status, secret_forms
from healthmon.alerting.channels.render import clip, iso_time, short_tenants, small_facts, summary
from healthmon.alerting.notification import Kind, Notification, Sent, Severity

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
SEVERITIES = {Severity.P1: "critical", Severity.P2: "error", Severity.P3: "warning"}
_ACTIONS = {
    Kind.TRIGGER: "trigger",
    Kind.ESCALATE: "trigger",
    Kind.RENOTIFY: "trigger",
    Kind.ACKNOWLEDGE: "acknowledge",
    Kind.RESOLVE: "resolve",
}


def dedup_key(signature: str) -> str:
    """The signature itself when it fits; otherwise a readable prefix and the signature's hash,
    which is stable, so acknowledge and resolve find the incident the trigger opened."""
    if len(signature) <= MAX_DEDUP_KEY:
        return signature
    digest = hashlib.sha256(signature.encode()).hexdigest()
    return f"{signature[: MAX_DEDUP_KEY - len(digest) - 1]}#{digest}"


def event(notification: Notification, routing_key: str, source: str) -> dict[str, Any]:
    n = notification
    action = _ACTIONS[n.kind]
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(n.signature),
    }
    if action != "trigger":
        # PagerDuty takes no payload on acknowledge and resolve: the dedup key says it all.
        return body
    tenants = short_tenants(n.tenants)
    custom: dict[str, Any] = {
        "status": n.status,
        "reason": n.reason,
        "since": iso_time(n.since),
        "count": n.count,
        "alert_id": n.alert_id,
        "signature": n.signature,
        "notification": n.kind.value,
    }
    facts = small_facts(n.details)
    if facts:
        custom["details"] = facts
    if n.tenants:
        custom["tenant_count"] = tenants.total
        custom["tenants"] = tenants.text()
    body["payload"] = {
        "summary": clip(summary(n), MAX_SUMMARY),
        "source": source,
        "severity": SEVERITIES[n.severity],
        "timestamp": iso_time(n.last_seen),
        "component": n.service,
        "group": n.tenant_id or "platform",
        "class": str(n.details.get("error") or n.status),
        "custom_details": custom,
    }
    body["client"] = "healthmon"
    if n.dashboard_url:
        body["client_url"] = n.dashboard_url
        body["links"] = [{"href": n.dashboard_url, "text": "healthmon dashboard"}]
    return body


def _pagerduty_words(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        # Whole: `failure` removes the routing key before it shortens the text.
        return response.text.strip()
    if not isinstance(data, dict):
        return ""
    words = [str(data.get("message") or data.get("status") or "")]
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        words.append("; ".join(str(e) for e in errors[:10]))
    return ": ".join(w for w in words if w)


class PagerDutyChannel:
    name = "pagerduty"

    def __init__(
        self,
        routing_key: str,
        events_url: str = EVENTS_URL,
        source: str = "healthmon",
        timeout_s: float = 10,
    ) -> None:
        if not routing_key:
            raise ValueError("pagerduty: routing_key is required")
        self.routing_key = routing_key
        self.events_url = events_url
        self.source = source
        self.timeout_s = timeout_s
        self._secrets = secret_forms(routing_key)

    def __repr__(self) -> str:
        return f"PagerDutyChannel(events_url={self.events_url!r}, source={self.source!r})"

    async def send(self, notification: Notification) -> Sent:
        body = event(notification, self.routing_key, self.source)
        try:
            # A client per send: see WebhookChannel.send.
            async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
                response = await client.post(self.events_url, json=body)
        except httpx.HTTPError as exc:
            raise failure(f"pagerduty: {network_reason(exc)}", True, self._secrets) from None
        if 200 <= response.status_code < 300:
            return Sent(ref=body["dedup_key"])
        words = _pagerduty_words(response)
        reason = f"pagerduty answered HTTP {response.status_code}" + (f": {words}" if words else "")
        raise failure(reason, retryable_status(response.status_code), self._secrets)
