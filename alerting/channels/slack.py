"""Slack: an incoming webhook, or the Web API with a bot token (which can update its messages).

slack_sdk's async clients need aiohttp, which healthmon does not depend on, so the SDK's
synchronous clients run in a worker thread. The SDK's own retry handlers are switched off:
the delivery layer owns retries, and an SDK retry after a reset could post a page twice.
"""

from __future__ import annotations

import asyncio
import http.client
import urllib.error
from collections.abc import Iterable
from typing import Any, cast

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

from healthmon.alerting.channels.failures import (
    clean_reason,
    failure,
    network_reason,
    retryable_status,
    secret_forms,
    url_secrets,
)
from healthmon.alerting.channels.render import MessageView, clip, link_texts, view
from healthmon.alerting.channels.render_group import GroupView, group_view
from healthmon.alerting.notification import DeliveryError, GroupNotification, Kind, Notification, Sent

DEFAULT_BASE_URL = "https://slack.com/api/"
# Slack's own limits: a header block's text, a section's text, a field's text.
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELD = 2000

#: incoming-webhook answers (plain text) that a resend cannot fix
WEBHOOK_PERMANENT = frozenset(
    {
        "invalid_payload",
        "no_text",
        "user_not_found",
        "too_many_attachments",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "channel_not_found",
        "channel_is_archived",
        "invalid_token",
        "action_prohibited",
        "posting_to_general_channel_denied",
    }
)
#: Web API errors that a resend with the same token and channel cannot fix
API_PERMANENT = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "org_login_required",
        "ekm_access_denied",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "invalid_blocks",
        "invalid_attachments",
        "invalid_arguments",
    }
)
#: chat.update answers meaning the original message cannot be edited: post a new one instead
_UPDATE_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
_FOLLOW_UPS = (Kind.ACKNOWLEDGE, Kind.RESOLVE)


def escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as markup; a reason must not become a link or mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str, limit: int = MAX_SECTION) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def _heading(headline: str, fields: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The header and the facts' fields, the same for an alert and a group."""
    return [
        {"type": "header", "text": {"type": "plain_text", "text": clip(headline, MAX_HEADER)}},
        {
            "type": "section",
            "fields": [_mrkdwn(f"*{name}*\n{escape(value)}", MAX_FIELD) for name, value in fields],
        },
    ]


def _closing(links: Iterable[tuple[str, str]], footer: str) -> list[dict[str, Any]]:
    """The links (if any) and the footer, the same for an alert and a group."""
    shown = [f"<{url}|{escape(text)}>" for url, text in links]
    out = [{"type": "section", "text": _mrkdwn(" · ".join(shown))}] if shown else []
    return [*out, {"type": "context", "elements": [_mrkdwn(escape(footer))]}]


def _attachment(headline: str, colour: str, body: list[dict[str, Any]]) -> dict[str, Any]:
    # The blocks sit inside an attachment, because only attachments carry the colour bar;
    # `text` is what phones and screen readers show.
    return {"text": headline, "attachments": [{"color": colour, "fallback": headline, "blocks": body}]}


def blocks(v: MessageView) -> list[dict[str, Any]]:
    fields = [
        ("Service", v.service),
        ("Tenant", v.tenant),
        ("Severity", v.severity),
        ("Status", v.status),
        ("Failing since", v.since),
        ("Count", f"{v.count} (last seen {v.last_seen})"),
    ]
    if v.opened:
        fields.append(("Alert opened", v.opened))
    if v.acknowledged_by:
        fields.append(("Acknowledged by", v.acknowledged_by))
    out = _heading(v.headline, fields)
    if v.reason:
        out.append({"type": "section", "text": _mrkdwn(f"*Reason*\n{escape(v.reason)}")})
    if v.details:
        lines = "\n".join(f"• {escape(key)}: {escape(value)}" for key, value in v.details)
        out.append({"type": "section", "text": _mrkdwn(f"*Latest details*\n{lines}")})
    if v.tenants.total:
        out.append(
            {
                "type": "section",
                "text": _mrkdwn(f"*Tenants affected ({v.tenants.total})*\n{escape(v.tenants.text())}"),
            }
        )
    return out + _closing(link_texts(v), v.footer)


def message(notification: Notification) -> dict[str, Any]:
    """The message body shared by webhooks, chat.postMessage and chat.update."""
    v = view(notification)
    return _attachment(v.headline, v.colour, blocks(v))


def thread_reply(notification: Notification) -> str:
    """The short reply under the original message: editing a message notifies nobody."""
    v = view(notification)
    if notification.kind is Kind.RESOLVE:
        return f":white_check_mark: Resolved: {escape(v.summary)}"
    who = f" by {escape(v.acknowledged_by)}" if v.acknowledged_by else ""
    return f":eyes: Acknowledged{who}: {escape(v.summary)}"


def group_blocks(v: GroupView) -> list[dict[str, Any]]:
    fields = [
        ("Service", v.service),
        ("Condition", v.condition),
        ("Severity", v.severity),
        ("Live", f"{v.live} ({v.unacknowledged} unacknowledged)"),
        ("Failing since", v.since),
    ]
    out = _heading(v.headline, fields)
    if v.reason:
        out.append({"type": "section", "text": _mrkdwn(f"*Worst reason*\n{escape(v.reason)}")})
    for title, tenants in v.tenant_sections():
        text = f"*{escape(title)} ({tenants.total})*\n{escape(tenants.text())}"
        out.append({"type": "section", "text": _mrkdwn(text)})
    return out + _closing(v.links, v.footer)


def group_message(group: GroupNotification) -> dict[str, Any]:
    """An alert group's message, laid out like `message`."""
    v = group_view(group)
    return _attachment(v.headline, v.colour, group_blocks(v))


class SlackCallError(DeliveryError):
    """A Web API refusal, with Slack's error code for callers that react to particular codes."""

    def __init__(self, reason: str, retryable: bool, error: str) -> None:
        super().__init__(reason, retryable)
        self.error = error


def _split_ref(ref: str | None) -> tuple[str, str] | None:
    channel, sep, ts = (ref or "").partition(":")
    return (channel, ts) if sep and channel and ts else None


class SlackChannel:
    name = "slack"

    def __init__(
        self,
        webhook_url: str | None = None,
        bot_token: str | None = None,
        channel: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 10,
    ) -> None:
        if bot_token and not channel:
            raise ValueError("slack: bot_token needs a channel to post to")
        if not bot_token and not webhook_url:
            raise ValueError("slack: give webhook_url, or bot_token and channel")
        self.channel = channel
        self.timeout_s = timeout_s
        # urllib takes float seconds; slack_sdk merely annotates its timeout as int.
        timeout = cast(int, timeout_s)
        self._web: WebClient | None = None
        self._hook: WebhookClient | None = None
        # With both configured the bot wins: only the Web API can update the original message.
        if bot_token:
            self._web = WebClient(token=bot_token, base_url=base_url, timeout=timeout, retry_handlers=[])
        else:
            assert webhook_url is not None
            self._hook = WebhookClient(webhook_url, timeout=timeout, retry_handlers=[])
        self._secrets = secret_forms(bot_token, *url_secrets(webhook_url))

    def __repr__(self) -> str:
        mode = "bot" if self._web is not None else "webhook"
        return f"SlackChannel(mode={mode!r}, channel={self.channel!r})"

    async def send(self, notification: Notification) -> Sent:
        if self._web is not None:
            return await asyncio.to_thread(self._send_web, self._web, notification)
        assert self._hook is not None
        return await asyncio.to_thread(self._send_webhook, self._hook, message(notification))

    async def send_group(self, group: GroupNotification) -> Sent:
        # Always a new message, and no ref kept: a later notice of one member must not edit the
        # group's message into that member's.
        body = group_message(group)
        if self._web is not None:
            web, channel = self._web, self.channel
            await asyncio.to_thread(lambda: self._call(web, "chat.postMessage", channel=channel, **body))
            return Sent()
        assert self._hook is not None
        return await asyncio.to_thread(self._send_webhook, self._hook, body)

    # -- incoming webhook ----------------------------------------------------------------------

    def _send_webhook(self, hook: WebhookClient, body: dict[str, Any]) -> Sent:
        try:
            response = hook.send_dict(body)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise failure(f"slack webhook: {network_reason(exc)}", True, self._secrets) from None
        if response.status_code == 200:
            return Sent()
        answer = (response.body or "").strip()
        retryable = answer not in WEBHOOK_PERMANENT and retryable_status(response.status_code)
        # Whole, not sliced: `failure` removes secrets before it shortens the text, so a cut
        # can never leave half a secret behind.
        reason = f"slack webhook answered HTTP {response.status_code}: {answer or '(empty)'}"
        raise failure(reason, retryable, self._secrets)

    # -- Web API -------------------------------------------------------------------------------

    def _send_web(self, web: WebClient, notification: Notification) -> Sent:
        original = _split_ref(notification.ref) if notification.kind in _FOLLOW_UPS else None
        body = message(notification)
        if original is not None:
            channel, ts = original
            try:
                self._call(web, "chat.update", channel=channel, ts=ts, **body)
            except SlackCallError as exc:
                if exc.error not in _UPDATE_GONE:
                    raise
                # The original is gone or too old to edit; a new message still tells people.
            else:
                reply = thread_reply(notification)
                self._call(web, "chat.postMessage", channel=channel, thread_ts=ts, text=reply)
                return Sent(ref=notification.ref)
        assert self.channel is not None
        answer = self._call(web, "chat.postMessage", channel=self.channel, **body)
        return Sent(ref=f"{answer['channel']}:{answer['ts']}")

    def _call(self, web: WebClient, method: str, **args: Any) -> dict[str, Any]:
        try:
            response = web.api_call(method, json=args)
        except SlackApiError as exc:
            raise self._api_failure(method, exc) from None
        except SlackClientError as exc:
            # The SDK refusing a request it built (a bad base URL, say): a config error.
            raise failure(f"slack {method}: {type(exc).__name__}", False, self._secrets) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise failure(f"slack {method}: {network_reason(exc)}", True, self._secrets) from None
        data = response.data
        if not isinstance(data, dict):
            raise failure(f"slack {method}: answer is not a JSON object", True, self._secrets)
        return data

    def _api_failure(self, method: str, exc: SlackApiError) -> SlackCallError:
        response = exc.response
        status = response.status_code
        data = response.data if isinstance(response.data, dict) else {}
        error = str(data.get("error") or "")
        if error == "ratelimited" or status == 429:
            retryable = True
        elif error in API_PERMANENT:
            retryable = False
        else:
            retryable = status == 200 or retryable_status(status)
        # Slack's codes are short words; anything longer is the SDK quoting a non-JSON body.
        shown = error if len(error) <= 80 else "unexpected answer"
        reason = f"slack {method} failed (HTTP {status}): {shown or 'no error code'}"
        return SlackCallError(clean_reason(reason, self._secrets), retryable, error)
