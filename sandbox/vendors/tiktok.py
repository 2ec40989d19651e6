"""TikTok Marketing API v1.3: authorized advertisers and advertiser info.

TikTok answers errors with HTTP 200 and a non-zero `code`; only `http_error` without a
`code` parameter produces a real HTTP error status.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import json_response, new_id
from healthmon.sandbox.state import Tenant

DEFAULT_FIELDS = ["advertiser_id", "name", "status", "currency", "balance", "company", "timezone", "role"]
_MESSAGES = {
    40001: "No permission to operate advertiser.",
    40002: "Invalid parameters.",
    40100: "Too many requests. Please retry in some time.",
    40101: "Invalid app_id or secret.",
    40102: "Access token has expired.",
    40104: "Access token is null.",
    40105: "Access token is incorrect or has been revoked.",
    50000: "System error.",
}


def tiktok_answer(code: int, data: Any = None, message: str | None = None, status: int = 200) -> Response:
    return json_response(
        {
            "code": code,
            "message": message or ("OK" if code == 0 else _MESSAGES.get(code, "Error")),
            "request_id": new_id(),
            "data": {} if data is None else data,
        },
        status,
    )


def _json_list(raw: str | None) -> list[Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


class TikTok(Vendor):
    service = "tiktok_ads"
    prefix = "/tiktok"

    def _tenant(self, request: Request) -> Tenant | None:
        return self.state.by_tiktok_token.get(request.headers.get("access-token", ""))

    @serves("/open_api/{api_version}/oauth2/advertiser/get/", tenant_of=_tenant)
    async def advertisers(self, call: Call) -> Response:
        query = call.request.query_params
        platform = self.state.platform
        if "app_id" not in query or "secret" not in query:
            return tiktok_answer(40002, message="app_id, secret: Missing data for required field.")
        if query["app_id"] != platform.tiktok_app_id or query["secret"] != platform.tiktok_secret:
            return tiktok_answer(40101)
        tenant = call.tenant
        assert tenant is not None
        return tiktok_answer(
            0,
            {
                "list": [
                    {"advertiser_id": tenant.tiktok_advertiser_id, "advertiser_name": f"{tenant.name} Ads"}
                ]
            },
        )

    @serves("/open_api/{api_version}/advertiser/info/", tenant_of=_tenant)
    async def advertiser_info(self, call: Call) -> Response:
        tenant = call.tenant
        assert tenant is not None
        query = call.request.query_params
        ids = _json_list(query.get("advertiser_ids"))
        if not ids:
            return tiktok_answer(40002, message="advertiser_ids: Missing data for required field.")
        fields = _json_list(query.get("fields")) if "fields" in query else DEFAULT_FIELDS
        if fields is None:
            return tiktok_answer(40002, message="fields: Not a valid list.")
        foreign = [str(i) for i in ids if str(i) != tenant.tiktok_advertiser_id]
        others = {t.tiktok_advertiser_id for t in self.state.tenants} if foreign else set()
        owned = [i for i in foreign if i in others]
        if owned:
            return tiktok_answer(40001, message=f"No permission to operate advertiser {owned[0]}.")
        if foreign:
            # Ids nobody owns are left out of the list (the reading picked for an unconfirmed point):
            # asking only for those gives code 0 and an empty list.
            ids = [i for i in ids if str(i) == tenant.tiktok_advertiser_id]
            if not ids:
                return tiktok_answer(0, {"list": []})
        disabled = call.fault("advertiser_disabled")
        low = call.fault("balance_low")
        values: dict[str, Any] = {
            "advertiser_id": tenant.tiktok_advertiser_id,
            "name": f"{tenant.name} Ads",
            "status": disabled.params["status"] if disabled is not None else "STATUS_ENABLE",
            "currency": "USD",
            "balance": low.params["balance"] if low is not None else 1234.56,
            "company": tenant.name,
            "timezone": "America/New_York",
            "role": "ROLE_ADVERTISER",
        }
        row = {f: values.get(f) for f in fields}
        row["advertiser_id"] = tenant.tiktok_advertiser_id
        return tiktok_answer(0, {"list": [row]})

    async def refuse(self, call: Call) -> Response | None:
        if not call.request.headers.get("access-token"):
            return tiktok_answer(40104)
        if call.tenant is None:
            return tiktok_answer(40105)
        return None

    def http_error(self, call: Call, fault: Fault) -> Response:
        code = fault.params["code"]
        if code is not None:
            return tiktok_answer(code, message=fault.params["error"])
        return tiktok_answer(50000, message=fault.params["error"], status=fault.params["status"])

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        return tiktok_answer(40100)

    def revoked(self, call: Call, fault: Fault) -> Response:
        return tiktok_answer(40105)

    def expired(self, call: Call, fault: Fault) -> Response:
        return tiktok_answer(40102)
