"""Vercel: GET /v2/user (the token), then the latest production deployment of the project."""

from __future__ import annotations

import time
from typing import Any

from healthmon.monitors.base import Target
from healthmon.monitors.http import (
    HttpMonitor,
    Reply,
    UpstreamFailure,
    error_message,
    failure,
    fetch,
    http_metrics,
    remaining_pct,
)
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

BUILDING_STATES = frozenset({"QUEUED", "INITIALIZING", "BUILDING"})
FAILED_STATES = frozenset({"ERROR", "CANCELED"})


class VercelMonitor(HttpMonitor):
    service = "vercel"
    tier = Tier.EXTERNAL
    required = ("token",)
    description = "GET /v2/user (Bearer token), then GET /v6/deployments?projectId=&target=production&limit=1"
    metrics = http_metrics("rate_limit_remaining_pct", "deployment_age_min")

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        base = self.base_url(s, "https://api.vercel.com")
        headers = {"Authorization": f"Bearer {s['token']}"}
        # teamId selects the team's projects; /v2/user is account-wide and must not get it
        user = await fetch(
            resources, "GET", f"{base}/{s.get('user_api_version') or 'v2'}/user", headers=headers
        )
        if user.status != 200:
            return _failure(user)
        user.json_object()
        headroom = [remaining_pct(user.headers)]
        latency = user.latency_ms
        facts: dict[str, Any] = {}
        project = s.get("project_id")
        if project:
            params: dict[str, Any] = {"projectId": project, "limit": 1, "target": "production"}
            if s.get("team_id"):
                params["teamId"] = s["team_id"]
            version = s.get("deployments_api_version") or "v6"
            reply = await fetch(
                resources, "GET", f"{base}/{version}/deployments", headers=headers, params=params
            )
            latency += reply.latency_ms
            if reply.status == 404:
                return Outcome.unhealthy(
                    f"project {project} not found", latency, error="config", http_status=404
                )
            if reply.status != 200:
                return _failure(reply)
            headroom.append(remaining_pct(reply.headers))
            deployments = reply.json_object().get("deployments")
            if not isinstance(deployments, list) or not deployments or not isinstance(deployments[0], dict):
                return Outcome.unhealthy(
                    f"no production deployment for project {project}",
                    latency,
                    error="config",
                    http_status=200,
                )
            facts = _deployment_facts(deployments[0])
        known = [p for p in headroom if p is not None]
        if known:
            # each endpoint has its own budget; the tightest one is the one that bites first
            facts["rate_limit_remaining_pct"] = min(known)
        return _decide(facts, float(s.get("deployment_stuck_min") or 30), latency)


def _failure(reply: Reply) -> Outcome:
    message = error_message(reply.body, ("error", "message"))
    code = error_message(reply.body, ("error", "code"))
    extra: dict[str, Any] = {"vercel_code": code}
    error = _error(reply)
    if error.get("invalidToken"):
        message = "token invalid, revoked or expired (invalidToken)"
    elif error.get("missingToken"):
        message = "token missing (missingToken)"
    if reply.status == 429 and reply.headers.get("retry-after") is None:
        # Vercel's 429 body carries the window end (epoch seconds) rather than a Retry-After
        limit = error.get("limit")
        reset = limit.get("reset") if isinstance(limit, dict) else None
        if isinstance(reset, int | float) and not isinstance(reset, bool):
            if reset > 1e11:  # a millisecond stamp, in case the unit ever changes
                reset /= 1000
            extra["retry_after_s"] = round(max(0.0, reset - time.time()), 1)
    return failure(reply, message, **extra)


def _error(reply: Reply) -> dict[str, Any]:
    try:
        body = reply.json()
    except UpstreamFailure:  # an unreadable error body only loses the vendor's words
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _deployment_facts(deployment: dict[str, Any]) -> dict[str, Any]:
    state = str(deployment.get("readyState") or deployment.get("state") or "")
    created = deployment.get("createdAt") or deployment.get("created")
    facts: dict[str, Any] = {
        "http_status": 200,
        "deployment_state": state,
        "deployment_id": deployment.get("uid"),
        "deployment_url": deployment.get("url"),
    }
    if isinstance(created, int | float) and not isinstance(created, bool):
        facts["deployment_age_min"] = round(max(0.0, time.time() - created / 1000) / 60, 1)
    if deployment.get("errorCode"):
        facts["deployment_error_code"] = str(deployment["errorCode"])[:100]
    return facts


def _decide(facts: dict[str, Any], stuck_min: float, latency: float) -> Outcome:
    state = facts.get("deployment_state")
    if state is None:  # no project configured: the token check alone
        return Outcome.healthy(latency, http_status=200, **facts)
    where = facts.get("deployment_url") or facts.get("deployment_id")
    if state in FAILED_STATES:
        code = facts.get("deployment_error_code")
        return Outcome.unhealthy(
            f"latest production deployment {state}: {where}" + (f" ({code})" if code else ""),
            latency,
            error="deployment",
            **facts,
        )
    age = facts.get("deployment_age_min")
    if state in BUILDING_STATES and age is not None and age > stuck_min:
        return Outcome.degraded(
            f"latest production deployment {state} for {age:g} min (> {stuck_min:g}): {where}",
            latency,
            error="deployment",
            **facts,
        )
    if state != "READY" and state not in BUILDING_STATES:
        return Outcome.unknown(f"unrecognised deployment state {state!r}: {where}", **facts)
    return Outcome.healthy(latency, **facts)
