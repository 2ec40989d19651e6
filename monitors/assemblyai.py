"""AssemblyAI: GET /v2/transcript?limit=1 with the platform's API key (raw, no Bearer)."""

from __future__ import annotations

from typing import Any

from healthmon.monitors.base import Target
from healthmon.monitors.http import HttpMonitor, error_message, failure, fetch, http_metrics
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier


class AssemblyAIMonitor(HttpMonitor):
    service = "assemblyai"
    tier = Tier.EXTERNAL
    required = ("api_key",)
    description = "GET /v2/transcript?limit=1 (raw API key in Authorization)"
    metrics = http_metrics("latest_transcript_error")

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        base = self.base_url(s, "https://api.assemblyai.com")
        version = s.get("api_version") or "v2"
        reply = await fetch(
            resources,
            "GET",
            f"{base}/{version}/transcript",
            # AssemblyAI refuses "Bearer <key>" like a wrong key: the key goes in bare.
            headers={"Authorization": str(s["api_key"])},
            params={"limit": 1},
        )
        if reply.status != 200:
            message = error_message(reply.body, ("error",))
            if reply.status == 400 and message and "balance is negative" in message.lower():
                # Every transcription is refused until someone tops up: an account state, not a bug.
                return Outcome.unhealthy(
                    "account balance is negative", reply.latency_ms, error="account", http_status=400
                )
            return failure(reply, message)
        body = reply.json_object()
        transcripts = body.get("transcripts")
        if not isinstance(transcripts, list):
            return Outcome.unhealthy("answer has no transcript list", reply.latency_ms, error="bad_body")
        extra: dict[str, Any] = {}
        # Newest first. A failed transcript is usually a bad audio URL from the caller, so it
        # is reported for dashboards and never decides the status.
        latest = transcripts[0] if transcripts and isinstance(transcripts[0], dict) else None
        if latest is not None:
            extra["latest_transcript_error"] = latest.get("status") == "error"
        return Outcome.healthy(reply.latency_ms, http_status=200, **extra)
