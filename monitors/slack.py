"""Slack: POST /api/auth.test with the bot token; errors come as HTTP 200 `ok: false`."""

from __future__ import annotations

from typing import Any

from healthmon.monitors.base import Target
from healthmon.monitors.http import HttpMonitor, error_message, failure, fetch, http_metrics
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

#: `ok: false` codes that mean the token itself no longer works
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "org_login_required",
        "ekm_access_denied",
    }
)
#: `ok: false` codes that mean Slack itself is failing
VENDOR_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})


def _not_ok(code: str, latency_ms: float) -> Outcome:
    facts: dict[str, Any] = {"http_status": 200, "slack_error": code}
    if code in AUTH_ERRORS:
        return Outcome.unhealthy(f"Slack refused the token: {code}", latency_ms, error="auth", **facts)
    if code in ("ratelimited", "rate_limited"):
        return Outcome.degraded(
            f"rate limited: {code}", latency_ms, error="rate_limited", rate_limited=True, **facts
        )
    if code in VENDOR_ERRORS:
        return Outcome.unhealthy(f"Slack error: {code}", latency_ms, error="vendor_error", **facts)
    return Outcome.unhealthy(f"Slack refused the call: {code}", latency_ms, error="client_error", **facts)


class SlackMonitor(HttpMonitor):
    service = "slack"
    tier = Tier.EXTERNAL
    required = ("bot_token",)
    description = "POST /api/auth.test (Bearer bot token)"
    metrics = http_metrics("token_expires_in_days")

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        base = self.base_url(s, "https://slack.com/api")
        reply = await fetch(
            resources, "POST", f"{base}/auth.test", headers={"Authorization": f"Bearer {s['bot_token']}"}
        )
        if reply.status != 200:
            code = error_message(reply.body, ("error",))
            return failure(reply, code, slack_error=code)
        body = reply.json_object()
        if body.get("ok") is not True:
            code = body.get("error")
            if body.get("ok") is not False or not isinstance(code, str) or not code:
                return Outcome.unhealthy(
                    "answer has no ok flag", reply.latency_ms, error="bad_body", http_status=200
                )
            return _not_ok(code[:100], reply.latency_ms)
        facts: dict[str, Any] = {
            "http_status": 200,
            "team": body.get("team"),
            "team_id": body.get("team_id"),
            "bot_id": body.get("bot_id"),
            "user_id": body.get("user_id"),
        }
        expires_in = body.get("expires_in")
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            facts["token_expires_in_days"] = round(expires_in / 86_400, 3)
        scopes = reply.headers.get("x-oauth-scopes")
        if scopes:
            facts["scopes"] = sorted(x.strip() for x in scopes.split(",") if x.strip())
        if isinstance(body.get("warning"), str):
            facts["warning"] = body["warning"][:200]
        return Outcome.healthy(reply.latency_ms, **facts)
