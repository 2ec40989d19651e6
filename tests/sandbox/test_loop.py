from __future__ import annotations

import httpx

from healthmon.sandbox import SandboxState


def returns(client: httpx.Client, key: str | None) -> httpx.Response:
    headers = {"X-Authorization": key} if key is not None else {}
    return client.get(
        "/loop/api/v1/warehouse/return/list", params={"paginate": "true", "pageSize": 1}, headers=headers
    )


def test_returns_list_and_gateway_401(client: httpx.Client, state: SandboxState) -> None:
    ok = returns(client, state.platform.loop_api_key)
    assert ok.status_code == 200
    assert len(ok.json()["returns"]) == 1
    bare = client.get(
        "/loop/api/v1/warehouse/return/list", headers={"X-Authorization": state.platform.loop_api_key}
    )
    assert isinstance(bare.json(), list)
    refused = returns(client, "nope")
    assert (refused.status_code, refused.json()["error"]["http_code"]) == (401, "GEN-UNAUTHORIZED")
    webhooks = client.get("/loop/api/v1/webhooks")
    assert (webhooks.status_code, webhooks.json()["error"]["http_code"]) == (401, "GEN-UNAUTHORIZED")


def test_error_inside_http_200(client: httpx.Client, state: SandboxState) -> None:
    state.add_fault("loop", "error_in_200")
    quirk = returns(client, state.platform.loop_api_key)
    assert quirk.status_code == 200
    assert "Unauthorized." in quirk.text
    state.add_fault("loop", "rate_limited")
    assert returns(client, state.platform.loop_api_key).status_code == 429
