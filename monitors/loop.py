"""Loop Returns: one page of the warehouse returns list with the platform's API key."""

from __future__ import annotations

import json
from typing import Any

from healthmon.monitors.base import Target
from healthmon.monitors.http import HttpMonitor, Reply, failure, fetch, http_metrics, remaining_pct
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

DEFAULT_BASE_URL = "https://api.loopreturns.com/api/v1"
# Loop answers a bad or under-scoped key with 401, or with this text in any status (even 200).
UNAUTHORIZED = "unauthorized"


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _error_text(data: Any) -> str | None:
    """The message of any of Loop's error envelopes, or None when the body carries none.

    Gateway `{"error":{"http_code","message"}}`, then `{"errors":"…"}`, `{"errors":{"message"}}`,
    `{"errors":[{"message"}]}`, Laravel's `{"message","errors":{field:[…]}}` and bare `{"message"}`.
    """
    if not isinstance(data, dict):
        return None
    gateway = data.get("error")
    if isinstance(gateway, dict):
        return str(gateway.get("message") or gateway.get("http_code") or "error")[:200]
    errors = data.get("errors")
    if isinstance(errors, list):
        errors = errors[0] if errors else None
    if isinstance(errors, dict):
        # Laravel validation maps fields to messages; its summary is the top-level message.
        errors = errors.get("message") or data.get("message") or "error"
    for text in (errors, gateway, data.get("message")):
        if isinstance(text, str) and text:
            return text[:200]
    return None


def _refused(reply: Reply, message: str | None) -> Outcome:
    """A refusal in any status: Loop reports some in an HTTP 200, so its words decide too."""
    said = (message or reply.body[:2000].decode("utf-8", "replace")).lower()
    if UNAUTHORIZED in said or reply.status in (401, 403):
        return Outcome.unhealthy(
            f"API key rejected: {message}" if message else "API key rejected",
            reply.latency_ms,
            error="auth",
            http_status=reply.status,
        )
    if reply.status != 200:
        return failure(reply, message)
    if "too many" in said or "rate limit" in said:
        return Outcome.degraded(
            f"rate limited in a 200 answer: {message}",
            reply.latency_ms,
            error="rate_limited",
            rate_limited=True,
            http_status=200,
        )
    return Outcome.unhealthy(
        f"error in a 200 answer: {message}", reply.latency_ms, error="vendor_error", http_status=200
    )


class LoopMonitor(HttpMonitor):
    service = "loop"
    tier = Tier.EXTERNAL
    required = ("api_key",)
    description = "GET /warehouse/return/list?paginate=true&pageSize=1 (X-Authorization API key)"
    metrics = http_metrics("rate_limit_remaining_pct")

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        reply = await fetch(
            resources,
            "GET",
            f"{self.base_url(s, DEFAULT_BASE_URL)}/warehouse/return/list",
            headers={"X-Authorization": str(s["api_key"]), "Accept": "application/json"},
            params={"paginate": "true", "pageSize": 1},
        )
        data = _parse(reply.body)
        if reply.status != 200:
            return _refused(reply, _error_text(data))
        if data is None:
            if UNAUTHORIZED in reply.body[:2000].decode("utf-8", "replace").lower():
                return _refused(reply, None)
            reply.json()  # raises the malformed-JSON outcome
        if isinstance(data, dict) and (data.get("errors") or data.get("error")):
            return _refused(reply, _error_text(data))
        # Without paginate=true Loop answers a bare array; accept that reading too.
        page = data.get("returns") if isinstance(data, dict) else data
        if not isinstance(page, list):
            message = _error_text(data)
            if message:
                return _refused(reply, message)
            return Outcome.unhealthy(
                "answer has no returns list", reply.latency_ms, error="bad_body", http_status=200
            )
        facts: dict[str, Any] = {}
        # Laravel's throttle headers; Loop's names are unconfirmed, so only read when present.
        headroom = remaining_pct(reply.headers)
        if headroom is not None:
            facts["rate_limit_remaining_pct"] = headroom
        return Outcome.healthy(reply.latency_ms, http_status=200, **facts)
