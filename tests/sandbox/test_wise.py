from __future__ import annotations

import httpx

from healthmon.sandbox import SandboxState


def test_profiles_v2_and_v1(client: httpx.Client, state: SandboxState) -> None:
    auth = {"Authorization": f"Bearer {state.platform.wise_token}"}
    v2 = client.get("/wise/v2/profiles", headers=auth)
    assert v2.status_code == 200
    profiles = v2.json()
    assert profiles[0]["id"] == state.platform.wise_profile_id
    assert {p["type"] for p in profiles} == {"PERSONAL", "BUSINESS"}
    assert all(p["currentState"] == "VISIBLE" for p in profiles)
    v1 = client.get("/wise/v1/profiles", headers=auth).json()
    assert {p["type"] for p in v1} == {"personal", "business"}
    assert "details" in v1[0]


def test_token_errors_and_states(client: httpx.Client, state: SandboxState) -> None:
    assert client.get("/wise/v2/profiles").json()["error"] == "unauthorized"
    bad = client.get("/wise/v2/profiles", headers={"Authorization": "Bearer nope"})
    assert (bad.status_code, bad.json()["error"]) == (401, "invalid_token")
    auth = {"Authorization": f"Bearer {state.platform.wise_token}"}
    state.add_fault("wise", "profile_deactivated")
    assert client.get("/wise/v2/profiles", headers=auth).json()[0]["currentState"] == "DEACTIVATED"
    state.add_fault("wise", "rate_limited", retry_after=3)
    limited = client.get("/wise/v2/profiles", headers=auth)
    assert (limited.status_code, limited.headers["Retry-After"], limited.content) == (429, "3", b"")
    state.add_fault("wise", "http_error", status=500)
    assert client.get("/wise/v2/profiles", headers=auth).json()["status"] == 500


def test_403_is_an_sca_challenge_unless_an_error_is_given(client: httpx.Client, state: SandboxState) -> None:
    auth = {"Authorization": f"Bearer {state.platform.wise_token}"}
    state.add_fault("wise", "http_error", status=403)
    sca = client.get("/wise/v2/profiles", headers=auth)
    assert (sca.status_code, sca.headers["x-2fa-approval-result"]) == (403, "REJECTED")
    assert sca.headers["x-2fa-approval"]
    state.add_fault("wise", "http_error", status=403, error="Missing scope")
    plain = client.get("/wise/v2/profiles", headers=auth)
    assert plain.status_code == 403 and "x-2fa-approval" not in plain.headers
    assert plain.json()["errors"][0]["message"] == "Missing scope"
