"""Connections shared by the checks of one batch (one Prefect task)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

#: one httpx client stays fast up to ~20 requests in flight (DESIGN.md, measured)
HTTP_CLIENT_MAX_IN_FLIGHT = 20


class BatchResources:
    """Lazily opened, closed once when the batch ends.

    Objects that outlive a batch (a connection pool kept by a long-running process) are
    handed in through `shared` by whoever owns them, and are not closed here.
    """

    def __init__(
        self, shared: dict[str, Any] | None = None, http_limit: int = HTTP_CLIENT_MAX_IN_FLIGHT
    ) -> None:
        self.shared: dict[str, Any] = shared if shared is not None else {}
        self._http: httpx.AsyncClient | None = None
        self._http_limit = http_limit
        self._closers: list[Any] = []
        self._lock = asyncio.Lock()

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            limits = httpx.Limits(
                max_connections=self._http_limit, max_keepalive_connections=self._http_limit
            )
            # Per-request timeouts come from the runner; this is only the outer safety net.
            self._http = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0), follow_redirects=False)
        return self._http

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
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> BatchResources:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
