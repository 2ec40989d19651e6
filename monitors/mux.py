"""Mux Video: GET /video/v1/assets?limit=1 with the platform's access token (HTTP Basic)."""

from __future__ import annotations

from typing import Any

from healthmon.monitors.base import Target
from healthmon.monitors.http import HttpMonitor, error_message, failure, fetch, http_metrics, remaining_pct
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier


class MuxMonitor(HttpMonitor):
    service = "mux"
    tier = Tier.EXTERNAL
    required = ("token_id", "token_secret")
    description = "GET /video/v1/assets?limit=1 (HTTP Basic token id:secret)"
    metrics = http_metrics("rate_limit_remaining_pct", "latest_asset_errored")

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        base = self.base_url(s, "https://api.mux.com")
        version = s.get("api_version") or "v1"
        reply = await fetch(
            resources,
            "GET",
            f"{base}/video/{version}/assets",
            params={"limit": 1},
            auth=(str(s["token_id"]), str(s["token_secret"])),
        )
        extra: dict[str, Any] = {}
        headroom = remaining_pct(reply.headers)
        if headroom is not None:
            extra["rate_limit_remaining_pct"] = headroom
        if reply.status != 200:
            message = error_message(reply.body, ("error", "messages", 0))
            kind = error_message(reply.body, ("error", "type"))
            if reply.status == 403:
                # A valid token without the Video read permission: every asset call fails alike.
                message = f"token lacks permission: {message}" if message else "token lacks permission"
            return failure(reply, message, mux_error_type=kind, **extra)
        body = reply.json_object()
        assets = body.get("data")
        if not isinstance(assets, list):
            return Outcome.unhealthy("answer has no asset list", reply.latency_ms, error="bad_body")
        # Assets list newest first. A failed encode is the uploader's problem, not Mux's health:
        # reported for dashboards, never a status of its own.
        latest = assets[0] if assets and isinstance(assets[0], dict) else None
        if latest is not None:
            extra["latest_asset_errored"] = latest.get("status") == "errored"
        return Outcome.healthy(reply.latency_ms, http_status=200, **extra)
