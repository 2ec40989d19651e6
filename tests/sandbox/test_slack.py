from __future__ import annotations

from typing import Any

import httpx
import pytest

from healthmon.sandbox import RunningSandbox, SandboxState


def auth_test(client: httpx.Client, token: str, method: str = "POST") -> httpx.Response:
    return client.request(method, "/slack/api/auth.test", headers={"Authorization": f"Bearer {token}"})


def test_auth_test_with_bearer_or_form_token(client: httpx.Client, state: SandboxState) -> None:
    token = state.platform.slack_bot_token
    for response in (
        auth_test(client, token),
        auth_test(client, token, "GET"),
        client.post("/slack/api/auth.test", data={"token": token}),
    ):
        assert response.status_code == 200
        body = response.json()
        assert body["ok"] is True
        assert body["team_id"] and body["user_id"]
    assert client.post("/slack/api/api.test").json()["ok"] is True


def test_errors_are_http_200_and_rate_limit_is_429(client: httpx.Client, state: SandboxState) -> None:
    assert client.post("/slack/api/auth.test").json() == {"ok": False, "error": "not_authed"}
    assert auth_test(client, "xoxb-nope").json() == {"ok": False, "error": "invalid_auth"}
    token = state.platform.slack_bot_token
    for kind, error in (("revoked", "token_revoked"), ("expired", "token_expired")):
        state.clear_faults()
        state.add_fault("slack", kind)
        response = auth_test(client, token)
        assert (response.status_code, response.json()["error"]) == (200, error)
    state.clear_faults()
    state.add_fault("slack", "rate_limited", retry_after=7)
    limited = auth_test(client, token)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json() == {"ok": False, "error": "ratelimited"}


def test_webhook_posts_are_recorded(
    client: httpx.Client, sandbox: RunningSandbox, state: SandboxState
) -> None:
    url = f"/slack/services/{state.platform.slack_webhook_path}"
    posted = client.post(url, json={"text": "shopify is down for tenant-0001"})
    assert (posted.status_code, posted.text) == (200, "ok")
    assert posted.headers["content-type"].startswith("text/html")
    assert (
        client.post(url, content=b"{", headers={"Content-Type": "application/json"}).text == "invalid_payload"
    )
    assert client.post(url, json={"username": "x"}).text == "no_text"
    gone = client.post("/slack/services/T1/B1/nope", json={"text": "x"})
    assert (gone.status_code, gone.text) == (404, "no_service")
    received = client.get("/_sandbox/received/slack").json()
    assert received["count"] == 1
    assert received["messages"][0]["body"] == {"text": "shopify is down for tenant-0001"}
    assert state.received("slack")[0]["body"]["text"].startswith("shopify")


def test_webhook_faults_answer_plain_text(client: httpx.Client, state: SandboxState) -> None:
    url = f"/slack/services/{state.platform.slack_webhook_path}"
    state.add_fault("slack_webhook", "http_error", status=410)
    archived = client.post(url, json={"text": "x"})
    assert (archived.status_code, archived.text) == (410, "channel_is_archived")
    state.clear_faults()
    state.add_fault("slack_webhook", "rate_limited")
    assert client.post(url, json={"text": "x"}).status_code == 429
    assert state.received("slack") == []


def test_slack_status_api(client: httpx.Client, state: SandboxState) -> None:
    calm = client.get("/slack-status/api/v2.0.0/current").json()
    assert (calm["status"], calm["active_incidents"]) == ("ok", [])
    state.add_fault("statuspage", "slack_incident", "slack", title="Messages delayed")
    busy = client.get("/slack-status/api/v2.0.0/current").json()
    assert busy["status"] == "active"
    assert busy["active_incidents"][0]["title"] == "Messages delayed"
    assert busy["active_incidents"][0]["type"] == "incident"


def test_the_real_slack_sdk_clients_work(sandbox: RunningSandbox, state: SandboxState) -> None:
    sdk = pytest.importorskip("slack_sdk")
    from slack_sdk.errors import SlackApiError
    from slack_sdk.webhook import WebhookClient

    web = sdk.WebClient(
        token=state.platform.slack_bot_token, base_url=f"{sandbox.base_url}/slack/api/", timeout=5
    )
    assert web.auth_test()["team_id"] == "T000SANDBOX"
    state.add_fault("slack", "revoked")
    with pytest.raises(SlackApiError) as refused:
        web.auth_test()
    assert refused.value.response["error"] == "token_revoked"
    hook = WebhookClient(f"{sandbox.base_url}/slack/services/{state.platform.slack_webhook_path}", timeout=5)
    sent = hook.send(text="from slack_sdk")
    assert (sent.status_code, sent.body) == (200, "ok")
    assert state.received("slack")[0]["body"]["text"] == "from slack_sdk"


def test_rotating_token_reports_expires_in(client: httpx.Client, state: SandboxState) -> None:
    plain = auth_test(client, state.platform.slack_bot_token).json()
    assert "expires_in" not in plain
    rotating = auth_test(client, f"xoxe.{state.platform.slack_bot_token}").json()
    assert (rotating["ok"], rotating["expires_in"]) == (True, 43_200)


def chat(client: httpx.Client, method: str, token: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/slack/api/{method}", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def test_chat_post_message_answers_channel_id_and_ts_and_is_recorded(
    client: httpx.Client, state: SandboxState
) -> None:
    token = state.platform.slack_bot_token
    posted = chat(client, "chat.postMessage", token, channel="#alerts", text="redis down", attachments=[])
    assert posted["ok"] is True
    seconds, _, sequence = posted["ts"].partition(".")
    assert posted["channel"].startswith("C") and seconds.isdigit() and len(sequence) == 6
    assert posted["message"]["text"] == "redis down"
    # A name and the id it maps to are the same channel; every message gets its own ts.
    by_name = chat(client, "chat.postMessage", token, channel="alerts", text="again")
    by_id = chat(client, "chat.postMessage", token, channel=posted["channel"], text="again")
    assert by_name["channel"] == by_id["channel"] == posted["channel"]
    assert len({posted["ts"], by_name["ts"], by_id["ts"]}) == 3
    recorded = state.received("slack")[0]
    assert recorded["path"] == "/slack/api/chat.postMessage"
    assert recorded["body"]["method"] == "chat.postMessage"
    assert recorded["body"]["channel"] == "#alerts"
    assert (recorded["body"]["channel_id"], recorded["body"]["ts"]) == (posted["channel"], posted["ts"])


def test_chat_update_edits_a_posted_message_only(client: httpx.Client, state: SandboxState) -> None:
    token = state.platform.slack_bot_token
    posted = chat(client, "chat.postMessage", token, channel="#alerts", text="open")
    updated = chat(client, "chat.update", token, channel=posted["channel"], ts=posted["ts"], text="resolved")
    assert (updated["ok"], updated["channel"], updated["ts"]) == (True, posted["channel"], posted["ts"])
    assert updated["message"]["text"] == "resolved"
    missing = chat(client, "chat.update", token, channel=posted["channel"], ts="1.000001", text="x")
    assert missing == {"ok": False, "error": "message_not_found"}
    methods = [m["body"]["method"] for m in state.received("slack")]
    assert methods == ["chat.postMessage", "chat.update"]


def test_chat_methods_check_the_token_and_the_arguments(client: httpx.Client, state: SandboxState) -> None:
    token = state.platform.slack_bot_token
    assert client.post("/slack/api/chat.postMessage", json={"channel": "a", "text": "x"}).json() == {
        "ok": False,
        "error": "not_authed",
    }
    assert chat(client, "chat.postMessage", "xoxb-nope", channel="a", text="x")["error"] == "invalid_auth"
    assert chat(client, "chat.postMessage", token, text="x")["error"] == "channel_not_found"
    assert chat(client, "chat.postMessage", token, channel="a")["error"] == "no_text"
    state.add_fault("slack", "revoked")
    assert chat(client, "chat.postMessage", token, channel="a", text="x")["error"] == "token_revoked"
    assert state.received("slack") == []


def test_chat_post_message_from_a_form_never_records_the_token(
    client: httpx.Client, state: SandboxState
) -> None:
    token = state.platform.slack_bot_token
    form = {"token": token, "channel": "alerts", "text": "form post", "attachments": '[{"color": "#2ca02c"}]'}
    assert client.post("/slack/api/chat.postMessage", data=form).json()["ok"] is True
    body = state.received("slack")[0]["body"]
    assert body["attachments"] == [{"color": "#2ca02c"}]
    assert "token" not in body and token not in str(state.received("slack"))


def test_the_real_slack_sdk_chat_methods_work(sandbox: RunningSandbox, state: SandboxState) -> None:
    from slack_sdk import WebClient

    web = WebClient(
        token=state.platform.slack_bot_token, base_url=f"{sandbox.base_url}/slack/api/", timeout=5
    )
    posted = web.chat_postMessage(channel="#alerts", text="hi", attachments=[{"color": "#d62728"}])
    updated = web.chat_update(channel=posted["channel"], ts=posted["ts"], text="bye")
    assert updated["ts"] == posted["ts"]
    reply = web.chat_postMessage(channel=posted["channel"], thread_ts=posted["ts"], text="done")
    assert reply["message"]["thread_ts"] == posted["ts"]
    bodies = [m["body"] for m in state.received("slack")]
    assert [b["method"] for b in bodies] == ["chat.postMessage", "chat.update", "chat.postMessage"]
    assert bodies[0]["attachments"] == [{"color": "#d62728"}]
