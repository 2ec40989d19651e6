"""One error shape for every 4xx/5xx: `{"detail": "...", "errors": [{"field", "message"}]}`.

`detail` is always a sentence a person can act on and names the field at fault; `errors`
lists every field problem of a 422. Unexpected exceptions never show their text: the log has
it, the client gets a generic 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path

from healthmon.api.schemas import Problem

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store"}


class FieldError(Exception):
    """Input that passed type validation but not a rule of its own (raised by handlers) -> 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def problem(
    status: int, detail: str, errors: Sequence[dict[str, str]] = (), headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors:
        body["errors"] = list(errors)
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


def _field(loc: Sequence[int | str]) -> str:
    """("query", "tier", 0) -> "tier"; ("body", "integrations", "shopify") -> "integrations.shopify"."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if parts and parts[0] in ("query", "path", "body", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _message(error: Any) -> str:
    msg = str(error.get("msg", "invalid"))
    return msg.removeprefix("Value error, ")


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    return [{"field": _field(e.get("loc", ())), "message": _message(e)} for e in errors]


def field_problem(errors: list[dict[str, str]]) -> JSONResponse:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, detail, errors)


async def _on_request_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return field_problem(validation_errors(exc.errors()))


async def _on_field_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FieldError)
    return field_problem([{"field": exc.field, "message": exc.message}])


async def _on_database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable during %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem(
        503, "healthmon's database is unavailable; try again shortly", headers={"Retry-After": "5"}
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # the traceback goes to the log only: internals (SQL, paths, values) never reach a client
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal error; the server log has the details")


def _allowed_methods(request: Request) -> set[str]:
    """Methods the app serves at this path, from its own OpenAPI paths (compiled once per app)."""
    state = request.app.state
    compiled: list[tuple[re.Pattern[str], int, frozenset[str]]] | None = getattr(
        state, "path_methods", None
    )
    if compiled is None:
        compiled = [
            (compile_path(path)[0], path.count("{"), frozenset(m.upper() for m in operations))
            for path, operations in request.app.openapi().get("paths", {}).items()
        ]
        state.path_methods = compiled
    path = request.url.path
    matches = [(params, methods) for pattern, params, methods in compiled if pattern.match(path)]
    if not matches:
        return set()
    # a literal path wins over a template it also fits: /api/alerts/acknowledge is that route,
    # not /api/alerts/{alert_id}
    fewest = min(params for params, _ in matches)
    return {m for params, methods in matches if params == fewest for m in methods}


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        # Starlette's Allow names the methods of the first route matching the path only; PUT
        # and DELETE of one path are two routes here, and Allow must name both
        methods = _allowed_methods(request)
        if methods:
            exc = StarletteHTTPException(
                405, exc.detail, {**(exc.headers or {}), "Allow": ", ".join(sorted(methods))}
            )
    return await http_exception_handler(request, exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(FieldError, _on_field_error)
    app.add_exception_handler(OperationalError, _on_database_down)
    app.add_exception_handler(DBAPIError, _on_unexpected_or_down)
    app.add_exception_handler(Exception, _on_unexpected)


async def _on_unexpected_or_down(request: Request, exc: Exception) -> JSONResponse:
    """A dropped connection surfaces as a DBAPIError flagged `connection_invalidated`."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return await _on_database_down(request, exc)
    return await _on_unexpected(request, exc)


INVALID = "Invalid input, or an unknown query parameter; `errors` names each field"
#: documented on every operation that needs a token
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No bearer token, or not a known one"},
    422: {"model": Problem, "description": INVALID},
    503: {"model": Problem, "description": "healthmon's database is unavailable"},
}
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "The token's scope is `read`; this operation needs `admin`"}
}


def not_found(description: str) -> dict[int | str, dict[str, Any]]:
    return {404: {"model": Problem, "description": description}}


def document_problems(app: FastAPI) -> None:
    """FastAPI documents its own 422 body on every operation with input; this app answers
    `Problem` instead (see the handlers above), so the schema says that."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if "422" in responses:
                    responses["422"] = {
                        "description": INVALID,
                        "content": {"application/json": {"schema": problem_ref}},
                    }
                if "requestBody" in operation:
                    # FastAPI's own answer to a body it cannot even decode
                    responses.setdefault(
                        "400",
                        {
                            "description": "The body could not be read (not UTF-8 JSON)",
                            "content": {"application/json": {"schema": problem_ref}},
                        },
                    )
        components = schema.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
