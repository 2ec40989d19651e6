from __future__ import annotations

import httpx
import pytest

from healthmon.sandbox import SandboxState
from healthmon.sandbox.vendors.mux import Mux


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


def test_latest_asset_status_knob(
    client: httpx.Client, state: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Mux, "latest_status", "errored")
    statuses = [
        a["status"]
        for a in client.get(
            "/mux/video/v1/assets", auth=(state.platform.mux_token_id, state.platform.mux_token_secret)
        ).json()["data"]
    ]
    assert statuses[0] == "errored" and set(statuses[1:]) == {"ready"}
