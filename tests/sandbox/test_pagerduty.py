from __future__ import annotations

from typing import Any

import httpx

from healthmon.sandbox import SandboxState


def event(state: SandboxState, **override: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": state.platform.pagerduty_routing_key,
        "event_action": "trigger",
        "dedup_key": "monitor:shopify:tenant-0001",
        "payload": {"summary": "Shopify token invalid", "source": "healthmon", "severity": "critical"},
    }
    body.update(override)
    return body


def test_trigger_and_resolve_are_accepted_and_recorded(client: httpx.Client, state: SandboxState) -> None:
    accepted = client.post("/pagerduty/v2/enqueue", json=event(state))
    assert accepted.status_code == 202
    assert accepted.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "monitor:shopify:tenant-0001",
    }
    resolved = client.post("/pagerduty/v2/enqueue", json=event(state, event_action="resolve", payload=None))
    assert resolved.status_code == 202
    generated = client.post("/pagerduty/v2/enqueue", json=event(state, dedup_key=None))
    assert generated.json()["dedup_key"]
    messages = client.get("/_sandbox/received/pagerduty").json()["messages"]
    assert [m["body"]["event_action"] for m in messages] == ["trigger", "resolve", "trigger"]


def test_invalid_events_list_their_errors(client: httpx.Client, state: SandboxState) -> None:
    cases = [
        (event(state, routing_key="0" * 32), "'routing_key' is invalid"),
        (event(state, event_action="explode"), "'event_action' is invalid"),
        (event(state, payload={"summary": "x", "source": "y"}), "'payload.severity' is missing or blank"),
        (event(state, event_action="acknowledge", dedup_key=None), "'dedup_key' is missing or blank"),
    ]
    for body, error in cases:
        response = client.post("/pagerduty/v2/enqueue", json=body)
        assert response.status_code == 400
        assert response.json()["status"] == "invalid event"
        assert error in response.json()["errors"]
    assert state.received("pagerduty") == []


def test_throttled_and_disabled_key(client: httpx.Client, state: SandboxState) -> None:
    state.add_fault("pagerduty", "rate_limited")
    assert client.post("/pagerduty/v2/enqueue", json=event(state)).status_code == 429
    state.clear_faults()
    state.add_fault("pagerduty", "revoked")
    disabled = client.post("/pagerduty/v2/enqueue", json=event(state))
    assert (disabled.status_code, disabled.json()["errors"]) == (400, ["'routing_key' is invalid"])
