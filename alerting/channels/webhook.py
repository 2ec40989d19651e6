"""A generic JSON webhook: one POST per notification, with an idempotency key per delivery."""

from __future__ import annotations

import json
from typing import Any

import httpx

from healthmon.alerting.channels.failures import (
    failure,
    network_reason,
    retryable_status,
    secret_forms,
    url_secrets,
)
from healthmon.alerting.channels.render import (
    alert_url,
    iso_time,
    reason_of,
    safe_details,
    service_url,
    signature_text,
)
from healthmon.alerting.channels.render_group import names_of
from healthmon.alerting.notification import GroupNotification, Kind, Notification, Sent


def document(notification: Notification) -> dict[str, Any]:
    """The JSON a receiver gets; field names are a public contract, so only ever add to them."""
    n = notification
    return {
        "kind": n.kind.value,
        "severity": n.severity.value,
        "signature": n.signature,
        "service": n.service,
        "tenant": n.tenant_id,
        "title": n.title,
        "status": n.status,
        # the check's reason with its HTTP status or vendor code; its own words stay in details
        "reason": reason_of(n),
        # the first failing check of the streak (`opened_at`: when the alert opened)
        "since": iso_time(n.since),
        "last_seen": iso_time(n.last_seen),
        "count": n.count,
        "details": safe_details(n.details),
        # Machines get every tenant of a rollup; only human-facing channels shorten the list.
        "tenants": list(n.tenants),
        "dashboard_url": n.dashboard_url,
        "alert_id": n.alert_id,
        "delivery_id": n.delivery_id,
        "acknowledged_by": n.acknowledged_by,
        "opened_at": iso_time(n.opened_at) if n.opened_at else None,
        "signature_text": signature_text(n),
        "tenant_name": n.tenant_names.get(n.tenant_id) if n.tenant_id else None,
        "tenant_names": {t: n.tenant_names[t] for t in n.tenants if t in n.tenant_names},
        # null without dashboard_url: no link rather than a wrong one
        "alert_url": alert_url(n),
        "service_url": service_url(n),
    }


def group_document(group: GroupNotification) -> dict[str, Any]:
    """The JSON for a group message: kind "group", the counts, and every notice it carries as
    the document it would have had alone (each with its own `kind`), tenant names included."""
    names = names_of(group)

    def tenants(members: tuple[Notification, ...]) -> list[str | None]:
        return list(dict.fromkeys(m.tenant_id for m in members))

    return {
        "kind": "group",
        "group": group.group_key,
        "service": group.service,
        "condition": group.condition,
        "severity": group.worst.severity.value,
        "reason": reason_of(group.worst) if group.opened else None,
        "live": group.live,
        "unacknowledged": group.unacknowledged,
        "opened": tenants(group.opened),
        "resolved": tenants(group.of_kind(Kind.RESOLVE)),
        "acknowledged": tenants(group.of_kind(Kind.ACKNOWLEDGE)),
        "tenant_names": {t: names[t] for m in group.members if (t := m.tenant_id) and t in names},
        "dashboard_url": group.dashboard_url,
        "message_key": group.key,
        "notifications": [
            {**document(m), "tenant_name": names.get(m.tenant_id or "")} for m in group.members
        ],
    }


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout_s: float = 10) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.timeout_s = timeout_s
        # The URL may carry a token in its path or query, and the headers an API key.
        self._secrets = secret_forms(*url_secrets(url), *self.headers.values())

    async def send(self, notification: Notification) -> Sent:
        # The same delivery retried carries the same key, so a receiver can drop the resend.
        return await self._post(document(notification), f"healthmon-delivery-{notification.delivery_id}")

    async def send_group(self, group: GroupNotification) -> Sent:
        # The same rows resent carry the same key; a later message of the group has other rows.
        return await self._post(group_document(group), f"healthmon-group-{group.key}")

    async def _post(self, document: dict[str, Any], idempotency_key: str) -> Sent:
        headers = {
            **self.headers,
            "Content-Type": "application/json",
            "User-Agent": "healthmon",
            "Idempotency-Key": idempotency_key,
        }
        # default=str: details are facts, but a datetime among them must not fail the page.
        body = json.dumps(document, default=str).encode()
        try:
            # A client per send: alerts are rare, and a pooled client would tie the channel to
            # one event loop while Prefect tasks may run on several.
            async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
                response = await client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise failure(f"webhook: {network_reason(exc)}", True, self._secrets) from None
        if 200 <= response.status_code < 300:
            return Sent()
        # The whole answer: `failure` removes secrets first and only then shortens the text.
        answer = response.text.strip()
        reason = f"webhook answered HTTP {response.status_code}" + (f": {answer}" if answer else "")
        raise failure(reason, retryable_status(response.status_code), self._secrets)
