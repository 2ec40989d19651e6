"""Google: the OAuth token endpoint (refresh grant) and the Google Ads REST API.

Credential faults are set on `google_ads` and show where Google shows them: `revoked` makes
the refresh fail with `invalid_grant` (and the API answer OAUTH_TOKEN_REVOKED); `expired`
lets the refresh succeed but the API answer OAUTH_TOKEN_EXPIRED. Transport faults for the
token endpoint alone are set on `google_oauth`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import basic, bearer, json_body, json_response, new_id
from healthmon.sandbox.state import Tenant

SCOPE = "https://www.googleapis.com/auth/adwords"
MISSING_CREDENTIAL = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or "
    "other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
INVALID_CREDENTIAL = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
PERMISSION_DENIED = (
    "User doesn't have permission to access customer. Note: If you're accessing a client customer, the "
    "manager's customer id must be set in the 'login-customer-id' header. "
    "See https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid"
)
_SERVER_ERRORS = {
    500: ("INTERNAL", "INTERNAL_ERROR", "Internal error encountered."),
    503: ("UNAVAILABLE", "TRANSIENT_ERROR", "The service is currently unavailable."),
    504: ("DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}
_CLIENT_ERRORS = {
    400: ("INVALID_ARGUMENT", "requestError", "INVALID_INPUT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "authenticationError", "OAUTH_TOKEN_INVALID", INVALID_CREDENTIAL),
    403: (
        "PERMISSION_DENIED",
        "authorizationError",
        "USER_PERMISSION_DENIED",
        "The caller does not have permission",
    ),
    404: ("NOT_FOUND", "requestError", "RESOURCE_NAME_MISSING", "Requested entity was not found."),
}


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def ads_error(
    version: str,
    status: int,
    status_name: str,
    message: str,
    error_code: dict[str, str] | None = None,
    detail_message: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": status_name}
    if error_code is not None:
        entry: dict[str, Any] = {"errorCode": error_code, "message": detail_message or message}
        if extra:
            entry.update(extra)
        error["details"] = [
            {
                "@type": f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure",
                "errors": [entry],
                "requestId": new_id(),
            }
        ]
    return json_response({"error": error}, status)


def _unauthenticated(version: str, reason: str, detail: str) -> Response:
    return ads_error(
        version, 401, "UNAUTHENTICATED", INVALID_CREDENTIAL, {"authenticationError": reason}, detail
    )


class GoogleOAuth(Vendor):
    service = "google_oauth"
    prefix = "/google-oauth"

    async def _form(self, request: Request) -> dict[str, str]:
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = await json_body(request)
            except ValueError:
                return {}
            return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}
        return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))

    @serves("/token", "POST", authed=False)
    async def token(self, call: Call) -> Response:
        form = await self._form(call.request)
        platform = self.state.platform
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        pair = basic(call.request)
        if pair is not None and client_id is None:
            client_id, client_secret = pair
        grant = form.get("grant_type")
        if grant is None:
            return _oauth_error(400, "invalid_request", "Missing required parameter: grant_type")
        if grant != "refresh_token":
            return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")
        if client_id != platform.google_client_id:
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if client_secret != platform.google_client_secret:
            return _oauth_error(401, "invalid_client", "Unauthorized")
        refresh = form.get("refresh_token")
        if not refresh:
            return _oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
        tenant = self.state.by_google_refresh.get(refresh)
        if tenant is None:
            return _oauth_error(400, "invalid_grant", "Bad Request")
        if "revoked" in self.state.peek_faults("google_ads", tenant.id):
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        return json_response(
            {
                "access_token": tenant.google_access_token,
                "expires_in": 3599,
                "scope": SCOPE,
                "token_type": "Bearer",
            },
            headers={"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"},
        )

    def http_error(self, call: Call, fault: Fault) -> Response:
        status = fault.params["status"]
        if status >= 500:
            return _oauth_error(status, "internal_failure", fault.params["error"] or "Backend Error")
        return _oauth_error(status, fault.params["error"] or "invalid_request", "Bad Request")


class GoogleAds(Vendor):
    service = "google_ads"
    prefix = "/google-ads"

    def _tenant(self, request: Request) -> Tenant | None:
        token = bearer(request)
        return self.state.by_google_access.get(token) if token is not None else None

    @staticmethod
    def _version(call: Call) -> str:
        return str(call.request.path_params.get("version", "v26"))

    @serves("/{version}/customers:listAccessibleCustomers", tenant_of=_tenant)
    async def list_customers(self, call: Call) -> Response:
        assert call.tenant is not None
        names = ["customers/9000000001"]
        if call.fault("customer_missing") is None:
            names.insert(0, f"customers/{call.tenant.google_customer_id}")
        return json_response({"resourceNames": names})

    @serves("/{version}/customers/{cid}/googleAds:search", "POST", tenant_of=_tenant)
    async def search(self, call: Call) -> Response:
        tenant = call.tenant
        assert tenant is not None
        version = self._version(call)
        cid = call.request.path_params["cid"]
        if cid != tenant.google_customer_id or call.fault("customer_missing") is not None:
            return ads_error(
                version,
                403,
                "PERMISSION_DENIED",
                "The caller does not have permission",
                {"authorizationError": "USER_PERMISSION_DENIED"},
                PERMISSION_DENIED,
            )
        try:
            body = await json_body(call.request)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return ads_error(
                version,
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                {"fieldError": "REQUIRED"},
                "The required field was not present.",
            )
        return json_response(
            {
                "results": [
                    {
                        "customer": {
                            "resourceName": f"customers/{cid}",
                            "id": cid,
                            "status": "ENABLED",
                            "descriptiveName": f"{tenant.name} Ads",
                            "currencyCode": "USD",
                        }
                    }
                ],
                "fieldMask": "customer.id,customer.status,customer.descriptiveName,customer.currencyCode",
                "requestId": new_id(),
                "queryResourceConsumption": "1",
            }
        )

    # -- credential and fault hooks -----------------------------------------------------------

    async def refuse(self, call: Call) -> Response | None:
        version = self._version(call)
        if bearer(call.request) is None:
            return ads_error(version, 401, "UNAUTHENTICATED", MISSING_CREDENTIAL)
        if call.tenant is None:
            return _unauthenticated(version, "OAUTH_TOKEN_INVALID", "Oauth token is invalid.")
        return None

    def http_error(self, call: Call, fault: Fault) -> Response:
        version = self._version(call)
        status = fault.params["status"]
        if status >= 500:
            status_name, enum, message = _SERVER_ERRORS.get(status, _SERVER_ERRORS[500])
            return ads_error(
                version, status, status_name, message, {"internalError": fault.params["error"] or enum}
            )
        status_name, family, enum, message = _CLIENT_ERRORS.get(status, _CLIENT_ERRORS[400])
        return ads_error(version, status, status_name, message, {family: fault.params["error"] or enum})

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        retry = fault.params["retry_after"]
        delay = 30 if retry is None else retry
        return ads_error(
            self._version(call),
            429,
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
            {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
            f"Too many requests. Retry in {delay:g} seconds.",
            {
                "details": {
                    "quotaErrorDetails": {
                        "rateScope": "DEVELOPER",
                        "rateName": "Number of operations for basic access",
                        "retryDelay": f"{delay:g}s",
                    }
                }
            },
        )

    def revoked(self, call: Call, fault: Fault) -> Response:
        return _unauthenticated(self._version(call), "OAUTH_TOKEN_REVOKED", "The Oauth token is revoked.")

    def expired(self, call: Call, fault: Fault) -> Response:
        return _unauthenticated(self._version(call), "OAUTH_TOKEN_EXPIRED", "Oauth token is expired.")
