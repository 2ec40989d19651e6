"""Meta Marketing API (per tenant): the tenant token via debug_token, then the tenant's ad account."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from healthmon.monitors.base import Target, TenantKeyFormat
from healthmon.monitors.http import HttpMonitor, Reply, failure, fetch, http_metrics
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v26.0"
ACCOUNT_FIELDS = "account_status,disable_reason,name,currency"
REQUIRED_SCOPE = "ads_read"
DAY_S = 86_400.0

ACCOUNT_ID = re.compile(r"act_\d+")
ACTIVE = 1
IN_GRACE_PERIOD = 9
ACCOUNT_STATUS = {
    1: "ACTIVE",
    2: "DISABLED",
    3: "UNSETTLED",
    7: "PENDING_RISK_REVIEW",
    8: "PENDING_SETTLEMENT",
    9: "IN_GRACE_PERIOD",
    100: "PENDING_CLOSURE",
    101: "CLOSED",
    201: "ANY_ACTIVE",
    202: "ANY_CLOSED",
}
DISABLE_REASON = {
    0: "NONE",
    1: "ADS_INTEGRITY_POLICY",
    2: "ADS_IP_REVIEW",
    3: "RISK_PAYMENT",
    4: "GRAY_ACCOUNT_SHUT_DOWN",
    5: "ADS_AFC_REVIEW",
    6: "BUSINESS_INTEGRITY_RAR",
    7: "PERMANENT_CLOSE",
    8: "UNUSED_RESELLER_ACCOUNT",
    9: "UNUSED_ACCOUNT",
}

TOKEN_CODES = frozenset({102, 190})
TOKEN_SUBCODES = {
    458: "app not installed for the token's user",
    459: "token's user is checkpointed",
    460: "access token invalidated by a password change",
    463: "access token expired",
    464: "token's user is unconfirmed",
    467: "access token invalid (user logged out or token revoked)",
}
# 341 (application limit reached) is a throttle too, though not in the usual lists
RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
TRANSIENT_CODES = frozenset({1, 2})
# code 100 with this subcode: "Object with ID ... does not exist, cannot be loaded due to missing permissions"
MISSING_OBJECT = 33

USAGE_HEADERS = (
    "x-app-usage",
    "x-ad-account-usage",
    "x-business-use-case-usage",
    "x-fb-ads-insights-throttle",
)
USAGE_PCT_KEYS = ("call_count", "total_cputime", "total_time", "acc_id_util_pct", "app_id_util_pct")
# Graph messages link to docs; the app secret travels in a query string, so no URL goes into details
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Usage:
    """The highest percent used across Meta's usage headers, and the longest wait they announce."""

    peak_pct: float | None = None
    regain_min: float = 0.0

    def merge(self, other: Usage) -> Usage:
        peaks = [p for p in (self.peak_pct, other.peak_pct) if p is not None]
        return Usage(max(peaks) if peaks else None, max(self.regain_min, other.regain_min))

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.peak_pct is not None:
            out["rate_limit_remaining_pct"] = round(max(0.0, 100.0 - self.peak_pct), 1)
        if self.regain_min > 0:
            out["retry_after_s"] = self.regain_min * 60
        return out


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _dicts(node: Any) -> Iterator[dict[str, Any]]:
    # X-Business-Use-Case-Usage nests lists of entries under account ids; the others are flat
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _dicts(value)


def usage_of(headers: Mapping[str, str]) -> Usage:
    peak: float | None = None
    regain = 0.0
    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        for entry in _dicts(data):
            for key in USAGE_PCT_KEYS:
                value = _number(entry.get(key))
                if value is not None:
                    peak = value if peak is None else max(peak, value)
            regain = max(regain, _number(entry.get("estimated_time_to_regain_access")) or 0.0)
    return Usage(peak, regain)


def days_until(epoch_s: Any) -> float | None:
    """Days left before a debug_token timestamp; None when it never expires (0) or is absent."""
    at = _number(epoch_s)
    if not at:
        return None
    return round((at - time.time()) / DAY_S, 2)


def _clean(message: Any) -> str | None:
    if not isinstance(message, str) or not message:
        return None
    return _URL.sub("<link>", message)[:200]


def _code_text(code: int | None, subcode: Any) -> str | None:
    if code is None:
        return None
    return f"{code}/{subcode}" if isinstance(subcode, int) else str(code)


def graph_failure(reply: Reply, usage: Usage, *, app_token: bool = False) -> Outcome:
    """Verdict on a Graph error answer, which Meta mostly sends as HTTP 400 with `error.code`.

    `app_token`: the call was authenticated by app_id|app_secret (debug_token), so a token
    error there is about the platform's app credentials, not the tenant's token.
    """
    try:
        body: Any = json.loads(reply.body)
    except (ValueError, UnicodeDecodeError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode")
    message = _clean(error.get("message"))
    extra: dict[str, Any] = {"http_status": reply.status, "meta_error": _code_text(code, subcode)}
    extra.update(usage.details())
    if code in TOKEN_CODES:
        reason = TOKEN_SUBCODES.get(subcode) if isinstance(subcode, int) else None
        if app_token:
            reason = f"app credentials rejected: {message or code}"
        return Outcome.unhealthy(
            reason or message or "access token rejected", reply.latency_ms, error="auth", **extra
        )
    if code in RATE_LIMIT_CODES:
        return Outcome.degraded(
            message or "rate limited", reply.latency_ms, error="rate_limited", rate_limited=True, **extra
        )
    if code in PERMISSION_CODES:
        return Outcome.unhealthy(
            f"permission denied: {message or code}", reply.latency_ms, error="auth", **extra
        )
    if code == 100 and subcode == MISSING_OBJECT:
        return Outcome.unhealthy(
            "ad account does not exist or this token cannot see it", reply.latency_ms, error="config", **extra
        )
    if code in TRANSIENT_CODES:
        return Outcome.unhealthy(
            message or "Meta service error", reply.latency_ms, error="vendor_error", **extra
        )
    extra.pop("http_status")
    return failure(reply, message, **extra)


def invalid_token(token: Mapping[str, Any], reply: Reply, usage: Usage) -> Outcome:
    error = token.get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("subcode")
    reason = TOKEN_SUBCODES.get(subcode) if isinstance(subcode, int) else None
    return Outcome.unhealthy(
        reason or _clean(error.get("message")) or "access token is not valid",
        reply.latency_ms,
        error="auth",
        http_status=reply.status,
        meta_error=_code_text(code, subcode),
        **usage.details(),
    )


class MetaAdsMonitor(HttpMonitor):
    service = "meta_ads"
    tier = Tier.INTEGRATION
    per_tenant = True
    required = ("ad_account_id", "access_token", "app_id", "app_secret")
    description = (
        "GET /{v}/debug_token (app token), then GET /{v}/act_<id>?fields=account_status,... (tenant)"
    )
    metrics = http_metrics(
        "debug_token_ms", "token_expires_in_days", "data_access_expires_in_days", "rate_limit_remaining_pct"
    )
    tenant_public_keys = ("ad_account_id",)
    tenant_secret_keys = ("access_token",)
    tenant_formats = (TenantKeyFormat("ad_account_id", ACCOUNT_ID, "look like act_<digits>"),)

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        root = f"{self.base_url(s, DEFAULT_BASE_URL)}/{s.get('api_version') or DEFAULT_API_VERSION}"
        debug = await fetch(
            resources,
            "GET",
            f"{root}/debug_token",
            params={"input_token": s["access_token"], "access_token": f"{s['app_id']}|{s['app_secret']}"},
        )
        usage = usage_of(debug.headers)
        if debug.status != 200:
            return graph_failure(debug, usage, app_token=True)
        token = debug.json_object().get("data")
        if not isinstance(token, dict):
            return Outcome.unhealthy(
                "debug_token answer without data", debug.latency_ms, error="bad_body", http_status=200
            )
        if token.get("is_valid") is not True:
            return invalid_token(token, debug, usage)
        scopes = token.get("scopes")
        if isinstance(scopes, list) and REQUIRED_SCOPE not in scopes:
            return Outcome.unhealthy(
                f"missing scope {REQUIRED_SCOPE}", debug.latency_ms, error="auth", http_status=200
            )
        expiry = {
            metric: days
            for metric, days in (
                ("token_expires_in_days", days_until(token.get("expires_at"))),
                ("data_access_expires_in_days", days_until(token.get("data_access_expires_at"))),
            )
            if days is not None
        }

        account = await fetch(
            resources,
            "GET",
            f"{root}/{s['ad_account_id']}",
            headers={"Authorization": f"Bearer {s['access_token']}"},
            params={"fields": ACCOUNT_FIELDS},
        )
        # latency_ms is the whole check (both calls); debug_token_ms tells them apart
        account = replace(account, latency_ms=debug.latency_ms + account.latency_ms)
        usage = usage.merge(usage_of(account.headers))
        facts: dict[str, Any] = {"debug_token_ms": round(debug.latency_ms, 1), **expiry}
        if account.status != 200:
            outcome = graph_failure(account, usage)
            return replace(outcome, details={**outcome.details, **facts})
        body = account.json_object()
        status = body.get("account_status")
        if not isinstance(status, int):
            return Outcome.unhealthy(
                "ad account answer without account_status",
                account.latency_ms,
                error="bad_body",
                http_status=200,
            )
        facts.update(http_status=200, account_status=ACCOUNT_STATUS.get(status, str(status)))
        facts.update(usage.details())
        if isinstance(body.get("currency"), str):
            facts["currency"] = body["currency"]
        if status != ACTIVE:
            reason = body.get("disable_reason")
            named = DISABLE_REASON.get(reason, str(reason)) if isinstance(reason, int) else None
            text = f"ad account {facts['account_status']}"
            if named and named != "NONE":
                facts["disable_reason"] = named
                text += f" (disable reason {named})"
            verdict = Outcome.degraded if status == IN_GRACE_PERIOD else Outcome.unhealthy
            return verdict(text, account.latency_ms, error="account", **facts)
        if usage.regain_min > 0:
            return Outcome.degraded(
                f"throttled: access regained in about {usage.regain_min:g} min",
                account.latency_ms,
                error="rate_limited",
                rate_limited=True,
                **facts,
            )
        return Outcome.healthy(account.latency_ms, **facts)
