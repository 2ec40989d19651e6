"""The control API under `/_sandbox`: faults, recordings, counters and the generated data."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from healthmon.sandbox.faults import KINDS, SERVICE_KINDS, FaultError
from healthmon.sandbox.responses import json_body, json_response
from healthmon.sandbox.state import SandboxState


def control_routes(state: SandboxState) -> list[BaseRoute]:
    async def add_fault(request: Request) -> Response:
        try:
            body = await json_body(request)
            fault = state.add_fault_from_json(body)
        except (ValueError, FaultError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(fault.to_dict(), 201)

    async def list_faults(request: Request) -> Response:
        return json_response({"faults": [f.to_dict() for f in state.faults()]})

    async def clear_faults(request: Request) -> Response:
        # Filters come from the query string or, for clients that prefer it, a JSON body.
        filters: dict[str, str | None] = {
            k: request.query_params.get(k) for k in ("service", "tenant", "kind")
        }
        if await request.body():
            try:
                body = await json_body(request)
            except ValueError as exc:
                return json_response({"error": str(exc)}, 400)
            if isinstance(body, dict):
                filters.update({k: body[k] for k in filters if isinstance(body.get(k), str)})
        removed = state.clear_faults(filters["service"], filters["tenant"], filters["kind"])
        return json_response({"removed": removed})

    async def kinds(request: Request) -> Response:
        params = {
            kind: {
                name: {"type": p.type.__name__, "default": p.default, "choices": p.choices}
                for name, p in spec.items()
            }
            for kind, spec in KINDS.items()
        }
        services = {service: sorted(allowed) for service, allowed in SERVICE_KINDS.items()}
        return json_response({"services": services, "kinds": params})

    async def reset(request: Request) -> Response:
        state.reset()
        return json_response({"ok": True})

    async def stats(request: Request) -> Response:
        return json_response(state.stats())

    async def received(request: Request) -> Response:
        channel = request.path_params["channel"]
        if request.method == "DELETE":
            state.clear_received(channel)
            return json_response({"ok": True})
        messages = state.received(channel)
        return json_response({"channel": channel, "count": len(messages), "messages": messages})

    async def tenants(request: Request) -> Response:
        try:
            offset = max(0, int(request.query_params.get("offset", "0")))
            limit = max(0, int(request.query_params.get("limit", "100")))
        except ValueError:
            return json_response({"error": "offset and limit must be integers"}, 400)
        page = state.tenants[offset : offset + limit]
        return json_response({"total": len(state.tenants), "tenants": [dataclasses.asdict(t) for t in page]})

    async def platform(request: Request) -> Response:
        return json_response(dataclasses.asdict(state.platform))

    async def health(request: Request) -> Response:
        return json_response({"ok": True, "tenants": len(state.tenants)})

    return [
        Route("/faults", add_fault, methods=["POST"]),
        Route("/faults", list_faults, methods=["GET"]),
        Route("/faults", clear_faults, methods=["DELETE"]),
        Route("/kinds", kinds, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/received/{channel}", received, methods=["GET", "DELETE"]),
        Route("/tenants", tenants, methods=["GET"]),
        Route("/platform", platform, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
