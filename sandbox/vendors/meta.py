"""Meta Graph / Marketing API: debug_token, ad accounts and /me, with usage headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import bearer, json_response, new_id, now
from healthmon.sandbox.state import Tenant

DAY = 86_400
#: None gives `expires_at: 0`, Meta's "never expires" (system-user tokens); tests may patch it
TOKEN_LIFETIME_DAYS: float | None = 55
#: what debug_token grants every tenant token; tests may patch it to drop a scope
SCOPES: tuple[str, ...] = ("ads_read", "ads_management", "business_management", "public_profile")
DATA_ACCESS_DAYS = 85
BASE_USAGE_PCT = 3
ACCOUNT_FIELDS = {
    "id",
    "account_id",
    "account_status",
    "disable_reason",
    "name",
    "currency",
    "amount_spent",
    "spend_cap",
    "balance",
    "timezone_name",
}
RATE_LIMITS: dict[int, tuple[int | None, str]] = {
    4: (None, "(#4) Application request limit reached"),
    17: (2446079, "(#17) User request limit reached"),
    613: (1487742, "(#613) Calls to this api have exceeded the rate limit."),
    80004: (
        2446079,
        "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. "
        "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.",
    ),
}


def graph_error(
    status: int, code: int, message: str, *, subcode: int | None = None, transient: bool = False
) -> Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["is_transient"] = transient
    error["fbtrace_id"] = new_id("A")
    return json_response({"error": error}, status)


def _expired_message(at: float) -> str:
    stamp = datetime.fromtimestamp(at, UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")
    current = datetime.fromtimestamp(now(), UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")
    return f"Error validating access token: Session has expired on {stamp}. The current time is {current}."


REVOKED_MESSAGE = "Error validating access token: The session is invalid because the user logged out."
INVALID_TOKEN = "Invalid OAuth access token - Cannot parse access token"


def _token(request: Request) -> str | None:
    return request.query_params.get("access_token") or bearer(request)


class Meta(Vendor):
    service = "meta_ads"
    prefix = "/meta"

    def _input_tenant(self, request: Request) -> Tenant | None:
        return self.state.by_meta_token.get(request.query_params.get("input_token", ""))

    def _token_tenant(self, request: Request) -> Tenant | None:
        return self.state.by_meta_token.get(_token(request) or "")

    def _account_tenant(self, request: Request) -> Tenant | None:
        return self.state.by_meta_account.get(request.path_params["account_id"])

    @serves("/{version}/debug_token", authed=False, tenant_of=_input_tenant)
    async def debug_token(self, call: Call) -> Response:
        query = call.request.query_params
        app_token = _token(call.request)
        if app_token is None:
            return graph_error(400, 104, "An access token is required to request this resource.")
        if app_token != self.state.platform.meta_app_token and app_token not in self.state.by_meta_token:
            return graph_error(400, 190, "Invalid OAuth access token signature.")
        input_token = query.get("input_token")
        if not input_token:
            return graph_error(400, 100, "(#100) The parameter input_token is required")
        tenant = call.tenant
        if tenant is None:
            error = {"code": 190, "message": INVALID_TOKEN}
            return json_response({"data": {"error": error, "is_valid": False, "scopes": []}})
        t = now()
        app_id = self.state.platform.meta_app_id
        data: dict[str, Any] = {
            "app_id": app_id,
            "type": "USER",
            "application": "Healthmon Sandbox",
            "data_access_expires_at": int(t + DATA_ACCESS_DAYS * DAY),
            "expires_at": 0 if TOKEN_LIFETIME_DAYS is None else int(t + TOKEN_LIFETIME_DAYS * DAY),
            "is_valid": True,
            "issued_at": int(t - 5 * DAY),
            "scopes": list(SCOPES),
            "granular_scopes": [
                {"scope": scope, "target_ids": [tenant.meta_account_id]}
                for scope in ("ads_read", "ads_management")
                if scope in SCOPES
            ],
            "user_id": tenant.meta_user_id,
        }
        expiring = call.fault("token_expiring")
        if expiring is not None:
            data["expires_at"] = int(t + expiring.params["days"] * DAY)
            if expiring.params["data_access_days"] is not None:
                data["data_access_expires_at"] = int(t + expiring.params["data_access_days"] * DAY)
        if call.fault("expired") is not None:
            data["expires_at"] = int(t - DAY)
            data["is_valid"] = False
            data["error"] = {"code": 190, "subcode": 463, "message": _expired_message(t - DAY)}
        elif call.fault("revoked") is not None:
            data["is_valid"] = False
            data["error"] = {"code": 190, "subcode": 467, "message": REVOKED_MESSAGE}
        return json_response({"data": data})

    @serves("/{version}/me", tenant_of=_token_tenant)
    async def me(self, call: Call) -> Response:
        if call.tenant is None:
            return json_response({"id": self.state.platform.meta_app_id, "name": "Healthmon Sandbox"})
        return json_response({"id": call.tenant.meta_user_id, "name": f"{call.tenant.name} Ads Admin"})

    @serves("/{version}/act_{account_id}", tenant_of=_account_tenant)
    async def account(self, call: Call) -> Response:
        token = _token(call.request)
        tenant = call.tenant
        account_id = call.request.path_params["account_id"]
        if tenant is None or token not in (tenant.meta_token, self.state.platform.meta_app_token):
            return graph_error(
                400,
                100,
                f"Unsupported get request. Object with ID 'act_{account_id}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation. Please read the "
                "Graph API documentation at https://developers.facebook.com/docs/graph-api",
                subcode=33,
            )
        fields = [f for f in call.request.query_params.get("fields", "account_status,name").split(",") if f]
        unknown = [f for f in fields if f not in ACCOUNT_FIELDS]
        if unknown:
            return graph_error(
                400, 100, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (AdAccount)"
            )
        disabled = call.fault("account_disabled")
        values: dict[str, Any] = {
            "account_id": tenant.meta_account_id,
            "account_status": disabled.params["account_status"] if disabled is not None else 1,
            "disable_reason": disabled.params["disable_reason"] if disabled is not None else 0,
            "name": f"{tenant.name} Ads",
            "currency": "USD",
            "amount_spent": "1234567",
            "spend_cap": "0",
            "balance": "0",
            "timezone_name": "America/New_York",
        }
        body = {f: values[f] for f in fields if f != "id"}
        body["id"] = tenant.meta_ad_account_id
        return json_response(body)

    # -- credential and fault hooks -----------------------------------------------------------

    async def refuse(self, call: Call) -> Response | None:
        token = _token(call.request)
        if token is None:
            return graph_error(
                400, 2500, "An active access token must be used to query information about the current user."
            )
        if token not in self.state.by_meta_token and token != self.state.platform.meta_app_token:
            return graph_error(400, 190, INVALID_TOKEN)
        return None

    def http_error(self, call: Call, fault: Fault) -> Response:
        status = fault.params["status"]
        code = fault.params["code"]
        message = fault.params["error"]
        if status >= 500:
            code = code if code is not None else (2 if status == 503 else 1)
            message = message or (
                "Service temporarily unavailable" if code == 2 else "An unknown error has occurred."
            )
            return graph_error(status, code, message, transient=True)
        return graph_error(status, code if code is not None else 100, message or "(#100) Invalid parameter")

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        code = fault.params["code"] or 17
        subcode, message = RATE_LIMITS.get(code, (None, f"(#{code}) Rate limit reached"))
        return graph_error(400, code, message, subcode=subcode, transient=True)

    def revoked(self, call: Call, fault: Fault) -> Response:
        return graph_error(400, 190, REVOKED_MESSAGE, subcode=467)

    def expired(self, call: Call, fault: Fault) -> Response:
        return graph_error(400, 190, _expired_message(now() - DAY), subcode=463)

    def decorate(self, call: Call, response: Response) -> None:
        pct: float = BASE_USAGE_PCT
        regain = 0
        if call.fault("rate_limited") is not None:
            pct, regain = 100, 5
        else:
            near = call.fault("near_limit")
            if near is not None:
                pct = near.params["pct"]
        account = call.tenant.meta_account_id if call.tenant is not None else self.state.platform.meta_app_id
        headers = response.headers
        headers["X-App-Usage"] = json.dumps({"call_count": pct, "total_cputime": pct, "total_time": pct})
        headers["X-Ad-Account-Usage"] = json.dumps(
            {
                "acc_id_util_pct": pct,
                "reset_time_duration": 300 if pct >= 100 else 0,
                "ads_api_access_tier": "standard_access",
            }
        )
        headers["X-Business-Use-Case-Usage"] = json.dumps(
            {
                account: [
                    {
                        "type": "ads_management",
                        "call_count": pct,
                        "total_cputime": pct,
                        "total_time": pct,
                        "estimated_time_to_regain_access": regain,
                        "ads_api_access_tier": "standard_access",
                    }
                ]
            }
        )
        headers["x-fb-trace-id"] = new_id()
