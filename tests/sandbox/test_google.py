from __future__ import annotations

import httpx

from healthmon.sandbox import SandboxState, Tenant

V = "v26"


def refresh(client: httpx.Client, state: SandboxState, tenant: Tenant, **override: str) -> httpx.Response:
    form = {
        "client_id": state.platform.google_client_id,
        "client_secret": state.platform.google_client_secret,
        "refresh_token": tenant.google_refresh_token,
        "grant_type": "refresh_token",
        **override,
    }
    return client.post("/google-oauth/token", data=form)


def access_token(client: httpx.Client, state: SandboxState, tenant: Tenant) -> str:
    response = refresh(client, state, tenant)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return str(body["access_token"])


def list_customers(client: httpx.Client, token: str, developer_token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if developer_token is not None:
        headers["developer-token"] = developer_token
    return client.get(f"/google-ads/{V}/customers:listAccessibleCustomers", headers=headers)


def test_refresh_then_list_and_search(client: httpx.Client, state: SandboxState, tenant: Tenant) -> None:
    token = access_token(client, state, tenant)
    for developer_token in (None, state.platform.google_developer_token):
        names = list_customers(client, token, developer_token).json()["resourceNames"]
        assert f"customers/{tenant.google_customer_id}" in names
    search = client.post(
        f"/google-ads/{V}/customers/{tenant.google_customer_id}/googleAds:search",
        json={"query": "SELECT customer.id, customer.status FROM customer LIMIT 1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert search.status_code == 200
    assert search.json()["results"][0]["customer"]["status"] == "ENABLED"


def test_oauth_errors(client: httpx.Client, state: SandboxState, tenant: Tenant) -> None:
    grant = refresh(client, state, tenant, refresh_token="1//0nope")
    assert (grant.status_code, grant.json()["error"]) == (400, "invalid_grant")
    bad_client = refresh(client, state, tenant, client_secret="nope")
    assert (bad_client.status_code, bad_client.json()["error"]) == (401, "invalid_client")
    state.add_fault("google_ads", "revoked", tenant.id)
    revoked = refresh(client, state, tenant)
    assert revoked.status_code == 400
    assert revoked.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }


def ads_error_code(response: httpx.Response) -> dict[str, str]:
    details = response.json()["error"]["details"][0]
    assert details["@type"].endswith(f".{V}.errors.GoogleAdsFailure")
    return dict(details["errors"][0]["errorCode"])


def test_api_errors_use_the_google_ads_failure_envelope(
    client: httpx.Client, state: SandboxState, tenant: Tenant
) -> None:
    unauthenticated = list_customers(client, "ya29.nope")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["status"] == "UNAUTHENTICATED"
    assert ads_error_code(unauthenticated) == {"authenticationError": "OAUTH_TOKEN_INVALID"}
    token = access_token(client, state, tenant)
    state.add_fault("google_ads", "expired", tenant.id)
    assert ads_error_code(list_customers(client, token)) == {"authenticationError": "OAUTH_TOKEN_EXPIRED"}
    state.clear_faults()
    state.add_fault("google_ads", "rate_limited", tenant.id, retry_after=45)
    limited = list_customers(client, token)
    assert (limited.status_code, limited.json()["error"]["status"]) == (429, "RESOURCE_EXHAUSTED")
    error = limited.json()["error"]["details"][0]["errors"][0]
    assert error["details"]["quotaErrorDetails"]["retryDelay"] == "45s"
    state.clear_faults()
    state.add_fault("google_ads", "customer_missing", tenant.id)
    names = list_customers(client, token).json()["resourceNames"]
    assert f"customers/{tenant.google_customer_id}" not in names
    state.add_fault("google_ads", "http_error", tenant.id, status=503)
    assert ads_error_code(list_customers(client, token)) == {"internalError": "TRANSIENT_ERROR"}
