"""Slack: the Web API (auth.test, api.test), incoming webhooks, and the Slack status API."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from sandbox.faults import Fault
from sandbox.pipeline import Call, Vendor
from sandbox.responses import bearer, iso, json_response, new_id, now, text_response

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


def _not_ok(error: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return json_response({"ok": False, "error": error}, status, headers)


async def _form(request: Request) -> dict[str, str]:
    if request.method != "POST":
        return {}
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


class Slack(Vendor):
    service = "slack"
    prefix = "/slack"

    def routes(self) -> list[BaseRoute]:
        return [
            self.route("/api/auth.test", self.auth_test, ["GET", "POST"]),
            self.route("/api/api.test", self.api_test, ["GET", "POST"], authed=False),
        ]

    async def auth_test(self, call: Call) -> Response:
        request = call.request
        token = bearer(request) or (await _form(request)).get("token") or request.query_params.get("token")
        if not token:
            return _not_ok("not_authed")
        bot_token = self.state.platform.slack_bot_token
        # The same bot with token rotation on: `xoxe.` access tokens live 12 hours.
        rotating = token == f"{ROTATING_PREFIX}{bot_token}"
        if token != bot_token and not rotating:
            return _not_ok("invalid_auth")
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
        retry = fault.params["retry_after"]
        return _not_ok("ratelimited", 429, {"Retry-After": f"{30 if retry is None else retry:g}"})

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

    def routes(self) -> list[BaseRoute]:
        return [self.route("/services/{team}/{bot}/{key}", self.post, ["POST"])]

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
        if not (payload.get("text") or payload.get("blocks") or payload.get("attachments")):
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
        retry = fault.params["retry_after"]
        return self._plain(429, "rate_limited", {"Retry-After": f"{1 if retry is None else retry:g}"})

    def revoked(self, call: Call, fault: Fault) -> Response:
        return self._plain(403, "invalid_token")


class SlackStatus(Vendor):
    """slack-status.com; its faults live under service `statuspage`, page `slack`."""

    service = "statuspage"
    prefix = "/slack-status"

    def routes(self) -> list[BaseRoute]:
        return [
            self.route(
                "/api/v2.0.0/current", self.current, ["GET"], authed=False, scope_of=lambda _: "slack"
            ),
            self.route(
                "/api/v2.0.0/history", self.history, ["GET"], authed=False, scope_of=lambda _: "slack"
            ),
        ]

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

    async def history(self, call: Call) -> Response:
        return json_response([])

    def http_error(self, call: Call, fault: Fault) -> Response:
        return text_response(
            "<html><body>Service Unavailable</body></html>", fault.params["status"], "text/html"
        )
