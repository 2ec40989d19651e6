from __future__ import annotations

import httpx

from healthmon.sandbox import SandboxState


def test_generic_webhook_records_bodies(client: httpx.Client, state: SandboxState) -> None:
    response = client.post("/webhook/healthmon", json={"alert": "p1", "service": "redis"})
    assert response.status_code == 200
    client.post("/webhook/other", content=b"plain text")
    messages = client.get("/_sandbox/received/webhook").json()["messages"]
    assert [m["path"] for m in messages] == ["/webhook/healthmon", "/webhook/other"]
    assert messages[0]["body"] == {"alert": "p1", "service": "redis"}
    assert messages[1]["body"] == "plain text"
    client.delete("/_sandbox/received/webhook")
    assert state.received("webhook") == []


def test_webhook_failure(client: httpx.Client, state: SandboxState) -> None:
    state.add_fault("webhook", "http_error", status=503)
    assert client.post("/webhook/healthmon", json={}).status_code == 503
    assert state.received("webhook") == []


def test_webhook_records_headers_but_not_credentials(client: httpx.Client, state: SandboxState) -> None:
    client.post(
        "/webhook/healthmon",
        json={},
        headers={
            "Idempotency-Key": "healthmon-delivery-7",
            "Authorization": "Bearer s3cret",
            "X-Team": "ops",
        },
    )
    headers = state.received("webhook")[0]["headers"]
    assert headers["idempotency-key"] == "healthmon-delivery-7"
    assert headers["x-team"] == "ops" and headers["content-type"] == "application/json"
    assert "authorization" not in headers and "s3cret" not in str(state.received("webhook"))
