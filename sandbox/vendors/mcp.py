"""An MCP server on Streamable HTTP that speaks both eras.

Handshake era (2025-03-26 .. 2025-11-25): `initialize` mints an `Mcp-Session-Id`, later
requests must carry it (400 without, 404 when unknown), notifications get 202.
Modern era (2026-07-28): stateless; every request carries `_meta` and the
`MCP-Protocol-Version` / `Mcp-Method` / `Mcp-Name` headers, results carry `resultType`.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.limits import retry_after
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import bearer, dumps, empty, json_body, json_response

MODERN_VERSIONS = ("2026-07-28",)
LEGACY_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
SUPPORTED = [*MODERN_VERSIONS, *LEGACY_VERSIONS]
META_VERSION = "io.modelcontextprotocol/protocolVersion"
NAMED_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
SERVER_INFO = {"name": "healthmon-sandbox-mcp", "title": "Healthmon sandbox MCP server", "version": "1.0.0"}
CAPABILITIES = {"tools": {"listChanged": True}, "logging": {}}
INSTRUCTIONS = "A fake MCP server for healthmon tests. Tools: echo, get_order_status."
TOOLS: list[dict[str, Any]] = [
    {
        "name": "echo",
        "title": "Echo",
        "description": "Returns the text it is given.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    },
    {
        "name": "get_order_status",
        "title": "Order status",
        "description": "Looks up the status of an order by id.",
        "inputSchema": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
        "outputSchema": {"type": "object", "properties": {"status": {"type": "string"}}},
    },
]


def sse_body(*messages: Any, priming: bool = False) -> bytes:
    """An SSE stream body carrying JSON-RPC messages as `event: message` entries."""
    parts = [b"id: 0\ndata: \n\n"] if priming else []
    for index, message in enumerate(messages, start=1):
        parts.append(b"event: message\nid: " + str(index).encode() + b"\ndata: " + dumps(message) + b"\n\n")
    return b"".join(parts)


def _rpc_error(rid: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": rid, "error": error}


def _decode_header(value: str) -> str | None:
    if value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[len("=?base64?") : -2], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    return value


def _call_tool(params: Mapping[str, Any]) -> dict[str, Any]:
    name = params.get("name")
    args = params.get("arguments") or {}
    if name == "echo":
        return {"content": [{"type": "text", "text": str(args.get("text", ""))}], "isError": False}
    if name == "get_order_status":
        status = {"status": "fulfilled", "order_id": str(args.get("order_id", ""))}
        return {
            "content": [{"type": "text", "text": status["status"]}],
            "structuredContent": status,
            "isError": False,
        }
    return {"content": [{"type": "text", "text": f"Unknown tool: {name}"}], "isError": True}


class Mcp(Vendor):
    service = "mcp"
    prefix = "/mcp"

    def _answer(
        self, call: Call, message: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        sse = call.fault("sse")
        if sse is None or status != 200:
            return json_response(message, status, headers)
        stream_headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})}
        body = sse_body(message, priming=sse.params["priming"])
        return Response(body, 200, stream_headers, "text/event-stream")

    def _unauthorized(self, description: str) -> Response:
        return json_response(
            {"error": "invalid_token", "error_description": description},
            401,
            {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'},
        )

    @serves("/mcp", "GET", "POST", "DELETE")
    async def endpoint(self, call: Call) -> Response:
        request = call.request
        if request.method == "GET":
            return empty(405, {"Allow": "POST, DELETE"})
        if self.state.mcp_auth_required and bearer(request) != self.state.platform.mcp_token:
            return self._unauthorized(
                "Authentication required" if bearer(request) is None else "Invalid token"
            )
        if request.method == "DELETE":
            return self._delete(call)
        accept = request.headers.get("accept", "*/*")
        if not any(kind in accept for kind in ("application/json", "text/event-stream", "*/*")):
            return json_response(
                _rpc_error(None, -32600, "Not Acceptable: Client must accept application/json"), 406
            )
        try:
            body = await json_body(request)
        except ValueError:
            return json_response(_rpc_error(None, -32700, "Parse error"), 400)
        if not isinstance(body, dict) or body.get("jsonrpc") != "2.0":
            return json_response(_rpc_error(None, -32600, "Invalid Request"), 400)
        method = body.get("method")
        if not isinstance(method, str):
            # A JSON-RPC response from the client (to a server request): accepted, no body.
            return empty(202)
        params = body.get("params") if isinstance(body.get("params"), dict) else {}
        assert isinstance(params, dict)
        if self._is_modern(call, method, params):
            legacy = call.fault("legacy_only")
            if legacy is not None:
                return self._legacy_refuses_modern(body.get("id"), legacy)
            return self._modern(call, body, method, params)
        return self._legacy(call, body, method, params)

    @staticmethod
    def _is_modern(call: Call, method: str, params: Mapping[str, Any]) -> bool:
        if method == "server/discover":
            return True
        meta = params.get("_meta")
        if isinstance(meta, dict) and META_VERSION in meta:
            return True
        headers = call.request.headers
        version = headers.get("mcp-protocol-version")
        return (
            version is not None
            and version not in LEGACY_VERSIONS
            and method != "initialize"
            and "mcp-session-id" not in headers
        )

    def _legacy_refuses_modern(self, rid: Any, fault: Fault) -> Response:
        mode = fault.params["mode"]
        if mode == "missing_session":
            return json_response(_rpc_error("server-error", -32600, "Bad Request: Missing session ID"), 400)
        if mode == "method_not_found_200":
            return json_response(_rpc_error(rid, -32601, "Method not found"), 200)
        return json_response(_rpc_error(rid, -32601, "Method not found"), 404)

    # -- handshake era ---------------------------------------------------------------------------

    def _delete(self, call: Call) -> Response:
        session = call.request.headers.get("mcp-session-id")
        if session is None:
            return json_response(_rpc_error("server-error", -32600, "Bad Request: Missing session ID"), 400)
        if self.state.mcp_sessions.pop(session, None) is None:
            return json_response(_rpc_error("server-error", -32001, "Session not found"), 404)
        return empty(200)

    def _legacy(self, call: Call, body: dict[str, Any], method: str, params: dict[str, Any]) -> Response:
        rid = body.get("id")
        headers = call.request.headers
        if method == "initialize":
            requested = params.get("protocolVersion")
            version = (
                requested
                if isinstance(requested, str) and requested in LEGACY_VERSIONS
                else LEGACY_VERSIONS[0]
            )
            session = uuid.uuid4().hex
            self.state.remember_mcp_session(session, version)
            result = {
                "protocolVersion": version,
                "capabilities": CAPABILITIES,
                "serverInfo": SERVER_INFO,
                "instructions": INSTRUCTIONS,
            }
            return self._answer(
                call, {"jsonrpc": "2.0", "id": rid, "result": result}, headers={"Mcp-Session-Id": session}
            )
        session_id = headers.get("mcp-session-id")
        if session_id is None:
            return json_response(_rpc_error("server-error", -32600, "Bad Request: Missing session ID"), 400)
        if session_id not in self.state.mcp_sessions:
            return json_response(_rpc_error("server-error", -32001, "Session not found"), 404)
        asked = headers.get("mcp-protocol-version")
        if asked is not None and asked not in LEGACY_VERSIONS:
            supported = ", ".join(LEGACY_VERSIONS)
            message = f"Bad Request: Unsupported protocol version: {asked}. Supported versions: {supported}"
            return json_response(_rpc_error("server-error", -32600, message), 400)
        if rid is None:
            return empty(202)
        if method == "tools/list":
            return self._answer(call, {"jsonrpc": "2.0", "id": rid, "result": {"tools": TOOLS}})
        if method == "ping":
            return self._answer(call, {"jsonrpc": "2.0", "id": rid, "result": {}})
        if method == "tools/call":
            return self._answer(call, {"jsonrpc": "2.0", "id": rid, "result": _call_tool(params)})
        return self._answer(call, _rpc_error(rid, -32601, "Method not found"))

    # -- 2026-07-28 ------------------------------------------------------------------------------

    def _modern(self, call: Call, body: dict[str, Any], method: str, params: dict[str, Any]) -> Response:
        rid = body.get("id")
        headers = call.request.headers
        header_version = headers.get("mcp-protocol-version")
        meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
        assert isinstance(meta, dict)
        body_version = meta.get(META_VERSION)
        if header_version is None:
            return json_response(
                _rpc_error(rid, -32020, "Header mismatch: missing MCP-Protocol-Version header"), 400
            )
        if body_version is not None and body_version != header_version:
            message = (
                f"Header mismatch: MCP-Protocol-Version header value '{header_version}'"
                f" does not match body value '{body_version}'"
            )
            return json_response(_rpc_error(rid, -32020, message), 400)
        if header_version not in MODERN_VERSIONS:
            data = {"supported": SUPPORTED, "requested": header_version}
            return json_response(_rpc_error(rid, -32022, "Unsupported protocol version", data), 400)
        header_method = headers.get("mcp-method")
        if header_method != method:
            problem = (
                "missing Mcp-Method header"
                if header_method is None
                else (f"Mcp-Method header value '{header_method}' does not match body value '{method}'")
            )
            return json_response(_rpc_error(rid, -32020, f"Header mismatch: {problem}"), 400)
        named = NAMED_METHODS.get(method)
        if named is not None:
            raw_name = headers.get("mcp-name")
            header_name = _decode_header(raw_name) if raw_name is not None else None
            if header_name is None or header_name != params.get(named):
                return json_response(_rpc_error(rid, -32020, "Header mismatch: Mcp-Name"), 400)
        if rid is None:
            return empty(202)
        if method == "server/discover":
            result: dict[str, Any] = {
                "supportedVersions": SUPPORTED,
                "capabilities": CAPABILITIES,
                "serverInfo": SERVER_INFO,
                "instructions": INSTRUCTIONS,
                "ttlMs": 60_000,
                "cacheScope": "public",
            }
        elif method == "tools/list":
            result = {"tools": TOOLS}
        elif method == "tools/call":
            result = _call_tool(params)
        else:
            return json_response(_rpc_error(rid, -32601, "Method not found"), 404)
        return self._answer(
            call, {"jsonrpc": "2.0", "id": rid, "result": {"resultType": "complete", **result}}
        )

    # -- fault hooks ----------------------------------------------------------------------------

    def http_error(self, call: Call, fault: Fault) -> Response:
        return json_response(
            _rpc_error(None, -32603, fault.params["error"] or "Internal error"), fault.params["status"]
        )

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        return json_response(_rpc_error(None, -32000, "Rate limit exceeded"), 429, retry_after(fault, 5))

    def revoked(self, call: Call, fault: Fault) -> Response:
        return self._unauthorized("The access token has been revoked")

    def expired(self, call: Call, fault: Fault) -> Response:
        return self._unauthorized("The access token expired")
