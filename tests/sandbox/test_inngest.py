from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from healthmon.sandbox import SandboxState

FAILED = "inngest/function.failed"


def auth(state: SandboxState) -> dict[str, str]:
    return {"Authorization": f"Bearer {state.platform.inngest_signing_key}"}


def test_events_runs_and_health(client: httpx.Client, state: SandboxState) -> None:
    events = client.get("/inngest/v1/events", params={"limit": 1}, headers=auth(state))
    assert events.status_code == 200
    [event] = events.json()["data"]
    assert {"id", "name", "data", "ts"} <= event.keys()
    runs = client.get(f"/inngest/v1/events/{event['id']}/runs", headers=auth(state)).json()["data"]
    assert runs[0]["status"] == "Completed"
    run = client.get(f"/inngest/v1/runs/{runs[0]['run_id']}", headers=auth(state)).json()["data"]
    assert run["run_id"] == runs[0]["run_id"]
    assert client.get("/inngest/v2/health").json()["data"] == {"status": "ok"}
    assert client.get("/inngest/health").json() == {"status": 200}
    account = client.get("/inngest/v2/account", headers=auth(state))
    assert account.status_code == 200
    assert "metadata" in account.json()


def test_bad_key_is_refused_in_each_api_shape(client: httpx.Client) -> None:
    headers = {"Authorization": "Bearer signkey-prod-nope"}
    assert client.get("/inngest/v1/events", headers=headers).status_code == 401
    v2 = client.get("/inngest/v2/account", headers=headers)
    assert v2.status_code == 401
    assert v2.json()["errors"][0]["code"] == "unauthorized"


def test_failed_jobs_count_is_controllable_and_filterable(client: httpx.Client, state: SandboxState) -> None:
    since = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    params = {"name": FAILED, "received_after": since}
    assert client.get("/inngest/v1/events", params=params, headers=auth(state)).json()["data"] == []
    state.add_fault("inngest", "failed_jobs", count=7, spacing_s=60)
    failed = client.get("/inngest/v1/events", params=params, headers=auth(state)).json()["data"]
    assert len(failed) == 7
    assert all(e["name"] == FAILED and e["data"]["error"]["message"] for e in failed)
    recent = (datetime.now(UTC) - timedelta(seconds=150)).isoformat()
    narrow = client.get(
        "/inngest/v1/events", params={**params, "received_after": recent}, headers=auth(state)
    )
    assert len(narrow.json()["data"]) == 3
    runs = client.get(f"/inngest/v1/events/{failed[0]['id']}/runs", headers=auth(state)).json()["data"]
    assert runs[0]["status"] == "Failed"


def test_rate_limit_and_server_error(client: httpx.Client, state: SandboxState) -> None:
    state.add_fault("inngest", "rate_limited")
    assert client.get("/inngest/v1/events", headers=auth(state)).status_code == 429
    state.clear_faults()
    state.add_fault("inngest", "http_error", status=500)
    broken = client.get("/inngest/v2/account", headers=auth(state))
    assert broken.status_code == 500
    assert "errors" in broken.json()
