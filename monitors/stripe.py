"""Stripe: GET /v1/balance with the platform's secret key."""

from __future__ import annotations

from healthmon.monitors.base import Target
from healthmon.monitors.http import CALL_METRICS, HttpMonitor, error_message, failure, fetch
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier


class StripeMonitor(HttpMonitor):
    service = "stripe"
    tier = Tier.CORE
    required = ("api_key",)
    description = "GET /v1/balance (Bearer secret or restricted key)"
    metrics = (*CALL_METRICS, "available_currencies", "livemode")

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        headers = {"Authorization": f"Bearer {s['api_key']}"}
        if s.get("api_version"):
            headers["Stripe-Version"] = str(s["api_version"])
        if s.get("account"):
            headers["Stripe-Account"] = str(s["account"])
        reply = await fetch(
            resources, "GET", f"{s.get('base_url', 'https://api.stripe.com')}/v1/balance", headers=headers
        )
        if reply.status != 200:
            message = error_message(reply.body, ("error", "message"))
            code = error_message(reply.body, ("error", "code"))
            if code == "api_key_expired":
                message = "API key expired"
            return failure(reply, message, stripe_code=code)
        body = reply.json_object()
        if body.get("object") != "balance":
            return Outcome.unhealthy("answer is not a balance object", reply.latency_ms, error="bad_body")
        currencies = sorted(
            {
                str(a["currency"])
                for a in body.get("available") or []
                if isinstance(a, dict) and a.get("currency")
            }
        )
        return Outcome.healthy(
            reply.latency_ms,
            http_status=200,
            livemode=bool(body.get("livemode")),
            available_currencies=currencies,
            request_id=reply.headers.get("request-id"),
        )
