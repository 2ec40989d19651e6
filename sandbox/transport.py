"""Transport-level misbehaviour: dropped connections, hung requests, broken or huge bodies."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

# The outermost app stores the server's own `send` here: Starlette wraps `send` in closures,
# and only the server's bound method leads back to the connection's transport.
RAW_SEND = "sandbox.raw_send"


def _transport_of(scope: Scope) -> asyncio.Transport | None:
    raw_send = scope.get(RAW_SEND)
    cycle = getattr(raw_send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    # Duck-typed: uvicorn's protocols and event loops differ, all their transports can abort.
    return cast(asyncio.Transport, transport) if hasattr(transport, "abort") else None


class ConnectionReset(Response):
    """Drop the connection without an answer: `rst` sends a TCP reset, `close` a plain FIN."""

    def __init__(self, mode: str = "rst") -> None:
        super().__init__(b"", 200)
        self.mode = mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = _transport_of(scope)
        if transport is None:
            await self._break_promise(send)
            return
        if self.mode == "rst":
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # SO_LINGER with a zero timeout turns close() into a RST.
                with contextlib.suppress(OSError, AttributeError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
        # Let the server's connection_lost run before we return, so it knows the peer is
        # gone and neither answers 500 nor logs "returned without starting response".
        for _ in range(3):
            await asyncio.sleep(0)

    async def _break_promise(self, send: Send) -> None:
        # Without a transport (another server), promise a body and stop short: the server
        # has to close the connection and the client sees an incomplete message.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"data":', "more_body": True})
        raise ConnectionAbortedError("sandbox reset fault")


def hang_release(request: Request) -> asyncio.Event:
    """The event that frees hung requests when the server stops (created on first use)."""
    state = request.app.state
    event: asyncio.Event | None = getattr(state, "hang_release", None)
    if event is None:
        event = asyncio.Event()
        state.hang_release = event
    return event


async def _until_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def hang(request: Request, seconds: float) -> Response:
    """Answer nothing until the client leaves, the server stops or `seconds` pass."""
    waiters = [
        asyncio.ensure_future(_until_disconnect(request)),
        asyncio.ensure_future(hang_release(request).wait()),
    ]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return ConnectionReset("close")


def _copy_headers(response: Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k != "content-length"}


def truncated(response: Response) -> Response:
    """The same answer with its body cut in half, so it no longer parses as JSON."""
    body = bytes(response.body)
    cut = body[: max(1, len(body) // 2)] if len(body) > 1 else b'{"'
    return Response(cut, response.status_code, _copy_headers(response))


_PADDING: dict[int, bytes] = {}


def _padding(size: int) -> bytes:
    pad = _PADDING.get(size)
    if pad is None:
        pad = _PADDING[size] = b"x" * size
    return pad


def oversized(response: Response, size: int) -> Response:
    """The same answer padded to about `size` bytes while staying valid JSON."""
    body = bytes(response.body)
    extra = max(0, size - len(body))
    if body.startswith(b"{") and len(body) > 2:
        padded = b'{"_padding":"' + _padding(extra) + b'",' + body[1:]
    elif body.startswith(b"[") and len(body) > 2:
        padded = b'["' + _padding(extra) + b'",' + body[1:]
    else:
        padded = body + b" " * extra
    return Response(padded, response.status_code, _copy_headers(response))
