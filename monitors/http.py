"""Shared HTTP handling for service monitors: one request, a size cap, errors as outcomes.

A service monitor calls `fetch(...)`; anything that goes wrong on the way (timeout, refused
connection, DNS or TLS failure, reset, an oversize body) comes back as an `UpstreamFailure`
carrying the Outcome to return, so the monitor itself only reads and decides.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from monitors.base import CheckFailed
from monitors.resources import BatchResources
from monitors.result import Outcome

#: the most a health check reads of any answer; a real health answer is a few KB
MAX_BODY_BYTES = 1_000_000


class UpstreamFailure(CheckFailed):
    """The upstream could not be read; `outcome` says why."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes
    latency_ms: float

    def json(self) -> Any:
        """The body as JSON, or an UpstreamFailure saying it is not."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise UpstreamFailure(
                Outcome.unhealthy(
                    f"malformed JSON in a {self.status} answer",
                    self.latency_ms,
                    error="bad_body",
                    http_status=self.status,
                )
            ) from None

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise UpstreamFailure(
                Outcome.unhealthy(
                    f"expected a JSON object, got {type(data).__name__}",
                    self.latency_ms,
                    error="bad_body",
                    http_status=self.status,
                )
            )
        return data


def _classify(exc: httpx.HTTPError) -> tuple[str, str]:
    text = str(exc).lower()
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time", "timeout"
    # httpx wraps the socket error; the cause chain says what really happened
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed", "tls"
        if isinstance(cause, socket.gaierror):
            return "host name does not resolve", "dns"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused", "connect"
        if isinstance(cause, ExceptionGroup):
            inner = [c for c in cause.exceptions if isinstance(c, OSError)]
            cause = inner[0] if inner else cause.__cause__
            continue
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectError):
        if "name or service not known" in text or "nodename nor servname" in text:
            return "host name does not resolve", "dns"
        if "refused" in text:
            return "connection refused", "connect"
        return f"cannot connect: {str(exc)[:120]}", "connect"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "connection closed or reset by the server", "reset"
    return f"HTTP error: {type(exc).__name__}", "http"


async def fetch(
    resources: BatchResources,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    json_body: Any = None,
    data: Mapping[str, Any] | None = None,
    auth: tuple[str, str] | None = None,
    max_bytes: int = MAX_BODY_BYTES,
) -> Reply:
    """One request through the batch's shared client; the runner's timeout bounds it."""
    client = resources.http()
    started = time.perf_counter()
    try:
        async with client.stream(
            method, url, headers=headers, params=params, json=json_body, data=data, auth=auth
        ) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise UpstreamFailure(
                        Outcome.unhealthy(
                            f"answer larger than {max_bytes} bytes",
                            (time.perf_counter() - started) * 1000,
                            error="oversize",
                            http_status=response.status_code,
                        )
                    )
                chunks.append(chunk)
            latency_ms = (time.perf_counter() - started) * 1000
            return Reply(response.status_code, response.headers, b"".join(chunks), latency_ms)
    except httpx.HTTPError as exc:
        reason, error = _classify(exc)
        raise UpstreamFailure(Outcome.unhealthy(reason, error=error)) from None
