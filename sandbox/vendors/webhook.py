"""A generic webhook receiver: `POST /webhook/{name}` records the body and headers under channel
`webhook`."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import json_response

_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


class Webhook(Vendor):
    service = "webhook"
    prefix = "/webhook"

    @serves("/{name}", "POST", authed=False)
    async def receive(self, call: Call) -> Response:
        request = call.request
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = raw.decode("utf-8", "replace")
        # Every header, so tests can check idempotency keys and custom headers; credentials
        # are left out, as the sandbox never records a secret.
        headers = {k: v for k, v in request.headers.items() if k not in _CREDENTIAL_HEADERS}
        self.state.record("webhook", request.scope["path"], body, headers)
        return json_response({"ok": True})

    def http_error(self, call: Call, fault: Fault) -> Response:
        return json_response(
            {"ok": False, "error": fault.params["error"] or "server error"}, fault.params["status"]
        )
