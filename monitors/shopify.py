"""Shopify Admin API, per shop: the GraphQL `shop` query with the tenant's access token."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from healthmon.monitors import json_codec
from healthmon.monitors.base import Target
from healthmon.monitors.http import HttpMonitor, Reply, dig, failure, fetch, http_metrics, pct
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

DEFAULT_BASE_URL = "https://{shop}"
DEFAULT_API_VERSION = "2026-10"
QUERY = "{ shop { name myshopifyDomain plan { displayName } } }"
# The shop is spliced into the request URL, so anything but a bare `<name>.myshopify.com`
# (a scheme, port, path, userinfo, other host) would let a tenant row aim the tenant's token
# at an arbitrary host. fullmatch: `$` would also accept a trailing newline.
SHOP_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.myshopify\.com")
# GraphQL error codes in a 200 answer that mean the token, not the vendor.
AUTH_CODES = frozenset({"ACCESS_DENIED", "UNAUTHORIZED", "FORBIDDEN"})


def shop_problem(shop: Any) -> str | None:
    """Why `shop` is not a usable shop domain, or None when it is."""
    if not isinstance(shop, str) or not _is_shop(shop):
        return "shop must be a bare <name>.myshopify.com domain (lowercase letters, digits, hyphens)"
    return None


@functools.lru_cache(maxsize=65536)
def _is_shop(shop: str) -> bool:
    # every check asks again for the same few thousand shops
    return SHOP_RE.fullmatch(shop) is not None


def _throttle(body: Mapping[str, Any]) -> dict[str, Any]:
    cost = dig(body, "extensions", "cost")
    status = dig(cost, "throttleStatus")
    if not isinstance(status, dict):
        return {}
    available, maximum, restore = (
        status.get("currentlyAvailable"),
        status.get("maximumAvailable"),
        status.get("restoreRate"),
    )
    facts: dict[str, Any] = {}
    if isinstance(available, int | float) and isinstance(maximum, int | float):
        facts["rate_limit_remaining_pct"] = pct(float(available), float(maximum))
    if isinstance(restore, int | float):
        facts["throttle_restore_rate"] = float(restore)
        requested = dig(cost, "requestedQueryCost")
        # The bucket refills at restoreRate points/s: this is how long until the query fits.
        if isinstance(requested, int | float) and isinstance(available, int | float) and restore > 0:
            facts["retry_after_s"] = round(max(0.0, (requested - available) / restore), 2)
    return facts


def _error_codes(body: Mapping[str, Any]) -> list[str]:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return []
    return [
        str(e["extensions"]["code"])
        for e in errors
        if isinstance(e, dict) and isinstance(e.get("extensions"), dict) and e["extensions"].get("code")
    ]


def _message(raw: bytes) -> str | None:
    """Shopify's own words: `errors` is a string, an object with `message`, or a GraphQL list."""
    try:
        errors = dig(json_codec.loads(raw), "errors")
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(errors, list):
        errors = errors[0] if errors else None
    if isinstance(errors, dict):
        errors = errors.get("message")
    return errors[:200] if isinstance(errors, str) and errors else None


class ShopifyMonitor(HttpMonitor):
    service = "shopify"
    tier = Tier.CORE
    per_tenant = True
    required = ("shop", "access_token")
    tenant_public_keys = ("shop",)
    tenant_secret_keys = ("access_token",)
    description = "POST /admin/api/{version}/graphql.json `{ shop { name plan } }` (X-Shopify-Access-Token)"
    metrics = http_metrics("rate_limit_remaining_pct", "throttle_restore_rate")

    @classmethod
    def validate_tenant(cls, settings: Mapping[str, Any]) -> None:
        super().validate_tenant(settings)
        problem = shop_problem(settings.get("shop"))
        if problem:
            raise ValueError(f"shopify: {problem}")

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        # Checked again here: a tenant row edited by hand never went through validate_tenant.
        problem = shop_problem(s["shop"])
        template = str(s.get("base_url") or DEFAULT_BASE_URL)
        if problem is None and "{shop}" not in template:
            problem = "base_url must contain {shop}"
        if problem:
            return Outcome.unknown(problem, error="invalid_setting")
        version = str(s.get("api_version") or DEFAULT_API_VERSION)
        reply = await fetch(
            resources,
            "POST",
            f"{template.replace('{shop}', s['shop'])}/admin/api/{version}/graphql.json",
            headers={"X-Shopify-Access-Token": str(s["access_token"]), "Accept": "application/json"},
            json_body={"query": QUERY},
        )
        # Shopify answers an unsupported version with the oldest supported one, and says so here.
        facts: dict[str, Any] = {"api_version": reply.headers.get("x-shopify-api-version") or version}
        if facts["api_version"] != version:
            facts["api_version_requested"] = version
        if reply.status != 200:
            return self._refused(reply, facts)
        body = reply.json_object()
        facts |= _throttle(body)
        codes = _error_codes(body)
        if "THROTTLED" in codes:
            return Outcome.degraded(
                "throttled (GraphQL THROTTLED)",
                reply.latency_ms,
                error="rate_limited",
                rate_limited=True,
                http_status=200,
                **facts,
            )
        facts.pop("retry_after_s", None)
        shop = dig(body, "data", "shop")
        if not isinstance(shop, dict):
            message = _message(reply.body)
            if AUTH_CODES & set(codes):
                return Outcome.unhealthy(
                    message or "access denied", reply.latency_ms, error="auth", http_status=200, **facts
                )
            if codes or body.get("errors"):
                return Outcome.unhealthy(
                    message or "GraphQL error",
                    reply.latency_ms,
                    error="vendor_error",
                    http_status=200,
                    **facts,
                )
            return Outcome.unhealthy(
                "answer has no shop", reply.latency_ms, error="bad_body", http_status=200, **facts
            )
        plan = shop.get("plan")
        return Outcome.healthy(
            reply.latency_ms,
            http_status=200,
            plan=plan.get("displayName") if isinstance(plan, dict) else None,
            shop_domain=shop.get("myshopifyDomain"),
            request_id=reply.headers.get("x-request-id"),
            **facts,
        )

    @staticmethod
    def _refused(reply: Reply, facts: dict[str, Any]) -> Outcome:
        message = _message(reply.body)
        if reply.status in (402, 423):
            state = "frozen" if reply.status == 402 else "locked"
            return Outcome.unhealthy(
                f"shop {state} (HTTP {reply.status}{': ' + message if message else ''})",
                reply.latency_ms,
                error="account",
                http_status=reply.status,
                shop_state=state,
                **facts,
            )
        if reply.status == 404:
            return Outcome.unhealthy(
                "shop not found (HTTP 404)", reply.latency_ms, error="config", http_status=404, **facts
            )
        return failure(reply, message, **facts)
