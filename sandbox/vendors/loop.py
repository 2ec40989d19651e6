"""Loop Returns: the returns list behind an API gateway that answers 401 in its own shape."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.limits import retry_after
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import count_param, iso, json_response, now

GATEWAY_401 = {"error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized"}}


class Loop(Vendor):
    service = "loop"
    prefix = "/loop"

    @serves("/api/v1/warehouse/return/list")
    async def returns(self, call: Call) -> Response:
        quirk = call.fault("error_in_200")
        if quirk is not None:
            return json_response({"errors": quirk.params["message"]})
        query = call.request.query_params
        size = count_param(call.request, "pageSize", 25)
        if size is None:
            return json_response(
                {"message": "The given data was invalid.", "errors": {"pageSize": ["must be an integer"]}},
                422,
            )
        created = now() - 3600
        rows: list[dict[str, Any]] = [
            {
                "id": 5_000_001 + index,
                "state": "open",
                "created_at": iso(created - index * 600)[:19].replace("T", " "),
                "updated_at": iso(created)[:19].replace("T", " "),
                "total": "42.00",
                "outcome": "exchange",
                "order_id": 7_000_001 + index,
                "order_name": f"#{1001 + index}",
                "line_items": [
                    {"id": 9_000_001 + index, "sku": "TEE-M", "title": "Sandbox Tee", "price": "42.00"}
                ],
            }
            for index in range(min(size, 2))
        ]
        if query.get("paginate") == "true":
            return json_response({"returns": rows, "nextCursor": None})
        return json_response(rows)

    @serves("/api/v1/webhooks")
    async def webhooks(self, call: Call) -> Response:
        return json_response([])

    async def refuse(self, call: Call) -> Response | None:
        if call.request.headers.get("x-authorization") != self.state.platform.loop_api_key:
            return json_response(GATEWAY_401, 401)
        return None

    def http_error(self, call: Call, fault: Fault) -> Response:
        return json_response({"message": fault.params["error"] or "Server Error"}, fault.params["status"])

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        return json_response({"message": "Too Many Attempts."}, 429, retry_after(fault))

    def revoked(self, call: Call, fault: Fault) -> Response:
        return json_response(GATEWAY_401, 401)
