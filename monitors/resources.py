"""Connections shared by the checks of one batch (one Prefect task)."""

from __future__ import annotations

import ssl
from functools import cache
from typing import Any

import aiohttp

#: a batch's default: checks in flight on its one HTTP session
DEFAULT_IN_FLIGHT = 200


@cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~30 ms: once per process, not once per batch.
    return ssl.create_default_context()


def open_session(limit: int) -> aiohttp.ClientSession:
    """An HTTP session for health checks: `limit` connections at most (0: no cap of its own)."""
    connector = aiohttp.TCPConnector(limit=limit, ssl=_tls_context(), ttl_dns_cache=300)
    # No timeouts of aiohttp's own: the runner bounds every check with asyncio.timeout, and
    # aiohttp's would arm another timer per request (~4 % of a tier run's CPU, measured).
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, connect=None, sock_read=None, sock_connect=None),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=True,
    )


class BatchResources:
    """Lazily opened, closed once when the batch ends.

    HTTP is one aiohttp session per batch with up to `http_limit` connections. Measured here
    (docs/performance.md): httpx costs 3-5 ms of CPU per request at a few hundred in flight,
    aiohttp well under 1 ms, and a tier run is bound by that CPU. The session keeps no cookies:
    one batch talks to many tenants' hosts.

    Objects that outlive a batch (a connection pool kept by a long-running process) are
    handed in through `shared` by whoever owns them, and are not closed here. So is `session`:
    a tier run hands its batches one session, so connections opened by one batch serve the
    next instead of every batch opening its own (measured: docs/performance.md).
    """

    def __init__(
        self,
        shared: dict[str, Any] | None = None,
        http_limit: int = DEFAULT_IN_FLIGHT,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.shared: dict[str, Any] = shared if shared is not None else {}
        self._session: aiohttp.ClientSession | None = session
        self._owns_session = session is None
        self._http_limit = http_limit
        self._closers: list[Any] = []

    def http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = open_session(self._http_limit)
        return self._session

    def on_close(self, closer: Any) -> None:
        """Register an async callable to run when the batch ends."""
        self._closers.append(closer)

    async def aclose(self) -> None:
        for closer in reversed(self._closers):
            try:
                await closer()
            except Exception:
                pass
        self._closers.clear()
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> BatchResources:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
