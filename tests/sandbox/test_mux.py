from __future__ import annotations

import httpx

from sandbox import SandboxState


def assets(client: httpx.Client, state: SandboxState, secret: str | None = None) -> httpx.Response:
    auth = (state.platform.mux_token_id, secret or state.platform.mux_token_secret)
    return client.get("/mux/video/v1/assets", params={"limit": 1}, auth=auth)


def test_assets_with_rate_headers(client: httpx.Client, state: SandboxState) -> None:
    response = assets(client, state)
    assert response.status_code == 200
    assert len(response.json()["data"]) == 1
    assert response.json()["data"][0]["status"] == "ready"
    limit, remaining = (
        int(response.headers["X-RateLimit-Limit"]),
        int(response.headers["X-RateLimit-Remaining"]),
    )
    assert remaining / limit > 0.5


def test_errors_and_near_limit(client: httpx.Client, state: SandboxState) -> None:
    bad = assets(client, state, secret="nope")
    assert (bad.status_code, bad.json()["error"]["type"]) == (401, "unauthorized")
    state.add_fault("mux", "near_limit", pct=90)
    near = assets(client, state)
    assert int(near.headers["X-RateLimit-Remaining"]) / int(near.headers["X-RateLimit-Limit"]) < 0.2
    state.add_fault("mux", "rate_limited")
    limited = assets(client, state)
    assert (limited.status_code, limited.headers["X-RateLimit-Remaining"]) == (429, "0")
