"""MCP server over Streamable HTTP: the stateless 2026-07-28 `server/discover`, or the
initialize handshake of the 2025 revisions, then `tools/list`.

Plain HTTP through the shared `fetch` (the `mcp` package is not a dependency, and its
1.x/2.x APIs differ), so timeouts, size caps and error mapping match every other monitor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from healthmon.monitors.base import CheckFailed, Target
from healthmon.monitors.http import (
    HttpMonitor,
    Reply,
    UpstreamFailure,
    error_message,
    failure,
    fetch,
    http_metrics,
)
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
ACCEPT = "application/json, text/event-stream"
CLIENT_INFO = {"name": "healthmon", "version": "1.0"}
# What a server without the 2026-07-28 revision answers to `server/discover`: the spec's
# -32601 / -32022, and what SDK 1.x servers send for a method they cannot parse (-32600 /
# -32602). A modern server that is truly broken still fails the handshake that follows.
FALLBACK_STATUSES = frozenset({400, 404})
FALLBACK_CODES = frozenset({-32601, -32022, -32600, -32602})


def _sse_messages(reply: Reply) -> list[Any]:
    """The JSON payloads of the `message` events in an event-stream body."""
    try:
        text = reply.body.decode("utf-8")
    except UnicodeDecodeError:
        raise reply.bad_body("event stream is not UTF-8") from None
    messages: list[Any] = []
    for block in text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
        payload = "\n".join(data)
        # Priming events (an id and empty data) exist only so a client can resume.
        if event != "message" or not payload.strip():
            continue
        try:
            messages.append(json.loads(payload))
        except ValueError:
            raise reply.bad_body("malformed JSON in an event-stream message") from None
    return messages


def _response(reply: Reply, rid: int) -> dict[str, Any]:
    """The JSON-RPC response to request `rid` in a 2xx answer, JSON or event stream."""
    if reply.headers.get("content-type", "").startswith("text/event-stream"):
        messages = _sse_messages(reply)
    else:
        data = reply.json()
        messages = data if isinstance(data, list) else [data]
    answers = [m for m in messages if isinstance(m, dict) and ("result" in m or "error" in m)]
    for message in answers:
        if message.get("id") == rid:
            return message
    # A server that could not read our request answers with an error and a null id (the
    # python SDK uses "server-error"): it is still the answer to our request.
    for message in answers:
        if "error" in message and not isinstance(message.get("id"), int):
            return message
    raise reply.bad_body(f"no JSON-RPC response to request {rid} in the answer")


def _rpc_error(error: Any) -> tuple[int | None, str | None]:
    if not isinstance(error, dict):
        return None, None
    code = error.get("code")
    message = error.get("message")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        message[:200] if isinstance(message, str) else None,
    )


def _loose_rpc_error(body: bytes) -> tuple[int | None, str | None]:
    """The JSON-RPC error in a non-2xx body, if it has one (such bodies are not required to)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    return _rpc_error(data.get("error") if isinstance(data, dict) else None)


def _protocol(reply: Reply, reason: str, code: int | None = None) -> CheckFailed:
    details: dict[str, Any] = {"http_status": reply.status}
    if code is not None:
        details["rpc_code"] = code
    return CheckFailed(Outcome.unhealthy(reason, reply.latency_ms, error="protocol", **details))


def _refused(reply: Reply, step: str, in_session: bool) -> CheckFailed:
    """A non-2xx answer to `step`; `in_session` once initialize has handed out a session."""
    code, message = _loose_rpc_error(reply.body)
    status = reply.status
    if status in (401, 403, 429) or status >= 500:
        vendor = error_message(reply.body, ("error_description",), ("error", "message"), ("error",))
        return CheckFailed(failure(reply, vendor, step=step, rpc_code=code))
    if in_session and status == 404:
        return _protocol(reply, f"{step}: the server no longer knows the session (HTTP 404)", code)
    if code is not None or in_session:
        return _protocol(reply, f"{step} refused (HTTP {status}): {code} {message or ''}".rstrip(), code)
    return CheckFailed(failure(reply, message, step=step))


def _result(reply: Reply, rid: int, step: str, in_session: bool) -> dict[str, Any]:
    if not 200 <= reply.status < 300:
        raise _refused(reply, step, in_session)
    message = _response(reply, rid)
    if "error" in message:
        code, text = _rpc_error(message["error"])
        raise _protocol(reply, f"{step}: JSON-RPC error {code}: {text or 'no message'}", code)
    result = message.get("result")
    if not isinstance(result, dict):
        raise reply.bad_body(f"{step}: result is not an object")
    return result


def _no_modern_era(reply: Reply) -> str | None:
    """Why `server/discover` says the server only speaks the handshake era, or None."""
    if 200 <= reply.status < 300:
        code, _ = _rpc_error(_response(reply, 1).get("error"))
        return f"JSON-RPC {code}" if code in FALLBACK_CODES else None
    if reply.status in FALLBACK_STATUSES:
        return f"HTTP {reply.status}"
    code, _ = _loose_rpc_error(reply.body)
    return f"HTTP {reply.status}, JSON-RPC {code}" if code in FALLBACK_CODES else None


def _tool_count(reply: Reply, result: Mapping[str, Any]) -> int:
    tools = result.get("tools")
    if not isinstance(tools, list):
        raise reply.bad_body("tools/list: result has no tools list")
    return len(tools)


def _server_facts(result: Mapping[str, Any]) -> dict[str, Any]:
    info = result.get("serverInfo")
    if not isinstance(info, dict):
        info = {}
    return {"server_name": info.get("name"), "server_version": info.get("version")}


@dataclass(frozen=True)
class _Server:
    """The server as one check reaches it: where, with which headers, and since when."""

    resources: BatchResources
    url: str
    headers: Mapping[str, str]
    started: float

    async def post(self, message: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Reply:
        return await fetch(
            self.resources, "POST", self.url, headers={**self.headers, **(headers or {})}, json_body=message
        )

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)


class McpMonitor(HttpMonitor):
    service = "mcp"
    tier = Tier.INTEGRATION
    required = ("base_url",)
    description = (
        "POST server/discover (2026-07-28) or initialize + notifications/initialized, then tools/list"
    )
    metrics = http_metrics("tools", "handshake_ms", "stateful")

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        url = str(s["base_url"])
        modern = str(s.get("modern_protocol_version") or MODERN_VERSION)
        mode = str(s.get("mode") or "auto")
        if mode not in ("auto", "legacy", modern):
            return Outcome.unknown(f"unknown mode {mode!r}: use auto, legacy or {modern}", error="config")
        headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
        if s.get("token"):
            headers["Authorization"] = f"Bearer {s['token']}"
        server = _Server(resources, url, headers, time.perf_counter())
        facts: dict[str, Any] = {}
        if mode != "legacy":
            outcome = await self._stateless(server, modern, mode == "auto")
            if isinstance(outcome, Outcome):
                return outcome
            facts["discover_refused"] = outcome
        return await self._handshake(server, str(s.get("protocol_version") or LEGACY_VERSION), facts)

    async def _stateless(self, server: _Server, version: str, may_fall_back: bool) -> Outcome | str:
        """The 2026-07-28 exchange; a string (why) when the server wants the handshake instead."""
        meta = {
            "io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
            "io.modelcontextprotocol/clientCapabilities": {},
        }

        async def call(rid: int, method: str) -> Reply:
            return await server.post(
                {"jsonrpc": "2.0", "id": rid, "method": method, "params": {"_meta": meta}},
                {"MCP-Protocol-Version": version, "Mcp-Method": method},
            )

        discover = await call(1, "server/discover")
        if may_fall_back:
            why = _no_modern_era(discover)
            if why is not None:
                return why
        found = _result(discover, 1, "server/discover", in_session=False)
        listing = await call(2, "tools/list")
        tools = _tool_count(listing, _result(listing, 2, "tools/list", in_session=False))
        return Outcome.healthy(
            discover.latency_ms,
            http_status=discover.status,
            era=version,
            protocol_version=version,
            tools=tools,
            handshake_ms=server.elapsed_ms(),
            stateful=False,
            **_server_facts(found),
        )

    async def _handshake(self, server: _Server, version: str, facts: dict[str, Any]) -> Outcome:
        """The handshake era: initialize, notifications/initialized, tools/list, end the session."""
        params = {"protocolVersion": version, "capabilities": {}, "clientInfo": CLIENT_INFO}
        init = await server.post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
        result = _result(init, 1, "initialize", in_session=False)
        agreed = result.get("protocolVersion")
        if not isinstance(agreed, str) or not agreed:
            raise _protocol(init, "initialize: result has no protocolVersion")
        session = init.headers.get("mcp-session-id")
        headers = {**server.headers, "MCP-Protocol-Version": agreed}
        if session:
            headers["Mcp-Session-Id"] = session
        in_session = replace(server, headers=headers)
        try:
            tools = await self._after_initialize(in_session, result)
        except CheckFailed:
            await self._end(in_session)
            raise
        handshake_ms = in_session.elapsed_ms()
        await self._end(in_session)
        return Outcome.healthy(
            init.latency_ms,
            http_status=init.status,
            era="legacy",
            protocol_version=agreed,
            tools=tools,
            handshake_ms=handshake_ms,
            stateful=bool(session),
            **_server_facts(result),
            **facts,
        )

    async def _after_initialize(self, session: _Server, init: Mapping[str, Any]) -> int | None:
        note = await session.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        if not 200 <= note.status < 300:
            raise _refused(note, "notifications/initialized", in_session=True)
        capabilities = init.get("capabilities")
        # A server without the tools capability may answer tools/list with -32601: not a fault.
        if not isinstance(capabilities, dict) or "tools" not in capabilities:
            return None
        listing = await session.post({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        return _tool_count(listing, _result(listing, 2, "tools/list", in_session=True))

    async def _end(self, session: _Server) -> None:
        if "Mcp-Session-Id" not in session.headers:
            return
        try:
            # Servers may answer 405 (they do not let clients end sessions); nothing to decide.
            await fetch(session.resources, "DELETE", session.url, headers=session.headers)
        except UpstreamFailure:
            pass  # cleanup only: the handshake already decided the verdict
