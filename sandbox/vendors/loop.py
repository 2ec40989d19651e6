"""Loop Returns: the returns list behind an API gateway that answers 401 in its own shape."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.pipeline import Call, Vendor
from healthmon.sandbox.responses import iso, json_response, now

GATEWAY_401 = {"error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized"}}


class Loop(Vendor):
    service = "loop"
    prefix = "/loop"

    def routes(self) -> list[BaseRoute]:
        return [
            self.route("/api/v1/warehouse/return/list", self.returns, ["GET"]),
            self.route("/api/v1/webhooks", self.webhooks, ["GET"]),
        ]

    def _authorized(self, call: Call) -> bool:
        return call.request.headers.get("x-authorization") == self.state.platform.loop_api_key

    async def returns(self, call: Call) -> Response:
        if not self._authorized(call):
            return json_response(GATEWAY_401, 401)
        quirk = call.fault("error_in_200")
        if quirk is not None:
            return json_response({"errors": quirk.params["message"]})
        query = call.request.query_params
        try:
            size = max(1, int(query.get("pageSize", "25")))
        except ValueError:
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

    async def webhooks(self, call: Call) -> Response:
        if not self._authorized(call):
            return json_response(GATEWAY_401, 401)
        return json_response([])

    def http_error(self, call: Call, fault: Fault) -> Response:
        return json_response({"message": fault.params["error"] or "Server Error"}, fault.params["status"])

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        retry = fault.params["retry_after"]
        headers = {"Retry-After": f"{retry:g}"} if retry is not None else None
        return json_response({"message": "Too Many Attempts."}, 429, headers)

    def revoked(self, call: Call, fault: Fault) -> Response:
        return json_response(GATEWAY_401, 401)
