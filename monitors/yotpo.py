"""Yotpo Core API v3: exchange the store secret for an access token, then read one product."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from healthmon.monitors.base import CheckFailed, Target
from healthmon.monitors.http import (
    HttpMonitor,
    Reply,
    error_message,
    failure,
    fetch,
    header_float,
    http_metrics,
    remaining_pct,
)
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier


def _vendor_message(reply: Reply, access_token: str | None = None) -> str | None:
    """`errors[0].message`, minus the token.

    The access token is minted by the check, so it is not among the target's secrets and the
    runner cannot scrub it; an error that quoted it must not carry it into details.
    """
    message = error_message(reply.body, ("errors", 0, "message"))
    if message and access_token:
        message = message.replace(access_token, "***")
    return message


def _rate_limit(reply: Reply) -> dict[str, Any]:
    # Only `RateLimit-Remaining` is documented, in a format nobody has confirmed: the raw number
    # is reported, and a percentage only when the vendor also says what the limit is.
    remaining = header_float(reply.headers, "ratelimit-remaining")
    if remaining is None:
        return {}
    found: dict[str, Any] = {"rate_limit_remaining": remaining}
    headroom = remaining_pct(reply.headers, "ratelimit-remaining", "ratelimit-limit")
    if headroom is not None:
        found["rate_limit_remaining_pct"] = headroom
    return found


class YotpoMonitor(HttpMonitor):
    service = "yotpo"
    tier = Tier.EXTERNAL
    required = ("store_id", "secret")
    description = (
        "POST /core/v3/stores/{store_id}/access_tokens, then GET /core/v3/stores/{store_id}/products?limit=1"
    )
    metrics = http_metrics("token_ms", "rate_limit_remaining", "rate_limit_remaining_pct")

    async def _access_token(self, resources: BatchResources, store: str, secret: str) -> tuple[str, float]:
        reply = await fetch(resources, "POST", f"{store}/access_tokens", json_body={"secret": secret})
        if reply.status in (401, 403):
            raise CheckFailed(
                Outcome.unhealthy(
                    "secret rejected", reply.latency_ms, error="auth", http_status=reply.status, step="token"
                )
            )
        if reply.status == 404:
            # The store id is the app key: a 404 here means it names no store.
            raise CheckFailed(
                Outcome.unhealthy("store not found", reply.latency_ms, error="config", http_status=404)
            )
        if reply.status != 200:
            raise CheckFailed(failure(reply, _vendor_message(reply), step="token"))
        token = reply.json_object().get("access_token")
        if not isinstance(token, str) or not token:
            raise CheckFailed(
                Outcome.unhealthy("token answer has no access_token", reply.latency_ms, error="bad_body")
            )
        return token, reply.latency_ms

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        base = self.base_url(s, "https://api.yotpo.com")
        store = f"{base}/core/{s.get('api_version') or 'v3'}/stores/{quote(str(s['store_id']), safe='')}"
        token, token_ms = await self._access_token(resources, store, str(s["secret"]))
        reply = await fetch(
            resources, "GET", f"{store}/products", headers={"X-Yotpo-Token": token}, params={"limit": 1}
        )
        extra = {"token_ms": round(token_ms, 2), **_rate_limit(reply)}
        if reply.status != 200:
            message = _vendor_message(reply, token)
            if reply.status == 401:
                # Minted a moment ago, so not a stale token: the store's API access is refused.
                message = (
                    f"fresh access token rejected: {message}" if message else "fresh access token rejected"
                )
            return failure(reply, message, step="products", **extra)
        products = reply.json_object().get("products")
        if not isinstance(products, list):
            return Outcome.unhealthy(
                "answer has no product list", reply.latency_ms, error="bad_body", **extra
            )
        return Outcome.healthy(reply.latency_ms, http_status=200, **extra)
