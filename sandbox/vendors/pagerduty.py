"""PagerDuty Events API v2: validates events like PagerDuty does and records accepted ones."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.limits import retry_after
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import json_body, json_response

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024


def _invalid(*errors: str) -> Response:
    return json_response(
        {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)}, 400
    )


def _problems(event: Any, routing_key: str) -> list[str]:
    if not isinstance(event, dict):
        return ["Event object must be a JSON object"]
    problems: list[str] = []
    key = event.get("routing_key")
    if not isinstance(key, str) or not key:
        problems.append("'routing_key' is missing or blank")
    elif key != routing_key:
        problems.append("'routing_key' is invalid")
    action = event.get("event_action")
    if action not in ACTIONS:
        problems.append(
            "'event_action' is missing or blank" if action is None else "'event_action' is invalid"
        )
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > MAX_DEDUP_KEY):
        problems.append(f"'dedup_key' must be a string of at most {MAX_DEDUP_KEY} characters")
    if action in ("acknowledge", "resolve") and not dedup:
        problems.append("'dedup_key' is missing or blank")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            problems.append("'payload' is missing or blank")
        else:
            for field in ("summary", "source", "severity"):
                if not payload.get(field):
                    problems.append(f"'payload.{field}' is missing or blank")
            if payload.get("severity") and payload.get("severity") not in SEVERITIES:
                problems.append(
                    "'payload.severity' is invalid (must be one of critical, error, warning, info)"
                )
            summary = payload.get("summary")
            if isinstance(summary, str) and len(summary) > MAX_SUMMARY:
                problems.append(f"'payload.summary' must be at most {MAX_SUMMARY} characters")
    return problems


def _change_problems(event: Any, routing_key: str) -> list[str]:
    if not isinstance(event, dict) or event.get("routing_key") != routing_key:
        return ["'routing_key' is invalid"]
    payload = event.get("payload")
    if not isinstance(payload, dict) or not payload.get("summary"):
        return ["'payload.summary' is missing or blank"]
    return []


def incidents(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Replay accepted events (`state.received("pagerduty")` bodies, in arrival order) as
    PagerDuty Events v2 does: a trigger opens an incident for its dedup_key (or joins the open
    one), acknowledge and resolve act on an open incident and are dropped when there is none.
    Returns dedup_key -> "triggered" | "acknowledged" | "resolved" for every incident opened;
    so a resolve that arrived before its trigger leaves the later trigger's incident open."""
    state: dict[str, str] = {}
    for event in events:
        body = event.get("body", event)
        key = body.get("dedup_key")
        if not isinstance(key, str):
            continue
        action = body.get("event_action")
        current = state.get(key)
        live = current in ("triggered", "acknowledged")
        if action == "trigger" and not live:
            state[key] = "triggered"
        elif action == "acknowledge" and live:
            state[key] = "acknowledged"
        elif action == "resolve" and live:
            state[key] = "resolved"
    return state


def open_incidents(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """The dedup keys whose incident is still open (triggered or acknowledged)."""
    return sorted(k for k, v in incidents(events).items() if v != "resolved")


class PagerDuty(Vendor):
    """Accepted events are recorded under the channel name `pagerduty`."""

    service = "pagerduty"
    prefix = "/pagerduty"

    async def _accept(
        self, call: Call, problems_of: Callable[[Any, str], list[str]]
    ) -> dict[str, Any] | Response:
        """The event, recorded once it is valid; else PagerDuty's 400 naming what is wrong."""
        try:
            event = await json_body(call.request)
        except ValueError:
            return _invalid("Malformed JSON")
        problems = problems_of(event, self.state.platform.pagerduty_routing_key)
        if problems:
            return _invalid(*problems)
        self.state.record("pagerduty", call.request.scope["path"], event)
        return event

    @serves("/v2/enqueue", "POST")
    async def enqueue(self, call: Call) -> Response:
        event = await self._accept(call, _problems)
        if isinstance(event, Response):
            return event
        dedup = event.get("dedup_key") or uuid.uuid4().hex
        return json_response({"status": "success", "message": "Event processed", "dedup_key": dedup}, 202)

    @serves("/v2/change/enqueue", "POST")
    async def change(self, call: Call) -> Response:
        event = await self._accept(call, _change_problems)
        if isinstance(event, Response):
            return event
        return json_response({"status": "success", "message": "Change event processed"}, 202)

    def http_error(self, call: Call, fault: Fault) -> Response:
        return json_response(
            {"status": "error", "message": fault.params["error"] or "Internal Server Error"},
            fault.params["status"],
        )

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        return json_response(
            {
                "status": "throttle event",
                "message": "Requests for this service are arriving too quickly. Please retry later.",
            },
            429,
            retry_after(fault),
        )

    def revoked(self, call: Call, fault: Fault) -> Response:
        # The routing key is the credential: a disabled integration looks like a bad key.
        return _invalid("'routing_key' is invalid")
