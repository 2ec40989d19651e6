from __future__ import annotations

import httpx

from healthmon.sandbox import SandboxState


def balance(client: httpx.Client, key: str | None, basic: bool = False) -> httpx.Response:
    if key is None:
        return client.get("/stripe/v1/balance")
    if basic:
        return client.get("/stripe/v1/balance", auth=(key, ""))
    return client.get("/stripe/v1/balance", headers={"Authorization": f"Bearer {key}"})


def test_balance_with_bearer_and_basic_auth(client: httpx.Client, state: SandboxState) -> None:
    key = state.platform.stripe_key
    for response in (balance(client, key), balance(client, key, basic=True)):
        assert response.status_code == 200
        body = response.json()
        assert body["object"] == "balance"
        assert body["available"][0]["currency"] == "usd"
        assert response.headers["Request-Id"].startswith("req_")
        assert response.headers["Stripe-Version"]


def test_missing_and_unknown_keys(client: httpx.Client) -> None:
    missing = balance(client, None)
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"
    unknown = balance(client, "sk_test_0000000000001234")
    assert unknown.status_code == 401
    assert unknown.json()["error"]["message"] == "Invalid API Key provided: sk_test_****1234"


def test_expired_rate_limited_and_server_error(client: httpx.Client, state: SandboxState) -> None:
    key = state.platform.stripe_key
    state.add_fault("stripe", "expired")
    expired = balance(client, key)
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "api_key_expired"
    state.clear_faults()
    state.add_fault("stripe", "rate_limited")
    limited = balance(client, key)
    assert limited.status_code == 429
    assert limited.json()["error"]["type"] == "invalid_request_error"
    assert limited.headers["Stripe-Should-Retry"] == "true"
    state.clear_faults()
    state.add_fault("stripe", "http_error", status=502)
    broken = balance(client, key)
    assert broken.status_code == 502
    assert broken.json()["error"]["type"] == "api_error"
