from __future__ import annotations

import httpx
import pytest

from healthmon.sandbox import SandboxState
from healthmon.sandbox.vendors.yotpo import Yotpo


def token(client: httpx.Client, state: SandboxState, secret: str | None = None) -> httpx.Response:
    return client.post(
        f"/yotpo/core/v3/stores/{state.platform.yotpo_store_id}/access_tokens",
        json={"secret": secret or state.platform.yotpo_secret},
    )


def products(client: httpx.Client, state: SandboxState, access_token: str) -> httpx.Response:
    return client.get(
        f"/yotpo/core/v3/stores/{state.platform.yotpo_store_id}/products",
        params={"limit": 1},
        headers={"X-Yotpo-Token": access_token},
    )


def test_token_then_products(client: httpx.Client, state: SandboxState) -> None:
    issued = token(client, state)
    assert issued.status_code == 200
    listed = products(client, state, issued.json()["access_token"])
    assert listed.status_code == 200
    assert listed.json()["products"][0]["yotpo_id"]
    legacy = client.post(
        "/yotpo/oauth/token",
        json={
            "client_id": state.platform.yotpo_store_id,
            "client_secret": state.platform.yotpo_secret,
            "grant_type": "client_credentials",
        },
    )
    assert legacy.json()["token_type"] == "bearer"


def test_bad_secret_expired_and_revoked(client: httpx.Client, state: SandboxState) -> None:
    assert token(client, state, secret="nope").status_code == 401
    access_token = token(client, state).json()["access_token"]
    assert products(client, state, "nope").status_code == 401
    state.add_fault("yotpo", "expired")
    assert token(client, state).status_code == 200
    assert products(client, state, access_token).status_code == 401
    state.add_fault("yotpo", "revoked")
    assert token(client, state).status_code == 401


def test_rate_limit_headers_on_products(
    client: httpx.Client, state: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = token(client, state)
    assert "RateLimit-Remaining" not in issued.headers
    listed = products(client, state, issued.json()["access_token"])
    assert listed.headers["RateLimit-Remaining"] == "4" and "RateLimit-Limit" not in listed.headers
    monkeypatch.setattr(Yotpo, "send_limit_header", True)
    listed = products(client, state, issued.json()["access_token"])
    assert listed.headers["RateLimit-Limit"] == "5"
    state.add_fault("yotpo", "rate_limited")
    limited = products(client, state, issued.json()["access_token"])
    assert (limited.status_code, limited.headers["RateLimit-Remaining"]) == (429, "0")
