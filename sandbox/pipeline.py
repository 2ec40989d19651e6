"""How one vendor request runs: count it, find its tenant, apply faults, answer, decorate.

Each vendor module subclasses `Vendor`, marks its handlers with `serves`, and overrides the
hooks that refuse bad credentials and shape faults into that vendor's own error answers.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.limits import retry_after
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
# Unbound vendor methods: `serves` runs in the class body, before any vendor exists.
TenantMethod = Callable[[Any, Request], Tenant | None]
ScopeMethod = Callable[[Any, Request], str | None]
H = TypeVar("H", bound=Callable[..., Awaitable[Response]])

_SERVES = "_sandbox_serves"


@dataclass(frozen=True, slots=True)
class Served:
    """One route a handler answers, as `serves` recorded it."""

    path: str
    methods: tuple[str, ...]
    authed: bool
    tenant_of: TenantMethod | None
    scope_of: ScopeMethod | None


def serves(
    path: str,
    *methods: str,
    authed: bool = True,
    tenant_of: TenantMethod | None = None,
    scope_of: ScopeMethod | None = None,
) -> Callable[[H], H]:
    """Mark a vendor handler as the answer to `path` (GET unless `methods` are given).

    `authed=False` routes take no credentials: the vendor's `refuse` hook and the credential
    faults (`revoked`, `expired`) pass them by.
    """
    served = Served(path, methods or ("GET",), authed, tenant_of, scope_of)

    def mark(handler: H) -> H:
        # Stacked decorators apply bottom-up; prepend so a handler's routes keep their written order.
        setattr(handler, _SERVES, (served, *getattr(handler, _SERVES, ())))
        return handler

    return mark


class Vendor:
    """Base of the vendor modules: routes plus the hooks that turn faults into answers."""

    service = ""
    prefix = ""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        """A route for every handler marked with `serves`, in the order the class defines them."""
        members: dict[str, Any] = {}
        for klass in reversed(type(self).__mro__):
            members.update(vars(klass))
        return [
            self.route(
                served.path,
                getattr(self, name),
                list(served.methods),
                authed=served.authed,
                tenant_of=partial(served.tenant_of, self) if served.tenant_of is not None else None,
                scope_of=partial(served.scope_of, self) if served.scope_of is not None else None,
            )
            for name, member in members.items()
            for served in getattr(member, _SERVES, ())
        ]

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
        if authed:
            handler = self._refusing(handler)
        endpoint = run_through_faults(
            self, handler, authed=authed, tenant_of=tenant_of, scope_of=scope_of, service=service
        )
        return Route(path, endpoint, methods=methods)

    def _refusing(self, handler: Handler) -> Handler:
        async def refusing(call: Call) -> Response:
            refused = await self.refuse(call)
            return refused if refused is not None else await handler(call)

        return refusing

    # Hooks. The defaults are plain JSON; every vendor replaces them with its own shapes.

    async def refuse(self, call: Call) -> Response | None:
        """The vendor's answer to missing or wrong credentials on an authed route, else None.

        It runs in the handler's place, after the faults that come first, so a refusal can
        still be truncated or padded like any answer.
        """
        return None

    def http_error(self, call: Call, fault: Fault) -> Response:
        return json_response({"error": "internal error"}, fault.params["status"])

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        return json_response({"error": "rate limited"}, 429, retry_after(fault))

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


_ANSWERED = ("http_error", "rate_limited")
_ANSWERED_AUTHED = (*_ANSWERED, "revoked", "expired")


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
    # The hook that answers each of these kinds has the kind's name.
    for kind in _ANSWERED_AUTHED if authed else _ANSWERED:
        fault = faults.get(kind)
        if fault is not None:
            answer: Callable[[Call, Fault], Response] = getattr(vendor, kind)
            return answer(call, fault)
    response = await handler(call)
    if "malformed_json" in faults:
        return truncated(response)
    big = faults.get("oversize")
    if big is not None:
        return oversized(response, big.params["bytes"])
    return response
