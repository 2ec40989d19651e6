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
from healthmon.alerting.channels.render import iso_time, safe_details
from healthmon.alerting.notification import Notification, Sent


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
        "reason": n.reason,
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
        headers = {
            **self.headers,
            "Content-Type": "application/json",
            "User-Agent": "healthmon",
            # The same delivery retried carries the same key, so a receiver can drop the resend.
            "Idempotency-Key": f"healthmon-delivery-{notification.delivery_id}",
        }
        # default=str: details are facts, but a datetime among them must not fail the page.
        body = json.dumps(document(notification), default=str).encode()
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
