"""TikTok Marketing API (per tenant): GET /advertiser/info/ for the tenant's advertiser."""

from __future__ import annotations

import json
import re
from typing import Any

from healthmon.monitors.base import Target, TenantKeyFormat
from healthmon.monitors.http import CALL_METRICS, HttpMonitor, Reply, error_message, failure, fetch
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

# the API version is part of the base URL, as TikTok documents it (".../open_api/v1.3")
DEFAULT_BASE_URL = "https://business-api.tiktok.com/open_api/v1.3"
FIELDS = ["name", "status", "currency", "balance"]
ADVERTISER_ID = re.compile(r"\d+")
ENABLED = "STATUS_ENABLE"

RATE_LIMITED = 40100
AUTH_CODES = {
    40101: "app credentials rejected (app_id / secret)",
    40102: "access token expired",
    40104: "access token missing",
    40105: "access token incorrect or revoked",
}
CLIENT_CODES = frozenset({40001, 40002})


def code_failure(code: int, message: str | None, reply: Reply) -> Outcome:
    """TikTok answers errors with HTTP 200 and a non-zero `code`; map them like their HTTP twins."""
    extra: dict[str, Any] = {"http_status": reply.status, "tiktok_code": str(code)}
    if code == RATE_LIMITED:
        return Outcome.degraded(
            message or "rate limited", reply.latency_ms, error="rate_limited", rate_limited=True, **extra
        )
    if code in AUTH_CODES:
        return Outcome.unhealthy(AUTH_CODES[code], reply.latency_ms, error="auth", **extra)
    if code in CLIENT_CODES or 40000 <= code < 50000:
        return Outcome.unhealthy(
            message or f"request refused (code {code})", reply.latency_ms, error="client_error", **extra
        )
    return Outcome.unhealthy(
        message or f"vendor error (code {code})", reply.latency_ms, error="vendor_error", **extra
    )


def advertiser_digits(value: Any) -> str:
    return str(value).strip()


def _code_of(body: bytes) -> str | None:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    code = data.get("code") if isinstance(data, dict) else None
    return str(code) if isinstance(code, int) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class TikTokAdsMonitor(HttpMonitor):
    service = "tiktok_ads"
    tier = Tier.INTEGRATION
    per_tenant = True
    # app_id / secret are platform settings for the OAuth endpoints; advertiser/info needs only the token
    required = ("advertiser_id", "access_token")
    description = 'GET /advertiser/info/?advertiser_ids=["<id>"] (Access-Token header)'
    metrics = (*CALL_METRICS, "balance", "rate_limited")
    tenant_public_keys = ("advertiser_id",)
    tenant_secret_keys = ("access_token",)
    tenant_formats = (TenantKeyFormat("advertiser_id", ADVERTISER_ID, "be digits", advertiser_digits),)

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        advertiser = advertiser_digits(s["advertiser_id"])
        reply = await fetch(
            resources,
            "GET",
            f"{self.base_url(s, DEFAULT_BASE_URL)}/advertiser/info/",
            headers={"Access-Token": str(s["access_token"])},
            params={"advertiser_ids": json.dumps([advertiser]), "fields": json.dumps(FIELDS)},
        )
        if reply.status != 200:
            return failure(reply, error_message(reply.body, ("message",)), tiktok_code=_code_of(reply.body))
        body = reply.json_object()
        code = body.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            return Outcome.unhealthy(
                "answer without a numeric code", reply.latency_ms, error="bad_body", http_status=200
            )
        if code != 0:
            message = body.get("message")
            return code_failure(code, message[:200] if isinstance(message, str) and message else None, reply)
        data = body.get("data")
        rows = data.get("list") if isinstance(data, dict) else None
        rows = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
        row = next((r for r in rows if str(r.get("advertiser_id")) == advertiser), None)
        if row is None:
            return Outcome.unhealthy(
                f"advertiser {advertiser} is not authorised for this access token",
                reply.latency_ms,
                error="config",
                http_status=200,
            )
        status = row.get("status")
        if not isinstance(status, str) or not status:
            return Outcome.unhealthy(
                "advertiser without status", reply.latency_ms, error="bad_body", http_status=200
            )
        facts: dict[str, Any] = {"http_status": 200, "advertiser_status": status}
        if isinstance(row.get("currency"), str):
            facts["currency"] = row["currency"]
        balance = _number(row.get("balance"))
        if balance is not None:
            facts["balance"] = balance
        if status == ENABLED:
            return Outcome.healthy(reply.latency_ms, **facts)
        verdict = Outcome.degraded if status.startswith("STATUS_PENDING") else Outcome.unhealthy
        return verdict(f"advertiser {status}", reply.latency_ms, error="account", **facts)
