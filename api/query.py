"""Unknown query parameters are refused, not ignored; so is a single-valued one given twice.

A filter with a typo (`?teir=core`) would otherwise answer everything unfiltered, which reads
as a valid answer; `?tenant=a&tenant=b` would silently use b. The accepted names (and which of
them repeat) are taken from the app's own OpenAPI schema, so they are exactly what the
documentation promises.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from healthmon.api.errors import FieldError

Accepted = tuple[frozenset[str], frozenset[str]]


def _repeatable(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(option.get("type") == "array" for option in options)


def _names(request: Request, route: APIRoute) -> Accepted:
    """(accepted names, names that take several values), kept per app by (path, method)."""
    state = request.app.state
    accepted: dict[tuple[str, str], Accepted] | None = getattr(state, "query_names", None)
    if accepted is None:
        accepted = state.query_names = {}
    key = (route.path_format, request.method)
    found = accepted.get(key)
    if found is None:
        operation = request.app.openapi()["paths"].get(route.path_format, {}).get(request.method.lower(), {})
        params = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
        found = (
            frozenset(p["name"] for p in params),
            frozenset(p["name"] for p in params if _repeatable(p.get("schema", {}))),
        )
        accepted[key] = found
    return found


async def known_query_only(request: Request) -> None:
    if not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    names, repeatable = _names(request, route)
    unknown = sorted(set(request.query_params) - names)
    if unknown:
        accepted = ", ".join(sorted(names)) or "none"
        raise FieldError(unknown[0], f"unknown query parameter (this operation accepts: {accepted})")
    for name in sorted(names - repeatable):
        if len(request.query_params.getlist(name)) > 1:
            raise FieldError(name, "given more than once; it takes one value")
