"""How one vendor request runs: count it, find its tenant, apply faults, answer, decorate.

Each vendor module subclasses `Vendor`, declares its routes through `Vendor.route`, and
overrides the hooks that shape faults into that vendor's own error answers.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.responses import json_response
from healthmon.sandbox.state import SandboxState, Tenant
from healthmon.sandbox.transport import ConnectionReset, hang, oversized, truncated


@dataclass(slots=True)
class Call:
    """One request as a vendor handler sees it."""

    request: Request
    tenant: Tenant | None
    scope: str | None
    faults: Mapping[str, Fault]

    def fault(self, kind: str) -> Fault | None:
        return self.faults.get(kind)


Handler = Callable[[Call], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
TenantOf = Callable[[Request], Tenant | None]
ScopeOf = Callable[[Request], str | None]


class Vendor:
    """Base of the vendor modules: routes plus the hooks that turn faults into answers."""

    service = ""
    prefix = ""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    def mount(self) -> Mount:
        return Mount(self.prefix, routes=self.routes())

    def route(
        self,
        path: str,
        handler: Handler,
        methods: list[str],
        *,
        authed: bool = True,
        tenant_of: TenantOf | None = None,
        scope_of: ScopeOf | None = None,
        service: str | None = None,
    ) -> Route:
        endpoint = run_through_faults(
            self, handler, authed=authed, tenant_of=tenant_of, scope_of=scope_of, service=service
        )
        return Route(path, endpoint, methods=methods)

    # Hooks. The defaults are plain JSON; every vendor replaces them with its own shapes.

    def http_error(self, call: Call, fault: Fault) -> Response:
        return json_response({"error": "internal error"}, fault.params["status"])

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        retry = fault.params["retry_after"]
        headers = {"Retry-After": f"{retry:g}"} if retry is not None else None
        return json_response({"error": "rate limited"}, 429, headers)

    def revoked(self, call: Call, fault: Fault) -> Response:
        return json_response({"error": "unauthorized"}, 401)

    def expired(self, call: Call, fault: Fault) -> Response:
        return self.revoked(call, fault)

    def decorate(self, call: Call, response: Response) -> None:
        """Add headers the vendor puts on every answer (rate-limit usage and the like)."""


def run_through_faults(
    vendor: Vendor,
    handler: Handler,
    *,
    authed: bool,
    tenant_of: TenantOf | None,
    scope_of: ScopeOf | None,
    service: str | None,
) -> Endpoint:
    state = vendor.state
    svc = service or vendor.service

    async def endpoint(request: Request) -> Response:
        tenant = tenant_of(request) if tenant_of is not None else None
        scope = tenant.id if tenant is not None else (scope_of(request) if scope_of is not None else None)
        state.count(svc, scope)
        faults = state.take_faults(svc, scope)
        call = Call(request, tenant, scope, faults)
        if faults:
            response = await _with_faults(vendor, handler, call, authed)
            if isinstance(response, ConnectionReset):
                return response
        else:
            response = await handler(call)
        vendor.decorate(call, response)
        return response

    return endpoint


async def _with_faults(vendor: Vendor, handler: Handler, call: Call, authed: bool) -> Response:
    faults = call.faults
    latency = faults.get("latency")
    if latency is not None:
        ms = latency.params["ms"]
        jitter = latency.params["jitter_ms"]
        if jitter:
            ms += random.uniform(-jitter, jitter)
        if ms > 0:
            await asyncio.sleep(ms / 1000)
    stuck = faults.get("hang")
    if stuck is not None:
        return await hang(call.request, stuck.params["seconds"])
    reset = faults.get("reset")
    if reset is not None:
        return ConnectionReset(reset.params["mode"])
    error = faults.get("http_error")
    if error is not None:
        return vendor.http_error(call, error)
    limited = faults.get("rate_limited")
    if limited is not None:
        return vendor.rate_limited(call, limited)
    if authed:
        revoked = faults.get("revoked")
        if revoked is not None:
            return vendor.revoked(call, revoked)
        expired = faults.get("expired")
        if expired is not None:
            return vendor.expired(call, expired)
    response = await handler(call)
    if "malformed_json" in faults:
        return truncated(response)
    big = faults.get("oversize")
    if big is not None:
        return oversized(response, big.params["bytes"])
    return response
