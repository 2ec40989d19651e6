"""AssemblyAI: GET /v2/transcript?limit=1 with the platform's API key (raw, no Bearer)."""

from __future__ import annotations

from typing import Any, ClassVar

from healthmon.monitors.base import Monitor, Target
from healthmon.monitors.http import error_message, failure, fetch
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier


class AssemblyAIMonitor(Monitor):
    service = "assemblyai"
    tier = Tier.EXTERNAL
    required = ("api_key",)
    default_timeout_s = 10.0
    description = "GET /v2/transcript?limit=1 (raw API key in Authorization)"
    metrics: ClassVar[tuple[str, ...]] = (
        "latency_ms",
        "http_status",
        "latest_transcript_error",
        "rate_limited",
        "retry_after_s",
    )

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        base = str(s.get("base_url") or "https://api.assemblyai.com").rstrip("/")
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
