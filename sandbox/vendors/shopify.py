"""Shopify Admin API, per shop: GraphQL `shop` query and the legacy REST `shop.json`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import json_body, json_response, new_id
from healthmon.sandbox.state import Tenant

BUCKET = 2000.0
RESTORE_RATE = 100.0
REST_BUCKET = 40
THROTTLED_REST = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_ERRORS = {
    400: "Bad Request",
    402: "Unavailable Shop",
    403: "[API] This action requires merchant approval for read_products scope.",
    404: "Not Found",
    423: "Shop is locked",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Shopify(Vendor):
    service = "shopify"
    prefix = "/shopify/{shop}"

    def _tenant(self, request: Request) -> Tenant | None:
        return self.state.by_shop.get(request.path_params["shop"])

    @staticmethod
    def _is_graphql(call: Call) -> bool:
        return str(call.request.scope["path"]).endswith("/graphql.json")

    async def refuse(self, call: Call) -> Response | None:
        tenant = call.tenant
        if tenant is None:
            return json_response({"errors": "Not Found"}, 404)
        if call.request.headers.get("x-shopify-access-token") != tenant.shopify_token:
            return json_response({"errors": INVALID_TOKEN}, 401)
        frozen = call.fault("shop_frozen")
        if frozen is not None:
            status = frozen.params["status"]
            return json_response({"errors": _ERRORS[status]}, status)
        return None

    @staticmethod
    def _available(call: Call, cost: float) -> float:
        near = call.fault("near_limit")
        if near is not None:
            return round(BUCKET * (1 - float(near.params["pct"]) / 100), 1)
        return BUCKET - cost

    @serves("/admin/api/{version}/graphql.json", "POST", tenant_of=_tenant)
    async def graphql(self, call: Call) -> Response:
        try:
            body = await json_body(call.request)
        except ValueError:
            return json_response({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return json_response({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        tenant = call.tenant
        assert tenant is not None
        return json_response(
            {
                "data": {
                    "shop": {
                        "name": tenant.name,
                        "myshopifyDomain": tenant.shop,
                        "plan": {
                            "displayName": "Shopify Plus",
                            "partnerDevelopment": False,
                            "shopifyPlus": True,
                        },
                    }
                },
                "extensions": {"cost": _cost(1.0, self._available(call, 1.0))},
            }
        )

    @serves("/admin/api/{version}/shop.json", tenant_of=_tenant)
    async def shop_json(self, call: Call) -> Response:
        tenant = call.tenant
        assert tenant is not None
        number = int(tenant.id.rsplit("-", 1)[-1])
        return json_response(
            {
                "shop": {
                    "id": 60_000_000_000 + number,
                    "name": tenant.name,
                    "email": f"owner@{tenant.id}.example",
                    "domain": tenant.shop,
                    "myshopify_domain": tenant.shop,
                    "plan_name": "shopify_plus",
                    "plan_display_name": "Shopify Plus",
                    "currency": "USD",
                    "country_code": "US",
                    "created_at": "2024-01-01T00:00:00-05:00",
                }
            }
        )

    # -- fault hooks ----------------------------------------------------------------------------

    def http_error(self, call: Call, fault: Fault) -> Response:
        status = fault.params["status"]
        return json_response({"errors": fault.params["error"] or _ERRORS.get(status, "Error")}, status)

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        if self._is_graphql(call):
            return json_response(
                {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {"cost": _cost(10.0, 0.0)},
                }
            )
        retry = fault.params["retry_after"]
        return json_response(
            {"errors": THROTTLED_REST},
            429,
            {
                "Retry-After": f"{2.0 if retry is None else retry:.1f}",
                "X-Shopify-Shop-Api-Call-Limit": "40/40",
            },
        )

    def revoked(self, call: Call, fault: Fault) -> Response:
        return json_response({"errors": INVALID_TOKEN}, 401)

    def decorate(self, call: Call, response: Response) -> None:
        # Appended to the raw list: this runs on every request of the throughput benchmark,
        # and MutableHeaders assignment scans the list first.
        raw = response.raw_headers
        raw.append((b"x-shopify-api-version", str(call.request.path_params.get("version", "")).encode()))
        raw.append((b"x-request-id", new_id().encode()))
        if not self._is_graphql(call) and not any(k == b"x-shopify-shop-api-call-limit" for k, _ in raw):
            near = call.fault("near_limit")
            used = max(1, round(REST_BUCKET * near.params["pct"] / 100)) if near is not None else 1
            raw.append((b"x-shopify-shop-api-call-limit", f"{used}/{REST_BUCKET}".encode()))


def _cost(requested: float, available: float) -> dict[str, Any]:
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": requested if available > 0 else None,
        "throttleStatus": {
            "maximumAvailable": BUCKET,
            "currentlyAvailable": available,
            "restoreRate": RESTORE_RATE,
        },
    }
