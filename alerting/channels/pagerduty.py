"""PagerDuty Events API v2: trigger, acknowledge and resolve, keyed by the alert's signature."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from healthmon.alerting.channels.failures import failure, network_reason, retryable_status, secret_forms
from healthmon.alerting.channels.render import (
    alert_url,
    clip,
    iso_time,
    link_texts,
    reason_of,
    short_tenants,
    signature_text,
    small_facts,
    summary,
    tenant_of,
    view,
)
from healthmon.alerting.channels.render_group import group_view
from healthmon.alerting.notification import GroupNotification, Kind, Notification, Sent, Severity

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
    tenants = short_tenants(n.tenants, names=n.tenant_names)
    custom: dict[str, Any] = {
        "status": n.status,
        "reason": reason_of(n),
        "since": iso_time(n.since),
        "count": n.count,
        "alert_id": n.alert_id,
        "signature": n.signature,
        "notification": n.kind.value,
        "alert": signature_text(n),
    }
    if n.opened_at:
        custom["opened_at"] = iso_time(n.opened_at)
    if n.tenant_id:
        custom["tenant"] = tenant_of(n)
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
    links = link_texts(view(n))
    if links:
        # client_url is the "View in healthmon" link of the incident: the alert itself
        body["client_url"] = alert_url(n)
        body["links"] = [{"href": url, "text": text} for url, text in links]
    return body


def group_event(group: GroupNotification, routing_key: str, source: str) -> dict[str, Any]:
    """One event for a group message, keyed by the group: one incident per alert group. It
    resolves when the group has nothing live left, is acknowledged when nothing live is
    unacknowledged, and is otherwise a trigger that PagerDuty merges into the open incident."""
    if group.opened or (group.live and group.unacknowledged):
        action = "trigger"
    else:
        action = "acknowledge" if group.live else "resolve"
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(f"group|{group.group_key}"),
    }
    if action != "trigger":
        return body
    v = group_view(group)
    custom: dict[str, Any] = {
        "group": group.group_key,
        "live": v.live,
        "unacknowledged": v.unacknowledged,
        "reason": v.reason,
        "since": v.since,
        "notification": "group",
        "message_key": v.key,
    }
    for title, tenants in v.tenant_sections():
        custom[title.lower()] = f"{tenants.total}: {tenants.text()}"
    body["payload"] = {
        "summary": clip(v.summary, MAX_SUMMARY),
        "source": source,
        "severity": SEVERITIES[group.worst.severity],
        "timestamp": iso_time(max(m.last_seen for m in group.members)),
        "component": group.service,
        "group": "tenants",
        "class": group.condition,
        "custom_details": custom,
    }
    body["client"] = "healthmon"
    if v.links:
        body["client_url"] = v.links[0][0]
        body["links"] = [{"href": url, "text": text} for url, text in v.links]
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
        await self._post(body)
        return Sent(ref=body["dedup_key"])

    async def send_group(self, group: GroupNotification) -> Sent:
        # no ref: a member's own later events are keyed by its signature, not the group's
        await self._post(group_event(group, self.routing_key, self.source))
        return Sent()

    async def _post(self, body: dict[str, Any]) -> None:
        try:
            # A client per send: see WebhookChannel.send.
            async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
                response = await client.post(self.events_url, json=body)
        except httpx.HTTPError as exc:
            raise failure(f"pagerduty: {network_reason(exc)}", True, self._secrets) from None
        if 200 <= response.status_code < 300:
            return
        words = _pagerduty_words(response)
        reason = f"pagerduty answered HTTP {response.status_code}" + (f": {words}" if words else "")
        raise failure(reason, retryable_status(response.status_code), self._secrets)
