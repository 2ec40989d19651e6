"""Mux Video: `GET /video/v1/assets` with Basic auth and rate-limit headers."""

from __future__ import annotations

from typing import ClassVar

from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.limits import calls_remaining, retry_after
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import basic, count_param, json_response, now

RATE_LIMIT = 100
UNAUTHORIZED = {"error": {"type": "unauthorized", "messages": ["Unauthorized request"]}}


def _error(status: int, type_: str, message: str) -> Response:
    return json_response({"error": {"type": type_, "messages": [message]}}, status)


class Mux(Vendor):
    service = "mux"
    prefix = "/mux"
    #: status of the newest asset; tests set "errored" (there is no fault kind for it)
    latest_status: ClassVar[str] = "ready"

    @serves("/video/v1/assets")
    async def assets(self, call: Call) -> Response:
        limit = count_param(call.request, "limit", 10, most=100)
        if limit is None:
            return _error(400, "invalid_parameters", "limit must be an integer")
        created = int(now()) - 3600
        assets = [
            {
                "id": f"sandboxasset{index:04d}",
                "status": self.latest_status if index == 0 else "ready",
                "created_at": str(created - index * 60),
                "duration": 12.3,
                "playback_ids": [{"id": f"sandboxplayback{index:04d}", "policy": "public"}],
                "max_resolution_tier": "1080p",
                "aspect_ratio": "16:9",
                "video_quality": "basic",
            }
            for index in range(min(limit, 3))
        ]
        return json_response({"data": assets, "next_cursor": None})

    async def refuse(self, call: Call) -> Response | None:
        platform = self.state.platform
        if basic(call.request) != (platform.mux_token_id, platform.mux_token_secret):
            return json_response(UNAUTHORIZED, 401)
        return None

    def http_error(self, call: Call, fault: Fault) -> Response:
        status = fault.params["status"]
        kinds = {403: "forbidden", 404: "not_found", 400: "invalid_parameters"}
        return _error(
            status,
            kinds.get(status, "internal_server_error"),
            fault.params["error"] or "Internal server error",
        )

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        return json_response(
            {"error": {"type": "too_many_requests", "messages": ["Too many requests"]}},
            429,
            retry_after(fault),
        )

    def revoked(self, call: Call, fault: Fault) -> Response:
        return json_response(UNAUTHORIZED, 401)

    def decorate(self, call: Call, response: Response) -> None:
        response.headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
        response.headers["X-RateLimit-Remaining"] = str(calls_remaining(call, RATE_LIMIT))
