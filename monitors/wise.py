"""Wise: GET /v2/profiles (or the v1 shape) with the platform's API token."""

from __future__ import annotations

from typing import Any

from healthmon.monitors.base import Target
from healthmon.monitors.http import HttpMonitor, Reply, error_message, failure, fetch, http_metrics
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

#: headers Wise sets on a strong-customer-authentication challenge (names unconfirmed, both read)
SCA_HEADERS = ("x-2fa-approval", "x-2fa-approval-result")


def _vendor_message(body: bytes) -> str | None:
    # OAuth-style errors, Spring-style 500s, and validation errors as {"errors": [{"message"}]}
    return error_message(body, ("error_description",), ("message",), ("error",), ("errors", 0, "message"))


def _deactivated(profile: dict[str, Any]) -> bool:
    return str(profile.get("currentState") or "").upper() == "DEACTIVATED"


def _refused(reply: Reply) -> Outcome:
    if reply.status == 403 and any(name in reply.headers for name in SCA_HEADERS):
        return Outcome.unhealthy(
            "strong customer authentication required",
            reply.latency_ms,
            error="auth",
            http_status=403,
            sca_result=reply.headers.get("x-2fa-approval-result"),
        )
    return failure(reply, _vendor_message(reply.body))


class WiseMonitor(HttpMonitor):
    service = "wise"
    tier = Tier.INTEGRATION
    required = ("api_token",)
    description = "GET /v2/profiles (Bearer API token); the configured profile must be listed and active"
    metrics = http_metrics("profiles", "profiles_deactivated")

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        base = self.base_url(s, "https://api.wise.com")
        path = str(s.get("api_path") or "/v2/profiles")
        reply = await fetch(
            resources, "GET", f"{base}{path}", headers={"Authorization": f"Bearer {s['api_token']}"}
        )
        if reply.status != 200:
            return _refused(reply)
        profiles = reply.json()
        if not isinstance(profiles, list):
            return Outcome.unhealthy(
                "answer is not a list of profiles", reply.latency_ms, error="bad_body", http_status=200
            )
        listed = [p for p in profiles if isinstance(p, dict)]
        facts: dict[str, Any] = {"http_status": 200, "profiles": len(listed)}
        if not listed:
            return Outcome.unhealthy("the token sees no profiles", reply.latency_ms, error="config", **facts)
        wanted = s.get("profile_id")
        chosen = listed
        if wanted not in (None, ""):
            # Match on the numeric id or the public id: config files hold either, as text or number.
            chosen = [p for p in listed if str(wanted) in (str(p.get("id")), str(p.get("publicId")))]
            if not chosen:
                return Outcome.unhealthy(
                    f"profile {wanted} is not among the token's profiles",
                    reply.latency_ms,
                    error="config",
                    **facts,
                )
            facts["profile_id"] = chosen[0].get("id")
            # v1 answers lowercase types and no currentState; v2 uppercase types.
            facts["profile_type"] = str(chosen[0].get("type") or "").upper() or None
            facts["profile_state"] = chosen[0].get("currentState")
        facts["profiles_deactivated"] = sum(1 for p in listed if _deactivated(p))
        # Without a configured profile, one retired profile among several is not an outage.
        if all(_deactivated(p) for p in chosen):
            which = f"profile {wanted}" if wanted not in (None, "") else "every profile"
            facts["profile_state"] = "DEACTIVATED"
            return Outcome.unhealthy(f"{which} is DEACTIVATED", reply.latency_ms, error="account", **facts)
        return Outcome.healthy(reply.latency_ms, **facts)
