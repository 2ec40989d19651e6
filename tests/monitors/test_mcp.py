from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.mcp import McpMonitor
from healthmon.monitors.result import Status
from healthmon.sandbox.server import RunningSandbox
from tests.support.vendor_cases import check_healthy, run_monitor, settings_fixture

# MCP's faults (in both modes) and settings: test_common_failures.py, test_bad_settings.py
M = McpMonitor()
settings = settings_fixture(M)


async def test_healthy_auto_uses_the_stateless_era(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    result = await check_healthy(M, settings)
    d = result.details
    assert (d["era"], d["protocol_version"], d["tools"], d["stateful"]) == (
        "2026-07-28",
        "2026-07-28",
        2,
        False,
    )
    assert d["server_name"] == "healthmon-sandbox-mcp"
    assert result.latency_ms is not None and d["handshake_ms"] >= result.latency_ms
    assert "discover_refused" not in d
    assert not sandbox.state.mcp_sessions


async def test_healthy_legacy_handshake_ends_its_session(
    sandbox: RunningSandbox, settings: dict[str, Any]
) -> None:
    settings["mode"] = "legacy"
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    d = result.details
    assert (d["era"], d["protocol_version"], d["tools"], d["stateful"]) == ("legacy", "2025-11-25", 2, True)
    assert result.latency_ms is not None and d["handshake_ms"] >= result.latency_ms
    assert not sandbox.state.mcp_sessions  # DELETE ended it
    assert sandbox.state.requests_for("mcp") == 4  # initialize, initialized, tools/list, DELETE


async def test_configured_legacy_version_is_negotiated(settings: dict[str, Any]) -> None:
    settings.update(mode="legacy", protocol_version="2025-06-18")
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY and result.details["protocol_version"] == "2025-06-18"


async def test_stateless_only_mode(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    settings["mode"] = "2026-07-28"
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY and result.details["era"] == "2026-07-28"
    sandbox.state.add_fault("mcp", "legacy_only")
    refused = await run_monitor(M, settings)
    assert (refused.status, refused.details["error"]) == (Status.UNHEALTHY, "protocol"), refused.details
    assert refused.details["rpc_code"] == -32601


@pytest.mark.parametrize("mode", ["not_found", "missing_session", "method_not_found_200"])
async def test_auto_falls_back_to_the_handshake(
    sandbox: RunningSandbox, settings: dict[str, Any], mode: str
) -> None:
    sandbox.state.add_fault("mcp", "legacy_only", mode=mode)
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert (result.details["era"], result.details["protocol_version"]) == ("legacy", "2025-11-25")
    assert result.details["tools"] == 2 and result.details["discover_refused"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("priming", [False, True])
async def test_event_stream_answers(
    sandbox: RunningSandbox, settings: dict[str, Any], mode: str, priming: bool
) -> None:
    sandbox.state.add_fault("mcp", "sse", priming=priming)
    settings["mode"] = mode
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["tools"] == 2


async def test_event_stream_handshake_after_fallback(
    sandbox: RunningSandbox, settings: dict[str, Any]
) -> None:
    sandbox.state.add_fault("mcp", "sse", priming=True)
    sandbox.state.add_fault("mcp", "legacy_only")
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY and result.details["era"] == "legacy", result.details


async def test_malformed_event_stream_is_bad_body(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("mcp", "sse")
    sandbox.state.add_fault("mcp", "malformed_json")
    for mode in ("auto", "legacy"):
        settings["mode"] = mode
        result = await run_monitor(M, settings)
        assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "bad_body"), result.details


async def test_unknown_session_after_initialize_is_protocol(
    sandbox: RunningSandbox, settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server hands out a session id and forgets it at once (a restart, a lost sticky route).
    monkeypatch.setattr(sandbox.state, "remember_mcp_session", lambda session_id, version: None)
    settings["mode"] = "legacy"
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "protocol"), result.details
    assert result.details["http_status"] == 404 and "session" in result.details["reason"]


async def test_token_is_optional(
    sandbox: RunningSandbox, settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox.state, "mcp_auth_required", False)
    settings.pop("token")
    for mode in ("auto", "legacy"):
        settings["mode"] = mode
        result = await run_monitor(M, settings)
        assert result.status is Status.HEALTHY, result.details


async def test_missing_token_when_the_server_wants_one_is_auth(settings: dict[str, Any]) -> None:
    settings.pop("token")
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "auth")
    assert result.details["reason"] == "Authentication required"


async def test_unknown_mode_is_unknown(settings: dict[str, Any]) -> None:
    settings["mode"] = "sideways"
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNKNOWN, "config")


async def test_wrong_endpoint_is_client_error(settings: dict[str, Any]) -> None:
    settings.update(base_url=settings["base_url"] + "/nope", mode="legacy")
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "client_error"), result.details
