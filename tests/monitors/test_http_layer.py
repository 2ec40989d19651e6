"""The shared HTTP layer against a real HTTP server on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from healthmon.monitors.http import Reply, UpstreamFailure, fetch
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Status
from tests.support.hang import HangingServer
from tests.support.servers import free_port


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        if self.path == "/reset":
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.connection.close()
            return
        body = {"/ok": b'{"ok": true}', "/list": b"[1, 2]", "/bad": b'{"ok": tr', "/big": b"x" * 3_000_000}[
            self.path
        ]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


async def get(url: str) -> Reply:
    async with BatchResources() as res:
        return await fetch(res, "GET", url)


async def failure(url: str) -> UpstreamFailure:
    with pytest.raises(UpstreamFailure) as exc:
        (await get(url)).json_object()
    return exc.value


async def test_a_good_answer(server: str) -> None:
    reply = await get(f"{server}/ok")
    assert reply.status == 200 and reply.json_object() == {"ok": True} and reply.latency_ms > 0


@pytest.mark.parametrize(
    ("path", "error"),
    [("/bad", "bad_body"), ("/list", "bad_body"), ("/big", "oversize"), ("/reset", "reset")],
)
async def test_bad_answers_become_unhealthy_outcomes(server: str, path: str, error: str) -> None:
    failed = await failure(f"{server}{path}")
    assert failed.outcome.status is Status.UNHEALTHY and failed.outcome.details["error"] == error


async def test_refused_and_unresolvable() -> None:
    refused = await failure(f"http://127.0.0.1:{free_port()}/")
    assert refused.outcome.details["error"] == "connect" and refused.outcome.reason == "connection refused"
    dns = await failure("http://no-such-host.invalid/")
    assert dns.outcome.details["error"] in ("dns", "connect")


async def test_tls_failure_is_named() -> None:
    hang = HangingServer()
    plain = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=plain.serve_forever, daemon=True)
    thread.start()
    try:
        failed = await failure(f"https://127.0.0.1:{plain.server_address[1]}/ok")
    finally:
        plain.shutdown()
        hang.close()
    assert failed.outcome.details["error"] in ("tls", "reset")


def test_reading_helpers() -> None:
    import httpx

    from healthmon.monitors.http import dig, error_message, remaining_pct

    body = b'{"errors": [{"message": "bad token"}], "error": {"messages": []}}'
    assert error_message(body, ("error", "messages", 0), ("errors", 0, "message")) == "bad token"
    assert error_message(b"<html>", ("message",)) is None
    assert dig({"a": [1, {"b": 2}]}, "a", 1, "b") == 2 and dig({"a": []}, "a", 0, "b") is None
    headers = httpx.Headers({"X-RateLimit-Remaining": "15", "X-RateLimit-Limit": "60"})
    assert remaining_pct(headers) == 25.0
    assert remaining_pct(httpx.Headers({"X-RateLimit-Remaining": "5"})) is None
