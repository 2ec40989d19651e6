"""Inngest: an authenticated events read, then the `inngest/function.failed` events of a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from healthmon.monitors.base import CheckFailed, Target
from healthmon.monitors.http import HttpMonitor, Reply, error_message, failure, fetch, http_metrics
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

DEFAULT_BASE_URL = "https://api.inngest.com"
DEFAULT_FAILED_WINDOW_S = 3600
FAILED_EVENT = "inngest/function.failed"
# The v1 events API pages at 100. A full page is already far past any sane alert threshold,
# so the check reports "at least 100" (failed_runs_capped) instead of following the cursor.
PAGE_LIMIT = 100
MAX_FUNCTION_IDS = 10


class InngestMonitor(HttpMonitor):
    service = "inngest"
    tier = Tier.CORE
    required = ("signing_key",)
    description = "GET /v1/events?limit=1, then GET /v1/events?name=inngest/function.failed&received_after="
    metrics = http_metrics("failed_runs", "failed_functions", "failed_runs_capped")

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        url = f"{self.base_url(s, DEFAULT_BASE_URL)}/v1/events"
        headers = {"Authorization": f"Bearer {s['signing_key']}", "Accept": "application/json"}
        if s.get("env"):
            headers["X-Inngest-Env"] = str(s["env"])
        live = await fetch(resources, "GET", url, headers=headers, params={"limit": 1})
        _events(live)  # only proves the key is accepted
        window_s = int(s.get("failed_window_s") or DEFAULT_FAILED_WINDOW_S)
        since = (datetime.now(UTC) - timedelta(seconds=window_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
        params = {"name": FAILED_EVENT, "received_after": since, "limit": PAGE_LIMIT}
        failed_reply = await fetch(resources, "GET", url, headers=headers, params=params)
        page = _events(failed_reply)
        # Counted by name as well: a server that ignores the `name` filter must not turn every
        # event into a failure.
        failed = [e for e in page if isinstance(e, dict) and e.get("name", FAILED_EVENT) == FAILED_EVENT]
        data = [e["data"] for e in failed if isinstance(e.get("data"), dict)]
        functions = sorted({str(d["function_id"]) for d in data if d.get("function_id")})
        return Outcome.healthy(
            live.latency_ms,
            http_status=200,
            window_s=window_s,
            failed_runs=len(failed),
            failed_runs_capped=len(page) >= PAGE_LIMIT,
            # None when the events carry no function ids: 0 would read as "no failing function".
            failed_functions=len(functions) if functions or not failed else None,
            failed_function_ids=functions[:MAX_FUNCTION_IDS],
        )


def _events(reply: Reply) -> list[Any]:
    """The page of events; a refusal or an answer without one ends the check."""
    if reply.status != 200:
        raise CheckFailed(failure(reply, error_message(reply.body, ("error",), ("message",))))
    body = reply.json_object()
    data = body.get("data")
    if not isinstance(data, list):
        raise CheckFailed(
            Outcome.unhealthy("answer has no event list", reply.latency_ms, error="bad_body", http_status=200)
        )
    return data
