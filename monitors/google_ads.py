"""Google Ads API (per tenant): refresh the tenant's OAuth token, then listAccessibleCustomers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from healthmon.monitors.base import Target, TenantKeyFormat
from healthmon.monitors.http import (
    HttpMonitor,
    Reply,
    error_message,
    failure,
    fetch,
    http_metrics,
    retry_after_s,
)
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

DEFAULT_BASE_URL = "https://googleads.googleapis.com"
DEFAULT_OAUTH_URL = "https://oauth2.googleapis.com/token"
DEFAULT_API_VERSION = "v26"
CUSTOMER_ID = re.compile(r"\d{10}")
AUTH_FAMILIES = frozenset({"authenticationError", "authorizationError"})
AUTH_REASONS = {
    "OAUTH_TOKEN_EXPIRED": "access token expired",
    "OAUTH_TOKEN_REVOKED": "access token revoked",
    "OAUTH_TOKEN_INVALID": "access token invalid",
    "OAUTH_TOKEN_DISABLED": "access token disabled",
    "NOT_ADS_USER": "the login is not a Google Ads user",
    "DEVELOPER_TOKEN_NOT_APPROVED": "developer token not approved",
    "CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION": "Cloud project not approved for production",
}


def customer_digits(value: Any) -> str:
    return str(value).strip().replace("-", "")


def _dashed(cid: str) -> str:
    return f"{cid[:3]}-{cid[3:6]}-{cid[6:]}" if len(cid) == 10 else cid


def _seconds(duration: Any) -> float | None:
    # protobuf Duration in JSON: "30s", "1.5s"
    if not isinstance(duration, str) or not duration.endswith("s"):
        return None
    try:
        return max(0.0, float(duration[:-1]))
    except ValueError:
        return None


@dataclass(frozen=True)
class AdsError:
    status: str | None = None
    message: str | None = None
    family: str | None = None
    code: str | None = None
    retry_delay_s: float | None = None


def ads_error(body: bytes) -> AdsError:
    """The parts of Google's error envelope (with its GoogleAdsFailure detail) that decide."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return AdsError()
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return AdsError()
    status = error.get("status") if isinstance(error.get("status"), str) else None
    message = error.get("message") if isinstance(error.get("message"), str) else None
    for detail in error.get("details") or []:
        entries = detail.get("errors") if isinstance(detail, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            code = entry.get("errorCode")
            family, enum = next(iter(code.items())) if isinstance(code, dict) and code else (None, None)
            quota = entry.get("details")
            quota = quota.get("quotaErrorDetails") if isinstance(quota, dict) else None
            delay = _seconds(quota.get("retryDelay")) if isinstance(quota, dict) else None
            text = entry.get("message") if isinstance(entry.get("message"), str) else None
            return AdsError(status, text or message, family, str(enum) if enum else None, delay)
    return AdsError(status, message)


def refresh_failure(reply: Reply) -> Outcome:
    error = error_message(reply.body, ("error",))
    description = error_message(reply.body, ("error_description",))
    extra: dict[str, Any] = {"step": "token_refresh", "oauth_error": error}
    if error == "invalid_grant":
        return Outcome.unhealthy(
            "refresh token expired or revoked",
            reply.latency_ms,
            error="auth",
            http_status=reply.status,
            **extra,
        )
    if error in ("invalid_client", "unauthorized_client"):
        return Outcome.unhealthy(
            f"OAuth client rejected ({error}: {description or 'no description'})",
            reply.latency_ms,
            error="auth",
            http_status=reply.status,
            **extra,
        )
    return failure(reply, description or error, **extra)


def api_failure(reply: Reply, **facts: Any) -> Outcome:
    err = ads_error(reply.body)
    code = err.code or err.status
    text = (err.message or "")[:200]
    extra: dict[str, Any] = {"http_status": reply.status, "google_error": code, **facts}
    if reply.status == 429 or err.family == "quotaError" or err.status == "RESOURCE_EXHAUSTED":
        wait = retry_after_s(reply.headers) if err.retry_delay_s is None else err.retry_delay_s
        if wait is not None:
            extra["retry_after_s"] = wait
        return Outcome.degraded(
            f"quota exhausted ({code})" if code else "rate limited",
            reply.latency_ms,
            error="rate_limited",
            rate_limited=True,
            **extra,
        )
    if err.family in AUTH_FAMILIES or reply.status in (401, 403):
        reason = AUTH_REASONS.get(err.code or "") or text or "credentials rejected"
        return Outcome.unhealthy(
            f"{reason} ({code})" if code else reason, reply.latency_ms, error="auth", **extra
        )
    extra.pop("http_status")
    return failure(reply, f"{text} ({code})" if text and code else text or code, **extra)


class GoogleAdsMonitor(HttpMonitor):
    service = "google_ads"
    tier = Tier.INTEGRATION
    per_tenant = True
    required = ("customer_id", "refresh_token", "client_id", "client_secret")
    description = "POST oauth2 token (refresh grant), then GET /{v}/customers:listAccessibleCustomers"
    metrics = http_metrics("token_refresh_ms", "accessible_customers")
    tenant_public_keys = ("customer_id",)
    tenant_secret_keys = ("refresh_token",)
    tenant_formats = (
        TenantKeyFormat("customer_id", CUSTOMER_ID, "be 10 digits (dashes allowed)", customer_digits),
    )

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        token = await fetch(
            resources,
            "POST",
            str(s.get("oauth_url") or DEFAULT_OAUTH_URL),
            data={
                "client_id": s["client_id"],
                "client_secret": s["client_secret"],
                "refresh_token": s["refresh_token"],
                "grant_type": "refresh_token",
            },
        )
        if token.status != 200:
            return refresh_failure(token)
        access = token.json_object().get("access_token")
        if not isinstance(access, str) or not access:
            return Outcome.unhealthy(
                "token answer without access_token",
                token.latency_ms,
                error="bad_body",
                http_status=200,
                step="token_refresh",
            )
        headers = {"Authorization": f"Bearer {access}"}
        # developer tokens were sunset in 2026 and the header is optional; send it only when configured
        if s.get("developer_token"):
            headers["developer-token"] = str(s["developer_token"])
        base = self.base_url(s, DEFAULT_BASE_URL)
        version = s.get("api_version") or DEFAULT_API_VERSION
        reply = await fetch(
            resources, "GET", f"{base}/{version}/customers:listAccessibleCustomers", headers=headers
        )
        refresh_ms = round(token.latency_ms, 1)
        if reply.status != 200:
            return api_failure(reply, token_refresh_ms=refresh_ms)
        names = reply.json_object().get("resourceNames") or []
        if not isinstance(names, list):
            return Outcome.unhealthy(
                "resourceNames is not a list", reply.latency_ms, error="bad_body", http_status=200
            )
        accessible = {str(name).rsplit("/", 1)[-1] for name in names}
        cid = customer_digits(s["customer_id"])
        facts: dict[str, Any] = {
            "http_status": 200,
            "accessible_customers": len(accessible),
            "token_refresh_ms": refresh_ms,
        }
        if cid not in accessible:
            return Outcome.unhealthy(
                f"customer {_dashed(cid)} is not accessible with this login",
                reply.latency_ms,
                error="config",
                **facts,
            )
        return Outcome.healthy(reply.latency_ms, **facts)
