"""Inngest REST v1/v2: events, runs, health and account, with a controllable failure count."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.limits import retry_after
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import bearer, count_param, iso, json_response, now

FAILED = "inngest/function.failed"
DEFAULT_LIMIT = 100
MAX_LIMIT = 100


def _v2_error(status: int, code: str, message: str) -> Response:
    return json_response({"errors": [{"code": code, "message": message}]}, status)


def _v1_error(status: int, message: str) -> Response:
    return json_response({"error": message, "status": status}, status)


def _parse_time(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _run(run_id: str, event_id: str, status: str, started: float, function_id: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "run_started_at": iso(started),
        "function_id": function_id,
        "function_version": 3,
        "environment_id": "env-production",
        "event_id": event_id,
        "status": status,
        "ended_at": iso(started + 1.2),
        "output": {"error": {"name": "Error", "message": "upstream returned 502"}}
        if status == "Failed"
        else {"ok": True},
    }


class Inngest(Vendor):
    service = "inngest"
    prefix = "/inngest"

    def _failed_events(self, call: Call) -> list[dict[str, Any]]:
        fault = call.fault("failed_jobs")
        if fault is None:
            return []
        count, function_id, spacing = (
            fault.params["count"],
            fault.params["function_id"],
            fault.params["spacing_s"],
        )
        events = []
        for index in range(count):
            ts = fault.created_at - index * spacing
            event_id = f"01FAILED{fault.id:06d}{index:06d}"
            events.append(
                {
                    "id": event_id,
                    "internal_id": event_id,
                    "name": FAILED,
                    "ts": int(ts * 1000),
                    "received_at": iso(ts),
                    "data": {
                        "error": {
                            "name": "Error",
                            "message": "upstream returned 502",
                            "stack": "Error: upstream\n    at run",
                        },
                        "event": {
                            "name": "shop/orders.sync",
                            "data": {"tenant": f"tenant-{index % 9999 + 1:04d}"},
                        },
                        "function_id": function_id,
                        "run_id": f"01RUNFAILED{fault.id:06d}{index:06d}",
                    },
                }
            )
        return events

    @serves("/v1/events")
    async def events(self, call: Call) -> Response:
        query = call.request.query_params
        limit = count_param(call.request, "limit", DEFAULT_LIMIT, most=MAX_LIMIT)
        if limit is None:
            return _v1_error(400, "invalid limit")
        name = query.get("name")
        after = query.get("received_after")
        after_ts = _parse_time(after) if after else None
        if after and after_ts is None:
            return _v1_error(400, "invalid received_after")
        if name == FAILED:
            events = self._failed_events(call)
        elif name:
            events = []
        else:
            ts = now() - 5
            events = [
                {
                    "id": "01HEALTHYEVENT000000000001",
                    "internal_id": "01HEALTHYEVENT000000000001",
                    "name": "shop/orders.sync",
                    "ts": int(ts * 1000),
                    "received_at": iso(ts),
                    "data": {"tenant": "tenant-0001"},
                },
                *self._failed_events(call),
            ]
        if after_ts is not None:
            events = [e for e in events if e["ts"] / 1000 > after_ts]
        page = events[:limit]
        return json_response(
            {
                "data": page,
                "metadata": {"fetched_at": iso(now()), "cached_until": None},
                "cursor": page[-1]["internal_id"] if len(events) > limit else None,
            }
        )

    @serves("/v1/events/{event_id}/runs")
    async def event_runs(self, call: Call) -> Response:
        event_id = call.request.path_params["event_id"]
        failed = event_id.startswith("01FAILED")
        run_id = ("01RUNFAILED" + event_id[len("01FAILED") :]) if failed else f"01RUN{event_id[-12:]}"
        status = "Failed" if failed else "Completed"
        return json_response(
            {"data": [_run(run_id, event_id, status, now() - 60, "healthmon-sandbox-sync-orders")]}
        )

    @serves("/v1/runs/{run_id}")
    async def run(self, call: Call) -> Response:
        run_id = call.request.path_params["run_id"]
        failed = run_id.startswith("01RUNFAILED")
        event_id = ("01FAILED" + run_id[len("01RUNFAILED") :]) if failed else "01HEALTHYEVENT000000000001"
        status = "Failed" if failed else "Completed"
        return json_response(
            {"data": _run(run_id, event_id, status, now() - 60, "healthmon-sandbox-sync-orders")}
        )

    @staticmethod
    def _envelope(data: Any) -> dict[str, Any]:
        return {"data": data, "metadata": {"fetchedAt": iso(now()), "cachedUntil": None}}

    @serves("/v2/health", authed=False)
    async def v2_health(self, call: Call) -> Response:
        return json_response(self._envelope({"status": "ok"}))

    @serves("/v2/account")
    async def v2_account(self, call: Call) -> Response:
        return json_response(
            self._envelope(
                {"id": "acct_sandbox", "name": "Healthmon Sandbox", "email": "ops@sandbox.example"}
            )
        )

    @serves("/v2/envs")
    async def v2_envs(self, call: Call) -> Response:
        body = self._envelope([{"id": "env-production", "name": "Production", "type": "production"}])
        body["page"] = {"cursor": None, "hasMore": False, "limit": 20}
        return json_response(body)

    @serves("/health", authed=False)
    async def health(self, call: Call) -> Response:
        return json_response({"status": 200})

    # -- credential and fault hooks -----------------------------------------------------------

    @staticmethod
    def _v2(call: Call) -> bool:
        return "/v2/" in call.request.scope["path"]

    def _unauthorized(self, call: Call) -> Response:
        if self._v2(call):
            return _v2_error(401, "unauthorized", "authentication failed")
        return _v1_error(401, "authentication failed")

    async def refuse(self, call: Call) -> Response | None:
        if bearer(call.request) != self.state.platform.inngest_signing_key:
            return self._unauthorized(call)
        return None

    def http_error(self, call: Call, fault: Fault) -> Response:
        status = fault.params["status"]
        if self._v2(call):
            return _v2_error(status, "internal_error", fault.params["error"] or "internal server error")
        return _v1_error(status, fault.params["error"] or "internal server error")

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        headers = retry_after(fault)
        if self._v2(call):
            return json_response(
                {"errors": [{"code": "rate_limited", "message": "rate limit exceeded"}]}, 429, headers
            )
        return json_response({"error": "rate limit exceeded", "status": 429}, 429, headers)

    def revoked(self, call: Call, fault: Fault) -> Response:
        return self._unauthorized(call)
