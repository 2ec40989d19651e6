"""Slack: the Web API (auth.test, api.test, chat.postMessage, chat.update), incoming webhooks,
and the Slack status API."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.limits import retry_after
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import bearer, iso, json_response, new_id, now, text_response
from healthmon.sandbox.state import SandboxState

ROTATING_PREFIX = "xoxe."
ROTATING_LIFETIME_S = 43_200
_SERVER_ERRORS = {500: "internal_error", 503: "service_unavailable", 504: "request_timeout"}
_WEBHOOK_ERRORS = {
    400: "invalid_payload",
    403: "action_prohibited",
    404: "no_service",
    410: "channel_is_archived",
    500: "rollup_error",
}
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{8,}")
_BOT = {"user": "U000SANDBOX", "bot_id": "B000SANDBOX"}


def channel_id(channel: str) -> str:
    """Slack answers with channel ids even when given a name; names map to stable fake ids."""
    if _CHANNEL_ID.fullmatch(channel):
        return channel
    name = channel.removeprefix("#").lower()
    return "C" + hashlib.blake2b(name.encode(), digest_size=5).hexdigest().upper()


def _not_ok(error: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return json_response({"ok": False, "error": error}, status, headers)


def _has_content(message: dict[str, Any]) -> bool:
    return bool(message.get("text") or message.get("blocks") or message.get("attachments"))


async def _form(request: Request) -> dict[str, str]:
    if request.method != "POST":
        return {}
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


async def _token(request: Request) -> str | None:
    return bearer(request) or (await _form(request)).get("token") or request.query_params.get("token")


async def _args(request: Request) -> dict[str, Any]:
    """Web API arguments from a JSON body (slack_sdk's chat methods) or a form (curl, older
    clients), where structured arguments such as `attachments` arrive as JSON strings."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body())
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {}
        return body if isinstance(body, dict) else {}
    args: dict[str, Any] = dict(request.query_params)
    args.update(await _form(request))
    for key in ("attachments", "blocks", "metadata"):
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except json.JSONDecodeError:
                pass
    return args


class Slack(Vendor):
    service = "slack"
    prefix = "/slack"

    def __init__(self, state: SandboxState) -> None:
        super().__init__(state)
        self._ts_counter = itertools.count(100)

    def _token_error(self, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        bot_token = self.state.platform.slack_bot_token
        # The same bot with token rotation on: `xoxe.` access tokens live 12 hours.
        if token != bot_token and token != f"{ROTATING_PREFIX}{bot_token}":
            return "invalid_auth"
        return None

    async def refuse(self, call: Call) -> Response | None:
        error = self._token_error(await _token(call.request))
        return _not_ok(error) if error is not None else None

    @serves("/api/auth.test", "GET", "POST")
    async def auth_test(self, call: Call) -> Response:
        token = await _token(call.request)
        rotating = token == f"{ROTATING_PREFIX}{self.state.platform.slack_bot_token}"
        return json_response(
            {
                "ok": True,
                **({"expires_in": ROTATING_LIFETIME_S} if rotating else {}),
                "url": "https://healthmon-sandbox.slack.com/",
                "team": "Healthmon Sandbox",
                "user": "monitor-bot",
                "team_id": "T000SANDBOX",
                "user_id": "U000SANDBOX",
                "bot_id": "B000SANDBOX",
                "is_enterprise_install": False,
            },
            headers={"X-OAuth-Scopes": "chat:write,channels:read"},
        )

    def _new_ts(self) -> str:
        # Slack's ts is "seconds.sequence" and unique per channel; a counter keeps it unique here.
        return f"{int(time.time())}.{next(self._ts_counter) % 1_000_000:06d}"

    def _posted(self, channel: str, ts: str) -> dict[str, Any] | None:
        for entry in reversed(self.state.received("slack")):
            body = entry["body"]
            if (
                isinstance(body, dict)
                and body.get("method") == "chat.postMessage"
                and body.get("channel_id") == channel
                and body.get("ts") == ts
            ):
                return body
        return None

    def _record(self, request: Request, method: str, args: dict[str, Any], cid: str, ts: str) -> None:
        # The token never goes into a recording (a form post carries it in the body).
        body = {"method": method, **{k: v for k, v in args.items() if k != "token"}}
        body.update(channel_id=cid, ts=ts)
        self.state.record(
            "slack", request.scope["path"], body, {"content-type": request.headers.get("content-type", "")}
        )

    @staticmethod
    def _message(args: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "message", **_BOT, "text": args.get("text") or "", "ts": ts}
        for key in ("attachments", "blocks", "thread_ts"):
            if args.get(key):
                message[key] = args[key]
        return message

    @serves("/api/chat.postMessage", "POST")
    async def post_message(self, call: Call) -> Response:
        request = call.request
        args = await _args(request)
        channel = args.get("channel")
        if not isinstance(channel, str) or not channel:
            return _not_ok("channel_not_found")
        if not _has_content(args):
            return _not_ok("no_text")
        cid, ts = channel_id(channel), self._new_ts()
        self._record(request, "chat.postMessage", args, cid, ts)
        return json_response({"ok": True, "channel": cid, "ts": ts, "message": self._message(args, ts)})

    @serves("/api/chat.update", "POST")
    async def update_message(self, call: Call) -> Response:
        request = call.request
        args = await _args(request)
        channel, ts = args.get("channel"), args.get("ts")
        if not isinstance(channel, str) or not channel:
            return _not_ok("channel_not_found")
        if not isinstance(ts, str) or not ts:
            return _not_ok("message_not_found")
        if not _has_content(args):
            return _not_ok("no_text")
        cid = channel_id(channel)
        if self._posted(cid, ts) is None:
            return _not_ok("message_not_found")
        self._record(request, "chat.update", args, cid, ts)
        return json_response(
            {
                "ok": True,
                "channel": cid,
                "ts": ts,
                "text": args.get("text") or "",
                "message": self._message(args, ts),
            }
        )

    @serves("/api/api.test", "GET", "POST", authed=False)
    async def api_test(self, call: Call) -> Response:
        args: dict[str, Any] = dict(call.request.query_params)
        args.update(await _form(call.request))
        args.pop("token", None)
        body: dict[str, Any] = {"ok": True}
        if args:
            body["args"] = args
        return json_response(body)

    def http_error(self, call: Call, fault: Fault) -> Response:
        status = fault.params["status"]
        if status == 200:
            return _not_ok(fault.params["error"] or "internal_error")
        return _not_ok(fault.params["error"] or _SERVER_ERRORS.get(status, "fatal_error"), status)

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        return _not_ok("ratelimited", 429, retry_after(fault, 30))

    def revoked(self, call: Call, fault: Fault) -> Response:
        return _not_ok("token_revoked")

    def expired(self, call: Call, fault: Fault) -> Response:
        return _not_ok("token_expired")

    def decorate(self, call: Call, response: Response) -> None:
        response.headers["x-slack-req-id"] = new_id()


class SlackWebhook(Vendor):
    """Incoming webhooks; accepted posts are recorded under the channel name `slack`."""

    service = "slack_webhook"
    prefix = "/slack"

    @serves("/services/{team}/{bot}/{key}", "POST")
    async def post(self, call: Call) -> Response:
        request = call.request
        params = request.path_params
        path = f"{params['team']}/{params['bot']}/{params['key']}"
        if path != self.state.platform.slack_webhook_path:
            return self._plain(404, "no_service")
        raw = await request.body()
        try:
            if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                payload: Any = json.loads(dict(parse_qsl(raw.decode())).get("payload", ""))
            else:
                payload = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return self._plain(400, "invalid_payload")
        if not isinstance(payload, dict):
            return self._plain(400, "invalid_payload")
        if not _has_content(payload):
            return self._plain(400, "no_text")
        self.state.record(
            "slack", request.scope["path"], payload, {"content-type": request.headers.get("content-type", "")}
        )
        return self._plain(200, "ok")

    @staticmethod
    def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
        return Response(text, status, headers, "text/html")

    def http_error(self, call: Call, fault: Fault) -> Response:
        status = fault.params["status"]
        return self._plain(status, fault.params["error"] or _WEBHOOK_ERRORS.get(status, "rollup_error"))

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        return self._plain(429, "rate_limited", retry_after(fault, 1))

    def revoked(self, call: Call, fault: Fault) -> Response:
        return self._plain(403, "invalid_token")


class SlackStatus(Vendor):
    """slack-status.com; its faults live under service `statuspage`, page `slack`."""

    service = "statuspage"
    prefix = "/slack-status"

    def _page(self, request: Request) -> str:
        return "slack"

    @staticmethod
    def _incident(fault: Fault) -> dict[str, Any]:
        started = iso(fault.created_at)
        return {
            "id": 1000 + fault.id,
            "date_created": started,
            "date_updated": started,
            "title": fault.params["title"],
            "type": fault.params["type"],
            "status": "active",
            "url": f"https://slack-status.com/2026-10/sandbox{fault.id}",
            "services": ["Messaging", "Apps/Integrations/APIs"],
            "notes": [{"date_created": started, "body": "We are investigating reports of degraded service."}],
        }

    @serves("/api/v2.0.0/current", authed=False, scope_of=_page)
    async def current(self, call: Call) -> Response:
        fault = call.fault("slack_incident")
        stamp = iso(now() - 3600)
        incidents = [self._incident(fault)] if fault is not None else []
        return json_response(
            {
                "status": "active" if incidents else "ok",
                "active_incidents": incidents,
                "date_created": stamp,
                "date_updated": stamp,
            }
        )

    @serves("/api/v2.0.0/history", authed=False, scope_of=_page)
    async def history(self, call: Call) -> Response:
        return json_response([])

    def http_error(self, call: Call, fault: Fault) -> Response:
        return text_response(
            "<html><body>Service Unavailable</body></html>", fault.params["status"], "text/html"
        )
