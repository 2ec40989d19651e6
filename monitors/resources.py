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


class BatchResources:
    """Lazily opened, closed once when the batch ends.

    HTTP is one aiohttp session per batch with up to `http_limit` connections. Measured here
    (docs/performance.md): httpx costs 3-5 ms of CPU per request at a few hundred in flight,
    aiohttp well under 1 ms, and a tier run is bound by that CPU. The session keeps no cookies:
    one batch talks to many tenants' hosts.

    Objects that outlive a batch (a connection pool kept by a long-running process) are
    handed in through `shared` by whoever owns them, and are not closed here.
    """

    def __init__(self, shared: dict[str, Any] | None = None, http_limit: int = DEFAULT_IN_FLIGHT) -> None:
        self.shared: dict[str, Any] = shared if shared is not None else {}
        self._session: aiohttp.ClientSession | None = None
        self._http_limit = http_limit
        self._closers: list[Any] = []

    def http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._http_limit, ssl=_tls_context(), ttl_dns_cache=300)
            # Per-request timeouts come from the runner; this is only the outer safety net.
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=60),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=True,
            )
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
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> BatchResources:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
