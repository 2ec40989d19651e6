"""SlackChannel against the sandbox: incoming webhooks and the Web API (chat.postMessage,
chat.update), checked through what the sandbox recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from healthmon.alerting.channels.slack import SlackChannel
from healthmon.alerting.notification import Kind, Notification, Sent, Severity
from healthmon.sandbox import RunningSandbox, SandboxState
from tests.alerting.conftest import MakeNotification, rollup_tenants
from tests.support.refusals import send_refused

COLOURS = {Severity.P1: "#d62728", Severity.P2: "#ff7f0e", Severity.P3: "#f2c744"}
LABELS = {
    Kind.TRIGGER: "[P2] ",
    Kind.ESCALATE: "[P2 ESCALATED] ",
    Kind.RENOTIFY: "[P2 REMINDER] ",
    Kind.ACKNOWLEDGE: "[ACKNOWLEDGED] ",
    Kind.RESOLVE: "[RESOLVED] ",
}


def webhook_url(sandbox: RunningSandbox) -> str:
    return f"{sandbox.base_url}/slack/services/{sandbox.state.platform.slack_webhook_path}"


def hook(sandbox: RunningSandbox, url: str | None = None, timeout_s: float = 5) -> SlackChannel:
    return SlackChannel(webhook_url=url or webhook_url(sandbox), timeout_s=timeout_s)


def bot(
    sandbox: RunningSandbox, token: str | None = None, timeout_s: float = 5, base_url: str | None = None
) -> SlackChannel:
    return SlackChannel(
        bot_token=token or sandbox.state.platform.slack_bot_token,
        channel="#alerts",
        base_url=base_url or f"{sandbox.base_url}/slack/api/",
        timeout_s=timeout_s,
    )


def bodies(state: SandboxState) -> list[dict[str, Any]]:
    return [m["body"] for m in state.received("slack")]


def text_of(message: dict[str, Any]) -> str:
    """Everything a reader sees in a message, as one string."""
    parts = [message.get("text") or ""]
    for attachment in message.get("attachments") or []:
        for block in attachment["blocks"]:
            for item in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
                if item:
                    parts.append(item["text"])
    return "\n".join(parts)


# -- incoming webhook ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
async def test_webhook_posts_every_kind_as_a_new_coloured_message(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification, kind: Kind
) -> None:
    notification = make_notification(kind, severity=Severity.P2, acknowledged_by="ana", ref="C1:1.000001")
    assert await hook(sandbox).send(notification) == Sent()
    [message] = bodies(state)
    colour = {Kind.RESOLVE: "#2ca02c", Kind.ACKNOWLEDGE: "#9e9e9e"}.get(kind, COLOURS[Severity.P2])
    assert message["attachments"][0]["color"] == colour
    assert message["text"].startswith(LABELS[kind])
    shown = text_of(message)
    for fact in ("postgres", "platform", "P2", "unhealthy", "connection refused", "2026-10-01 12:00:00 UTC"):
        assert fact in shown
    assert "<https://healthmon.example/alerts?alert=12|Open alert #12>" in shown


async def test_webhook_message_shows_small_details_and_a_shortened_rollup(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification
) -> None:
    details: dict[str, Any] = {f"fact_{n}": n for n in range(12)}
    details.update(nested={"a": 1}, client_secret="hush-0123456789")
    rollup = make_notification(service="shopify", tenants=rollup_tenants(50), details=details, reason="<b>&")
    await hook(sandbox).send(rollup)
    shown = text_of(bodies(state)[0])
    assert "• fact_7: 7" in shown and "fact_8" not in shown
    assert "nested" not in shown and "hush-0123456789" not in shown
    assert "*Tenants affected (50)*" in shown
    assert "tenant-0010 and 40 more" in shown and "tenant-0011" not in shown
    # mrkdwn escaping: a reason cannot turn into markup or a mention.
    assert "&lt;b&gt;&amp;" in shown


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (403, False), (404, False), (410, False), (500, True), (503, True)],
)
async def test_webhook_http_errors_map_to_retryable_or_not(
    sandbox: RunningSandbox,
    state: SandboxState,
    make_notification: MakeNotification,
    status: int,
    retryable: bool,
) -> None:
    state.add_fault("slack_webhook", "http_error", status=status)
    error = await send_refused(hook(sandbox), make_notification(), webhook_url(sandbox))
    assert error.retryable is retryable
    assert f"HTTP {status}" in error.reason
    assert state.received("slack") == []


@dataclass(frozen=True)
class Failure:
    """One way a send fails (a sandbox fault, a slow client, a wrong address) and what the
    error then says: its `reason` is the whole reason, its end or a part of it, as `match` says."""

    fault: str | None
    retryable: bool
    reason: str
    match: str = "is"
    options: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 5
    #: another address than the sandbox's, from {base} (the sandbox) or {refused} (a dead port)
    url: str | None = None
    #: the secret in that address, which the reason must not show
    secret: str | None = None

    def reads(self, reason: str) -> bool:
        return {
            "is": reason == self.reason,
            "ends with": reason.endswith(self.reason),
            "has": self.reason in reason,
        }[self.match]

    def address(self, sandbox: RunningSandbox, refused_url: str) -> str | None:
        return self.url and self.url.format(base=sandbox.base_url, refused=refused_url)

    async def check(
        self, state: SandboxState, vendor: str, slack: SlackChannel, notification: Notification, secret: str
    ) -> None:
        if self.fault is not None:
            state.add_fault(vendor, self.fault, **self.options)
        error = await send_refused(slack, notification, self.secret or secret)
        assert error.retryable is self.retryable
        assert self.reads(error.reason), error.reason


WEBHOOK_FAILURES = {
    "removed": Failure(
        None,
        False,
        "slack webhook answered HTTP 404: no_service",
        url="{base}/slack/services/T000/B000/removed-hook-secret",
        secret="removed-hook-secret",
    ),
    "revoked": Failure("revoked", False, "invalid_token", match="ends with"),
    "rate-limited": Failure("rate_limited", True, "HTTP 429", match="has"),
    # the sandbox holds the answer for 5 s; the client gives up long before
    "hang": Failure("hang", True, "slack webhook: no answer in time", options={"seconds": 5}, timeout_s=0.3),
    "refused": Failure(
        None, True, "slack webhook: connection refused", url="{refused}services/T1/B1/secret", secret="secret"
    ),
}


@pytest.mark.parametrize("failure", WEBHOOK_FAILURES.values(), ids=WEBHOOK_FAILURES.keys())
async def test_webhook_rejections_throttling_and_outages(
    sandbox: RunningSandbox,
    state: SandboxState,
    make_notification: MakeNotification,
    refused_url: str,
    failure: Failure,
) -> None:
    slack = hook(sandbox, failure.address(sandbox, refused_url), timeout_s=failure.timeout_s)
    await failure.check(state, "slack_webhook", slack, make_notification(), state.platform.slack_webhook_path)


async def test_webhook_error_echoing_its_secret_path_is_scrubbed(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification
) -> None:
    path = f"/slack/services/{state.platform.slack_webhook_path}"
    state.add_fault("slack_webhook", "http_error", status=400, error=f"bad hook {path}")
    error = await send_refused(hook(sandbox), make_notification(), path)
    assert "[redacted]" in error.reason
    assert state.platform.slack_webhook_path not in repr(hook(sandbox))


# -- Web API with a bot token -------------------------------------------------------------------


@pytest.mark.parametrize("kind", [Kind.TRIGGER, Kind.ESCALATE, Kind.RENOTIFY])
async def test_bot_posts_paging_kinds_and_returns_channel_and_ts(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification, kind: Kind
) -> None:
    sent = await bot(sandbox).send(make_notification(kind, severity=Severity.P3, ref="C0:1.000001"))
    [message] = bodies(state)
    assert message["method"] == "chat.postMessage"
    assert message["channel"] == "#alerts"
    assert sent.ref == f"{message['channel_id']}:{message['ts']}"
    assert message["attachments"][0]["color"] == COLOURS[Severity.P3]
    assert "P3" in text_of(message)


@pytest.mark.parametrize(("kind", "colour"), [(Kind.ACKNOWLEDGE, "#9e9e9e"), (Kind.RESOLVE, "#2ca02c")])
async def test_bot_updates_the_original_and_replies_in_its_thread(
    sandbox: RunningSandbox,
    state: SandboxState,
    make_notification: MakeNotification,
    kind: Kind,
    colour: str,
) -> None:
    slack = bot(sandbox)
    trigger = await slack.send(make_notification())
    follow_up = make_notification(kind, ref=trigger.ref, acknowledged_by="ana", status="healthy")
    assert await slack.send(follow_up) == Sent(ref=trigger.ref)
    posted, updated, reply = bodies(state)
    assert (updated["method"], updated["channel_id"], updated["ts"]) == (
        "chat.update",
        posted["channel_id"],
        posted["ts"],
    )
    assert updated["attachments"][0]["color"] == colour
    assert updated["text"].startswith(f"[{'ACKNOWLEDGED' if kind is Kind.ACKNOWLEDGE else 'RESOLVED'}]")
    assert (reply["method"], reply["thread_ts"]) == ("chat.postMessage", posted["ts"])
    assert ("Acknowledged by ana" if kind is Kind.ACKNOWLEDGE else "Resolved") in reply["text"]


async def test_bot_posts_a_new_message_without_a_ref_or_when_the_original_is_gone(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification
) -> None:
    slack = bot(sandbox)
    fresh = await slack.send(make_notification(Kind.RESOLVE))
    gone = await slack.send(make_notification(Kind.ACKNOWLEDGE, ref="C0NOSUCH00:1700000000.000001"))
    assert [b["method"] for b in bodies(state)] == ["chat.postMessage", "chat.postMessage"]
    assert fresh.ref and gone.ref and fresh.ref != gone.ref
    assert [b["attachments"][0]["color"] for b in bodies(state)] == ["#2ca02c", "#9e9e9e"]


async def test_bot_rejections_are_not_retryable_and_never_show_the_token(
    sandbox: RunningSandbox, state: SandboxState, make_notification: MakeNotification
) -> None:
    wrong = "xoxb-wrong-token-0123456789"
    error = await send_refused(bot(sandbox, wrong), make_notification(), wrong)
    assert (error.retryable, error.reason.endswith("invalid_auth")) == (False, True)
    token = state.platform.slack_bot_token
    state.add_fault("slack", "revoked")
    error = await send_refused(bot(sandbox), make_notification(), token)
    assert (error.retryable, error.reason.endswith("token_revoked")) == (False, True)
    for code in ("channel_not_found", "not_in_channel"):
        state.add_fault("slack", "http_error", status=200, error=code)
        error = await send_refused(bot(sandbox), make_notification(), token)
        assert (error.retryable, error.reason.endswith(code)) == (False, True)
    state.add_fault("slack", "http_error", status=200, error=f"bad_token_{token}")
    error = await send_refused(bot(sandbox), make_notification(), token)
    assert "[redacted]" in error.reason
    assert token not in repr(bot(sandbox))


BOT_FAILURES = {
    "rate-limited": Failure(
        "rate_limited", True, "ratelimited", match="ends with", options={"retry_after": 1}
    ),
    "unavailable": Failure("http_error", True, "HTTP 503", match="has", options={"status": 503}),
    "hang": Failure(
        "hang", True, "slack chat.postMessage: no answer in time", options={"seconds": 5}, timeout_s=0.3
    ),
    "refused": Failure(
        None, True, "slack chat.postMessage: connection refused", url="{refused}", timeout_s=2
    ),
}


@pytest.mark.parametrize("failure", BOT_FAILURES.values(), ids=BOT_FAILURES.keys())
async def test_bot_throttling_and_outages_are_retryable(
    sandbox: RunningSandbox,
    state: SandboxState,
    make_notification: MakeNotification,
    refused_url: str,
    failure: Failure,
) -> None:
    slack = bot(sandbox, timeout_s=failure.timeout_s, base_url=failure.address(sandbox, refused_url))
    await failure.check(state, "slack", slack, make_notification(), state.platform.slack_bot_token)
    assert state.received("slack") == []


def test_a_channel_needs_a_webhook_or_a_bot_with_a_channel() -> None:
    with pytest.raises(ValueError, match="webhook_url"):
        SlackChannel()
    with pytest.raises(ValueError, match="channel") as caught:
        SlackChannel(bot_token="xoxb-secret-0123456789")
    assert "xoxb-secret" not in str(caught.value)
