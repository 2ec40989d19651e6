"""Yotpo: Core API v3 store tokens and products, plus the legacy utoken endpoints.

Error bodies are not documented publicly; the `{"errors":[...]}` shape here is a guess.
"""

from __future__ import annotations

from typing import Any, ClassVar

from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.limits import retry_after
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import json_body, json_response

#: Core API v3 allows about 5 requests a second per store
RATE_LIMIT = 5


def _error(status: int, message: str) -> Response:
    return json_response({"errors": [{"code": status, "message": message}]}, status)


class Yotpo(Vendor):
    service = "yotpo"
    prefix = "/yotpo"
    #: the docs name only `RateLimit-Remaining` (format unconfirmed); tests turn on a limit header
    send_limit_header: ClassVar[bool] = False

    async def _body(self, call: Call) -> dict[str, Any]:
        try:
            body = await json_body(call.request)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    # Token endpoints check `revoked` themselves: an expired access token must not
    # stop the client from fetching a new one.
    @serves("/core/v3/stores/{store_id}/access_tokens", "POST", authed=False)
    async def access_token(self, call: Call) -> Response:
        platform = self.state.platform
        if call.request.path_params["store_id"] != platform.yotpo_store_id:
            return _error(404, "Store not found")
        body = await self._body(call)
        if body.get("secret") != platform.yotpo_secret or call.fault("revoked") is not None:
            return _error(401, "Unauthorized")
        return json_response({"access_token": platform.yotpo_access_token})

    @serves("/core/v3/stores/{store_id}/products")
    async def products(self, call: Call) -> Response:
        platform = self.state.platform
        if call.request.headers.get("x-yotpo-token") != platform.yotpo_access_token:
            return _error(401, "Unauthorized")
        if call.request.path_params["store_id"] != platform.yotpo_store_id:
            return _error(404, "Store not found")
        return json_response(
            {
                "products": [
                    {
                        "yotpo_id": 400_000_001,
                        "external_id": "sandbox-product-1",
                        "name": "Sandbox Tee",
                        "url": "https://tenant-0001.myshopify.com/products/sandbox-tee",
                        "price": "25.00",
                        "currency": "USD",
                    }
                ],
                "pagination": {"limit": 1, "next_page_info": None},
            }
        )

    @serves("/oauth/token", "POST", authed=False)
    async def legacy_token(self, call: Call) -> Response:
        platform = self.state.platform
        body = await self._body(call)
        if body.get("grant_type") != "client_credentials":
            return _error(400, "unsupported grant_type")
        if (
            body.get("client_id") != platform.yotpo_store_id
            or body.get("client_secret") != platform.yotpo_secret
            or call.fault("revoked") is not None
        ):
            return _error(401, "Unauthorized")
        return json_response({"access_token": platform.yotpo_access_token, "token_type": "bearer"})

    @serves("/v1/apps/{app_key}/reviews")
    async def legacy_reviews(self, call: Call) -> Response:
        platform = self.state.platform
        if call.request.query_params.get("utoken") != platform.yotpo_access_token:
            return json_response(
                {"status": {"code": 401, "message": "Invalid token", "error_type": "Unauthorized"}}, 401
            )
        if call.request.path_params["app_key"] != platform.yotpo_store_id:
            return json_response(
                {"status": {"code": 404, "message": "App not found", "error_type": "NotFound"}}, 404
            )
        return json_response(
            {"status": {"code": 200, "message": "OK"}, "response": {"reviews": [], "total": 0}}
        )

    def http_error(self, call: Call, fault: Fault) -> Response:
        return _error(fault.params["status"], fault.params["error"] or "Internal Server Error")

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        return json_response(
            {"errors": [{"code": 429, "message": "Too Many Requests"}]}, 429, retry_after(fault)
        )

    def revoked(self, call: Call, fault: Fault) -> Response:
        return _error(401, "Unauthorized")

    def decorate(self, call: Call, response: Response) -> None:
        if not call.request.url.path.endswith("/products"):
            return
        remaining = 0 if call.fault("rate_limited") is not None else RATE_LIMIT - 1
        response.headers["RateLimit-Remaining"] = str(remaining)
        if self.send_limit_header:
            response.headers["RateLimit-Limit"] = str(RATE_LIMIT)
