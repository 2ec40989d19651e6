"""Shared HTTP handling for service monitors: one request, a size cap, errors as outcomes.

A service monitor (an `HttpMonitor`) calls `fetch(...)`; anything that goes wrong on the way
(timeout, refused connection, DNS or TLS failure, reset, an oversize body) comes back as an
`UpstreamFailure` carrying the Outcome to return, so the monitor itself only reads and decides.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp
from multidict import CIMultiDict

from healthmon.monitors import json_codec
from healthmon.monitors.base import CheckFailed, Monitor
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome

#: the most a health check reads of any answer; a real health answer is a few KB
MAX_BODY_BYTES = 1_000_000


class UpstreamFailure(CheckFailed):
    """The upstream could not be read; `outcome` says why."""


@dataclass(frozen=True)
class Reply:
    status: int
    #: case-insensitive (aiohttp's own header mapping, not copied)
    headers: Mapping[str, str]
    body: bytes
    latency_ms: float

    def bad_body(self, reason: str) -> UpstreamFailure:
        """The failure to raise when this answer cannot be read as the vendor documents it."""
        return UpstreamFailure(
            Outcome.unhealthy(reason, self.latency_ms, error="bad_body", http_status=self.status)
        )

    def json(self) -> Any:
        """The body as JSON, or an UpstreamFailure saying it is not."""
        try:
            return json_codec.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise self.bad_body(f"malformed JSON in a {self.status} answer") from None

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise self.bad_body(f"expected a JSON object, got {type(data).__name__}")
        return data


def _classify(exc: BaseException) -> tuple[str, str]:
    """An operator's reason and an error class for a transport failure (aiohttp's exceptions)."""
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid URL", "config"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return "TLS handshake failed", "tls"
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
        if isinstance(cause, socket.gaierror):
            return "host name does not resolve", "dns"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused", "connect"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed", "tls"
        return f"cannot connect: {cause.strerror or type(cause).__name__}", "connect"
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return "no answer in time", "timeout"
    if isinstance(exc, ssl.SSLError):
        return "TLS handshake failed", "tls"
    if isinstance(
        exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientOSError
    ) or isinstance(exc, ConnectionError):
        return "connection closed or reset by the server", "reset"
    return f"HTTP error: {type(exc).__name__}", "http"


def _query(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    # aiohttp takes str/int/float only; bools and the rest go as their text
    if params is None:
        return None
    return {
        k: v if isinstance(v, str) else ("true" if v is True else "false" if v is False else str(v))
        for k, v in params.items()
    }


def _oversize(max_bytes: int, started: float, status: int) -> UpstreamFailure:
    return UpstreamFailure(
        Outcome.unhealthy(
            f"answer larger than {max_bytes} bytes",
            (time.perf_counter() - started) * 1000,
            error="oversize",
            http_status=status,
        )
    )


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
    """One request through the batch's shared session; the runner's timeout bounds it."""
    session = resources.http()
    payload: Any = data
    if json_body is not None:
        if data is not None:
            raise ValueError("data and json_body are mutually exclusive")
        # encoded here by orjson, not by aiohttp's JsonPayload (json.dumps): a few us per check
        payload = json_codec.dumps_bytes(json_body)
        headers = CIMultiDict(headers or {})
        headers.setdefault("Content-Type", "application/json")
    started = time.perf_counter()
    try:
        async with session.request(
            method,
            url,
            headers=headers,
            params=_query(params),
            data=payload,
            auth=aiohttp.BasicAuth(*auth) if auth else None,
            allow_redirects=False,
        ) as response:
            length = response.content_length
            if length is not None and length > max_bytes:
                raise _oversize(max_bytes, started, response.status)
            if length is not None:
                body = await response.read()
            else:
                # no length announced (chunked): read up to the cap, not the whole stream
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > max_bytes:
                        raise _oversize(max_bytes, started, response.status)
                    chunks.append(chunk)
                body = b"".join(chunks)
            return Reply(response.status, response.headers, body, (time.perf_counter() - started) * 1000)
    except (aiohttp.ClientError, OSError) as exc:
        reason, error = _classify(exc)
        raise UpstreamFailure(Outcome.unhealthy(reason, error=error)) from None


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds (vendors send integers, floats like Shopify's "2.0", or nothing)."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP date: rare for APIs, and not worth a wrong number


def pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole > 0 else None


def header_float(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    try:
        return None if raw is None else float(raw)
    except ValueError:
        return None


def failure(reply: Reply, reason: str | None = None, **details: Any) -> Outcome:
    """The usual verdict on a non-2xx answer; `reason` is the vendor's own words, when read.

    401 and 403 are credentials (unhealthy: every call the platform makes fails the same way);
    429 is rate limiting (degraded: calls still get through, more slowly); 5xx is the vendor
    failing; any other 4xx is a request the vendor refuses.
    """
    status = reply.status
    base: dict[str, Any] = {"http_status": status, **details}
    if status in (401, 403):
        return Outcome.unhealthy(
            reason or f"credentials rejected (HTTP {status})", reply.latency_ms, error="auth", **base
        )
    if status == 429:
        wait = retry_after_s(reply.headers)
        if wait is not None:
            base["retry_after_s"] = wait
        return Outcome.degraded(
            reason or "rate limited (HTTP 429)",
            reply.latency_ms,
            error="rate_limited",
            rate_limited=True,
            **base,
        )
    if status >= 500:
        return Outcome.unhealthy(
            reason or f"vendor error (HTTP {status})", reply.latency_ms, error="vendor_error", **base
        )
    return Outcome.unhealthy(
        reason or f"request refused (HTTP {status})", reply.latency_ms, error="client_error", **base
    )


def dig(node: Any, *path: str | int) -> Any:
    """Walk objects by key and lists by index; None wherever the shape does not match."""
    for step in path:
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and -len(node) <= step < len(node) else None
        else:
            node = node.get(step) if isinstance(node, dict) else None
    return node


def error_message(body: bytes, *paths: tuple[str | int, ...]) -> str | None:
    """The first string found at one of `paths` in a JSON body (ints index lists); never the whole body."""
    try:
        data: Any = json_codec.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    for path in paths:
        node = dig(data, *path)
        if isinstance(node, str) and node:
            return node[:200]
    return None


def remaining_pct(
    headers: Mapping[str, str], remaining: str = "x-ratelimit-remaining", limit: str = "x-ratelimit-limit"
) -> float | None:
    """Rate-limit headroom in percent from a remaining/limit header pair, when both are sent."""
    left, total = header_float(headers, remaining), header_float(headers, limit)
    return None if left is None or total is None else pct(left, total)


#: what every HTTP monitor reports of the call that decides: its round trip and its status
CALL_METRICS = ("latency_ms", "http_status")
#: what `failure` adds to its verdict on a 429
RATE_LIMIT_METRICS = ("rate_limited", "retry_after_s")


def http_metrics(*own: str) -> tuple[str, ...]:
    """An HTTP monitor's metrics: the call's, its `own`, and those of `failure` on a 429."""
    return (*CALL_METRICS, *own, *RATE_LIMIT_METRICS)


class HttpMonitor(Monitor):
    """A monitor of a vendor's HTTP API, read through `fetch`."""

    #: a vendor across the internet gets longer than the platform's own services
    default_timeout_s: ClassVar[float] = 10.0

    @staticmethod
    def base_url(settings: Mapping[str, Any], default: str) -> str:
        """The API root: `base_url` from the settings (a sandbox, another region), else `default`."""
        return str(settings.get("base_url") or default).rstrip("/")
