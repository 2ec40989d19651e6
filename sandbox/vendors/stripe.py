"""Stripe: `GET /v1/balance` with a secret key as Bearer token or Basic username."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import basic, bearer, json_response, new_id

API_VERSION = "2026-09-30.endive"
NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, "
    "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). "
    "See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."
)


def _masked(key: str) -> str:
    prefix = key[:8] if key.startswith(("sk_", "rk_")) else ""
    return f"{prefix}{'*' * 4}{key[-4:]}"


def _error(
    status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None
) -> Response:
    error: dict[str, Any] = {"message": message, "type": type_}
    if code is not None:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    retry = "true" if status == 429 or status >= 500 else "false"
    return json_response({"error": error}, status, {"Stripe-Should-Retry": retry})


class Stripe(Vendor):
    service = "stripe"
    prefix = "/stripe"

    def _key(self, call: Call) -> str | None:
        token = bearer(call.request)
        if token is not None:
            return token
        pair = basic(call.request)
        return pair[0] if pair is not None else None

    async def refuse(self, call: Call) -> Response | None:
        key = self._key(call)
        if key is None:
            return _error(401, NO_KEY)
        if key != self.state.platform.stripe_key:
            return _error(401, f"Invalid API Key provided: {_masked(key)}")
        return None

    @serves("/v1/balance")
    async def balance(self, call: Call) -> Response:
        return json_response(
            {
                "object": "balance",
                "livemode": False,
                "available": [{"amount": 1_234_500, "currency": "usd", "source_types": {"card": 1_234_500}}],
                "pending": [{"amount": 2_500, "currency": "usd", "source_types": {"card": 2_500}}],
                "connect_reserved": [{"amount": 0, "currency": "usd"}],
                "instant_available": [
                    {"amount": 1_234_500, "currency": "usd", "source_types": {"card": 1_234_500}}
                ],
            }
        )

    def http_error(self, call: Call, fault: Fault) -> Response:
        status = fault.params["status"]
        if status < 500:
            return _error(status, fault.params["error"] or "Invalid request.")
        return _error(status, "An unknown error occurred", type_="api_error")

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        return _error(
            429,
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            code="rate_limit",
        )

    def revoked(self, call: Call, fault: Fault) -> Response:
        return _error(401, f"Invalid API Key provided: {_masked(self._key(call) or '')}")

    def expired(self, call: Call, fault: Fault) -> Response:
        return _error(
            401, f"Expired API Key provided: {_masked(self._key(call) or '')}", code="api_key_expired"
        )

    def decorate(self, call: Call, response: Response) -> None:
        response.headers["Request-Id"] = new_id("req_")
        response.headers["Stripe-Version"] = call.request.headers.get("stripe-version", API_VERSION)
