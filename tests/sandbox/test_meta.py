from __future__ import annotations

import json
import time

import httpx
import pytest

from healthmon.sandbox import SandboxState, Tenant

V = "v26.0"


def debug(client: httpx.Client, state: SandboxState, token: str) -> httpx.Response:
    return client.get(
        f"/meta/{V}/debug_token", params={"input_token": token, "access_token": state.platform.meta_app_token}
    )


def account(client: httpx.Client, tenant: Tenant, token: str | None = None) -> httpx.Response:
    return client.get(
        f"/meta/{V}/{tenant.meta_ad_account_id}",
        params={"fields": "account_status,disable_reason,name,currency"},
        headers={"Authorization": f"Bearer {token or tenant.meta_token}"},
    )


def usage_pct(response: httpx.Response) -> float:
    return float(json.loads(response.headers["X-Ad-Account-Usage"])["acc_id_util_pct"])


def test_debug_token_and_account_are_healthy(
    client: httpx.Client, state: SandboxState, tenant: Tenant
) -> None:
    data = debug(client, state, tenant.meta_token).json()["data"]
    assert data["is_valid"] is True
    assert data["app_id"] == state.platform.meta_app_id
    assert data["expires_at"] > time.time() + 30 * 86400
    assert {"ads_read", "ads_management"} <= set(data["scopes"])
    response = account(client, tenant)
    assert response.status_code == 200
    assert response.json()["account_status"] == 1
    assert response.json()["id"] == tenant.meta_ad_account_id
    for header in ("X-App-Usage", "X-Ad-Account-Usage", "X-Business-Use-Case-Usage"):
        assert isinstance(json.loads(response.headers[header]), dict)
    assert usage_pct(response) < 50
    me = client.get(f"/meta/{V}/me", params={"access_token": tenant.meta_token, "fields": "id,name"})
    assert me.json()["id"] == tenant.meta_user_id


def test_bad_tokens_get_graph_errors(client: httpx.Client, state: SandboxState, tenant: Tenant) -> None:
    bad = account(client, tenant, token="EAABnope")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == 190
    assert bad.json()["error"]["type"] == "OAuthException"
    other = account(client, tenant, token=state.tenants[1].meta_token)
    assert other.json()["error"]["code"] == 100
    garbage = debug(client, state, "nonsense").json()["data"]
    assert garbage["is_valid"] is False
    wrong_app = client.get(
        f"/meta/{V}/debug_token", params={"input_token": tenant.meta_token, "access_token": "1|2"}
    )
    assert wrong_app.json()["error"]["code"] == 190


def test_expired_and_revoked_tokens(client: httpx.Client, state: SandboxState, tenant: Tenant) -> None:
    state.add_fault("meta_ads", "expired", tenant.id)
    data = debug(client, state, tenant.meta_token).json()["data"]
    assert (data["is_valid"], data["error"]["subcode"]) == (False, 463)
    assert account(client, tenant).json()["error"]["error_subcode"] == 463
    state.clear_faults()
    state.add_fault("meta_ads", "revoked", tenant.id)
    assert debug(client, state, tenant.meta_token).json()["data"]["error"]["subcode"] == 467
    assert account(client, tenant).json()["error"]["error_subcode"] == 467


def test_token_expiring_account_disabled_and_limits(
    client: httpx.Client, state: SandboxState, tenant: Tenant
) -> None:
    state.add_fault("meta_ads", "token_expiring", tenant.id, days=2)
    expires_at = debug(client, state, tenant.meta_token).json()["data"]["expires_at"]
    assert time.time() < expires_at < time.time() + 3 * 86400
    state.add_fault("meta_ads", "account_disabled", tenant.id, disable_reason=3)
    body = account(client, tenant).json()
    assert (body["account_status"], body["disable_reason"]) == (2, 3)
    state.add_fault("meta_ads", "near_limit", tenant.id, pct=90)
    assert usage_pct(account(client, tenant)) == 90
    state.add_fault("meta_ads", "rate_limited", tenant.id, code=80004)
    limited = account(client, tenant)
    assert limited.json()["error"]["code"] == 80004
    buc = json.loads(limited.headers["X-Business-Use-Case-Usage"])[tenant.meta_account_id][0]
    assert buc["estimated_time_to_regain_access"] > 0
    state.add_fault("meta_ads", "http_error", tenant.id, status=500)
    broken = account(client, tenant)
    assert (broken.status_code, broken.json()["error"]["code"]) == (500, 1)
    assert "X-App-Usage" in broken.headers


def test_scopes_and_lifetime_can_be_patched(
    client: httpx.Client, state: SandboxState, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("healthmon.sandbox.vendors.meta.SCOPES", ("ads_management",))
    monkeypatch.setattr("healthmon.sandbox.vendors.meta.TOKEN_LIFETIME_DAYS", None)
    data = debug(client, state, tenant.meta_token).json()["data"]
    assert (data["scopes"], data["expires_at"]) == (["ads_management"], 0)
    assert [g["scope"] for g in data["granular_scopes"]] == ["ads_management"]
