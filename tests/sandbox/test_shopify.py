from __future__ import annotations

import httpx

from healthmon.sandbox import SandboxState, Tenant

QUERY = {"query": "{ shop { name myshopifyDomain plan { displayName } } }"}


def gql(client: httpx.Client, tenant: Tenant, token: str | None = None) -> httpx.Response:
    return client.post(
        f"/shopify/{tenant.shop}/admin/api/2026-10/graphql.json",
        json=QUERY,
        headers={"X-Shopify-Access-Token": token or tenant.shopify_token},
    )


def rest(client: httpx.Client, tenant: Tenant) -> httpx.Response:
    return client.get(
        f"/shopify/{tenant.shop}/admin/api/2026-10/shop.json",
        headers={"X-Shopify-Access-Token": tenant.shopify_token},
    )


def test_graphql_answers_the_shop_with_throttle_status(client: httpx.Client, tenant: Tenant) -> None:
    response = gql(client, tenant)
    assert response.status_code == 200
    assert response.headers["X-Shopify-API-Version"] == "2026-10"
    body = response.json()
    assert body["data"]["shop"]["myshopifyDomain"] == tenant.shop
    assert body["data"]["shop"]["plan"]["displayName"]
    throttle = body["extensions"]["cost"]["throttleStatus"]
    assert throttle["maximumAvailable"] == 2000.0
    assert throttle["currentlyAvailable"] / throttle["maximumAvailable"] > 0.9
    assert throttle["restoreRate"] > 0


def test_rest_shop_carries_the_call_limit_header(client: httpx.Client, tenant: Tenant) -> None:
    response = rest(client, tenant)
    assert response.status_code == 200
    assert response.json()["shop"]["myshopify_domain"] == tenant.shop
    used, bucket = map(int, response.headers["X-Shopify-Shop-Api-Call-Limit"].split("/"))
    assert used / bucket < 0.5


def test_wrong_token_unknown_shop_and_bad_body(client: httpx.Client, state: SandboxState) -> None:
    first, second = state.tenants[0], state.tenants[1]
    refused = gql(client, first, token=second.shopify_token)
    assert refused.status_code == 401
    assert "Invalid API key or access token" in refused.json()["errors"]
    missing = client.post("/shopify/nobody.myshopify.com/admin/api/2026-10/graphql.json", json=QUERY)
    assert missing.status_code == 404
    bad = client.post(
        f"/shopify/{first.shop}/admin/api/2026-10/graphql.json",
        content=b"not json",
        headers={"X-Shopify-Access-Token": first.shopify_token},
    )
    assert bad.status_code == 400


def test_throttled_graphql_is_http_200_with_errors(
    client: httpx.Client, state: SandboxState, tenant: Tenant
) -> None:
    state.add_fault("shopify", "rate_limited", tenant.id)
    response = gql(client, tenant)
    assert response.status_code == 200
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0.0
    limited = rest(client, tenant)
    assert limited.status_code == 429
    assert float(limited.headers["Retry-After"]) == 2.0


def test_near_limit_shows_in_bucket_and_call_limit(
    client: httpx.Client, state: SandboxState, tenant: Tenant
) -> None:
    state.add_fault("shopify", "near_limit", tenant.id, pct=90)
    throttle = gql(client, tenant).json()["extensions"]["cost"]["throttleStatus"]
    assert throttle["currentlyAvailable"] / throttle["maximumAvailable"] < 0.2
    used, bucket = map(int, rest(client, tenant).headers["X-Shopify-Shop-Api-Call-Limit"].split("/"))
    assert used / bucket >= 0.8


def test_frozen_revoked_and_server_error(client: httpx.Client, state: SandboxState, tenant: Tenant) -> None:
    state.add_fault("shopify", "shop_frozen", tenant.id)
    frozen = gql(client, tenant)
    assert (frozen.status_code, frozen.json()) == (402, {"errors": "Unavailable Shop"})
    state.clear_faults()
    state.add_fault("shopify", "revoked", tenant.id)
    assert gql(client, tenant).status_code == 401
    state.clear_faults()
    state.add_fault("shopify", "http_error", status=503)
    unavailable = gql(client, tenant)
    assert unavailable.status_code == 503
    assert unavailable.json() == {"errors": "Service Unavailable"}


def test_tenant_fault_leaves_other_tenants_alone(client: httpx.Client, state: SandboxState) -> None:
    first, second = state.tenants[0], state.tenants[1]
    state.add_fault("shopify", "http_error", first.id, status=500)
    assert gql(client, first).status_code == 500
    assert gql(client, second).status_code == 200


def test_tenant_fault_overrides_service_wide_fault_of_same_kind(
    client: httpx.Client, state: SandboxState, tenant: Tenant
) -> None:
    state.add_fault("shopify", "http_error", status=500)
    state.add_fault("shopify", "http_error", tenant.id, status=502)
    assert gql(client, tenant).status_code == 502
    assert gql(client, state.tenants[1]).status_code == 500
