from __future__ import annotations

import json

import httpx

from healthmon.sandbox import SandboxState, Tenant

BASE = "/tiktok/open_api/v1.3"


def info(client: httpx.Client, tenant: Tenant, token: str | None = None) -> httpx.Response:
    params = {
        "advertiser_ids": json.dumps([tenant.tiktok_advertiser_id]),
        "fields": json.dumps(["name", "status", "currency", "balance"]),
    }
    return client.get(
        f"{BASE}/advertiser/info/", params=params, headers={"Access-Token": token or tenant.tiktok_token}
    )


def test_advertisers_and_info(client: httpx.Client, state: SandboxState, tenant: Tenant) -> None:
    params = {"app_id": state.platform.tiktok_app_id, "secret": state.platform.tiktok_secret}
    listed = client.get(
        f"{BASE}/oauth2/advertiser/get/", params=params, headers={"Access-Token": tenant.tiktok_token}
    )
    body = listed.json()
    assert (listed.status_code, body["code"], body["message"]) == (200, 0, "OK")
    assert body["data"]["list"][0]["advertiser_id"] == tenant.tiktok_advertiser_id
    row = info(client, tenant).json()["data"]["list"][0]
    assert row["status"] == "STATUS_ENABLE"
    assert set(row) == {"advertiser_id", "name", "status", "currency", "balance"}


def test_errors_come_as_http_200_with_codes(
    client: httpx.Client, state: SandboxState, tenant: Tenant
) -> None:
    bad = info(client, tenant, token="nope")
    assert (bad.status_code, bad.json()["code"]) == (200, 40105)
    for kind, code in (("rate_limited", 40100), ("revoked", 40105), ("expired", 40102)):
        state.clear_faults()
        state.add_fault("tiktok_ads", kind, tenant.id)
        response = info(client, tenant)
        assert (response.status_code, response.json()["code"]) == (200, code), kind
    state.clear_faults()
    state.add_fault("tiktok_ads", "advertiser_disabled", tenant.id)
    assert info(client, tenant).json()["data"]["list"][0]["status"] == "STATUS_DISABLE"
    state.add_fault("tiktok_ads", "http_error", tenant.id, status=503)
    assert info(client, tenant).status_code == 503
    state.add_fault("tiktok_ads", "http_error", tenant.id, code=50000)
    assert (info(client, tenant).status_code, info(client, tenant).json()["code"]) == (200, 50000)


def test_unknown_advertiser_gives_an_empty_list_and_another_tenants_gives_40001(
    client: httpx.Client, state: SandboxState, tenant: Tenant
) -> None:
    def ask(advertiser_id: str) -> httpx.Response:
        params = {"advertiser_ids": json.dumps([advertiser_id]), "fields": json.dumps(["status"])}
        return client.get(
            f"{BASE}/advertiser/info/", params=params, headers={"Access-Token": tenant.tiktok_token}
        )

    nobody = ask("123")
    assert (nobody.status_code, nobody.json()["code"], nobody.json()["data"]["list"]) == (200, 0, [])
    other = ask(state.tenants[1].tiktok_advertiser_id)
    assert (other.status_code, other.json()["code"]) == (200, 40001)
