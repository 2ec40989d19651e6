from __future__ import annotations

import json
from typing import Any

import httpx

from healthmon.sandbox import SandboxState

ACCEPT = "application/json, text/event-stream"
MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "monitor", "version": "1.0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def headers(state: SandboxState, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {state.platform.mcp_token}", "Accept": ACCEPT, **extra}


def rpc(method: str, rid: int | None = 1, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if rid is not None:
        message["id"] = rid
    if params is not None:
        message["params"] = params
    return message


def sse_messages(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"].startswith("text/event-stream")
    return [
        json.loads(line[len("data: ") :])
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: "
    ]


def initialize(client: httpx.Client, state: SandboxState) -> str:
    params = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "monitor", "version": "1"},
    }
    response = client.post("/mcp/mcp", json=rpc("initialize", 1, params), headers=headers(state))
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["protocolVersion"] == "2025-11-25"
    assert result["serverInfo"]["name"]
    return response.headers["Mcp-Session-Id"]


def test_handshake_era_flow(client: httpx.Client, state: SandboxState) -> None:
    session = initialize(client, state)
    session_headers = headers(state, **{"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"})
    initialized = client.post(
        "/mcp/mcp", json=rpc("notifications/initialized", None), headers=session_headers
    )
    assert (initialized.status_code, initialized.content) == (202, b"")
    tools = client.post("/mcp/mcp", json=rpc("tools/list", 2), headers=session_headers)
    assert tools.status_code == 200
    assert {t["name"] for t in tools.json()["result"]["tools"]} >= {"echo"}
    assert client.delete("/mcp/mcp", headers=session_headers).status_code == 200
    assert client.post("/mcp/mcp", json=rpc("tools/list", 3), headers=session_headers).status_code == 404


def test_handshake_era_errors(client: httpx.Client, state: SandboxState) -> None:
    missing = client.post("/mcp/mcp", json=rpc("tools/list"), headers=headers(state))
    assert missing.status_code == 400
    unknown = client.post(
        "/mcp/mcp", json=rpc("tools/list"), headers=headers(state, **{"Mcp-Session-Id": "nope"})
    )
    assert unknown.status_code == 404
    session = initialize(client, state)
    wrong_version = headers(state, **{"Mcp-Session-Id": session, "MCP-Protocol-Version": "2099-01-01"})
    assert client.post("/mcp/mcp", json=rpc("tools/list"), headers=wrong_version).status_code == 400
    assert client.post("/mcp/mcp", content=b"{", headers=headers(state)).json()["error"]["code"] == -32700
    assert client.get("/mcp/mcp", headers=headers(state)).status_code == 405


def test_bearer_token_is_required(client: httpx.Client) -> None:
    response = client.post("/mcp/mcp", json=rpc("initialize"), headers={"Accept": ACCEPT})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_sse_answers_carry_the_same_messages(client: httpx.Client, state: SandboxState) -> None:
    state.add_fault("mcp", "sse", priming=True)
    params = {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "m", "version": "1"},
    }
    response = client.post("/mcp/mcp", json=rpc("initialize", 5, params), headers=headers(state))
    [message] = sse_messages(response)
    assert message["id"] == 5
    assert message["result"]["protocolVersion"] == "2025-06-18"
    assert response.headers["Mcp-Session-Id"]


def modern_headers(state: SandboxState, method: str, version: str = MODERN) -> dict[str, str]:
    return headers(state, **{"MCP-Protocol-Version": version, "Mcp-Method": method})


def test_modern_stateless_discover_and_tools(client: httpx.Client, state: SandboxState) -> None:
    discover = client.post(
        "/mcp/mcp",
        json=rpc("server/discover", 1, {"_meta": META}),
        headers=modern_headers(state, "server/discover"),
    )
    assert discover.status_code == 200
    result = discover.json()["result"]
    assert result["resultType"] == "complete"
    assert MODERN in result["supportedVersions"]
    assert "Mcp-Session-Id" not in discover.headers
    tools = client.post(
        "/mcp/mcp", json=rpc("tools/list", 2, {"_meta": META}), headers=modern_headers(state, "tools/list")
    )
    assert tools.json()["result"]["resultType"] == "complete"
    call = client.post(
        "/mcp/mcp",
        json=rpc("tools/call", 3, {"_meta": META, "name": "echo", "arguments": {"text": "hi"}}),
        headers={**modern_headers(state, "tools/call"), "Mcp-Name": "echo"},
    )
    assert call.json()["result"]["content"][0]["text"] == "hi"


def test_modern_errors(client: httpx.Client, state: SandboxState) -> None:
    old = {**META, "io.modelcontextprotocol/protocolVersion": "1900-01-01"}
    unsupported = client.post(
        "/mcp/mcp",
        json=rpc("server/discover", 1, {"_meta": old}),
        headers=modern_headers(state, "server/discover", "1900-01-01"),
    )
    assert unsupported.status_code == 400
    error = unsupported.json()["error"]
    assert error["code"] == -32022
    assert MODERN in error["data"]["supported"]
    no_method_header = client.post(
        "/mcp/mcp",
        json=rpc("tools/list", 2, {"_meta": META}),
        headers=headers(state, **{"MCP-Protocol-Version": MODERN}),
    )
    assert (no_method_header.status_code, no_method_header.json()["error"]["code"]) == (400, -32020)
    unknown = client.post(
        "/mcp/mcp", json=rpc("nope/nope", 3, {"_meta": META}), headers=modern_headers(state, "nope/nope")
    )
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, -32601)


def test_legacy_only_server_refuses_discover(client: httpx.Client, state: SandboxState) -> None:
    state.add_fault("mcp", "legacy_only")
    refused = client.post(
        "/mcp/mcp",
        json=rpc("server/discover", 1, {"_meta": META}),
        headers=modern_headers(state, "server/discover"),
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, -32601)
    assert initialize(client, state)
    state.add_fault("mcp", "legacy_only", mode="missing_session")
    refused = client.post(
        "/mcp/mcp",
        json=rpc("server/discover", 1, {"_meta": META}),
        headers=modern_headers(state, "server/discover"),
    )
    assert refused.status_code == 400
