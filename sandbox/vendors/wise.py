"""Wise: `GET /v1/profiles` and `GET /v2/profiles` with a Bearer API token."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.limits import retry_after
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import bearer, iso, json_response, new_id, now

MISSING = {
    "error": "unauthorized",
    "error_description": "Full authentication is required to access this resource",
}
INVALID = {"error": "invalid_token", "error_description": "Invalid token"}


class Wise(Vendor):
    service = "wise"
    prefix = "/wise"

    def _state(self, call: Call) -> str:
        return "DEACTIVATED" if call.fault("profile_deactivated") else "VISIBLE"

    @serves("/v2/profiles")
    async def profiles_v2(self, call: Call) -> Response:
        pid = self.state.platform.wise_profile_id
        state = self._state(call)
        common: dict[str, Any] = {
            "createdAt": "2024-01-01T00:00:00",
            "updatedAt": iso(now())[:19],
            "currentState": state,
        }
        return json_response(
            [
                {
                    "id": pid,
                    "publicId": f"p-{pid}",
                    "userId": pid // 10,
                    "type": "PERSONAL",
                    "fullName": "Sandbox Owner",
                    "email": "owner@sandbox.example",
                    **common,
                },
                {
                    "id": pid + 1,
                    "publicId": f"p-{pid + 1}",
                    "userId": pid // 10,
                    "type": "BUSINESS",
                    "businessName": "Healthmon Sandbox Ltd",
                    "fullName": "Healthmon Sandbox Ltd",
                    **common,
                },
            ]
        )

    @serves("/v1/profiles")
    async def profiles_v1(self, call: Call) -> Response:
        pid = self.state.platform.wise_profile_id
        return json_response(
            [
                {"id": pid, "type": "personal", "details": {"firstName": "Sandbox", "lastName": "Owner"}},
                {"id": pid + 1, "type": "business", "details": {"name": "Healthmon Sandbox Ltd"}},
            ]
        )

    async def refuse(self, call: Call) -> Response | None:
        token = bearer(call.request)
        if token is None:
            return json_response(MISSING, 401)
        if token != self.state.platform.wise_token:
            return json_response(INVALID, 401)
        return None

    def http_error(self, call: Call, fault: Fault) -> Response:
        status = fault.params["status"]
        if status == 403 and fault.params["error"] is None:
            # A bare 403 is the strong-customer-authentication challenge (header names from
            # vendor-apis.md, unconfirmed); give `error` for a plain scope refusal instead.
            return json_response(
                {"errors": [{"code": "error.forbidden", "message": "SCA approval required", "path": None}]},
                403,
                {"x-2fa-approval-result": "REJECTED", "x-2fa-approval": new_id()},
            )
        if status < 500:
            return json_response(
                {
                    "errors": [
                        {
                            "code": "error.invalid",
                            "message": fault.params["error"] or "Invalid request",
                            "path": None,
                        }
                    ]
                },
                status,
            )
        return json_response(
            {
                "timestamp": iso(now()),
                "status": status,
                "error": "Internal Server Error",
                "exception": "java.lang.RuntimeException",
                "message": fault.params["error"] or "No message available",
                "path": str(call.request.scope["path"]).removeprefix(self.prefix),
            },
            status,
        )

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        return Response(b"", 429, retry_after(fault))

    def revoked(self, call: Call, fault: Fault) -> Response:
        return json_response(INVALID, 401)

    def expired(self, call: Call, fault: Fault) -> Response:
        return json_response({"error": "invalid_token", "error_description": "Access token expired"}, 401)
