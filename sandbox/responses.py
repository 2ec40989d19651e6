"""Small response and request helpers shared by the vendor modules."""

from __future__ import annotations

import base64
import binascii
import itertools
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

_ids = itertools.count(1)
# A per-process prefix keeps ids unique across restarts without per-request randomness.
_ID_PREFIX = os.urandom(4).hex()


def new_id(prefix: str = "") -> str:
    return f"{prefix}{_ID_PREFIX}{next(_ids):010x}"


def dumps(data: Any) -> bytes:
    return orjson.dumps(data)


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps(data), status, headers, "application/json")


def text_response(text: str, status: int = 200, media_type: str = "text/plain") -> Response:
    return Response(text, status, None, media_type)


def empty(status: int, headers: Mapping[str, str] | None = None) -> Response:
    return Response(b"", status, headers)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now() -> float:
    return time.time()


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def basic(request: Request) -> tuple[str, str] | None:
    value = request.headers.get("authorization")
    if value is None:
        return None
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def count_param(request: Request, name: str, default: int, most: int | None = None) -> int | None:
    """A page size from the query string, raised to 1 and capped at `most`; None if not an integer."""
    raw = request.query_params.get(name)
    try:
        count = max(1, default if raw is None else int(raw))
    except ValueError:
        return None
    return count if most is None else min(most, count)


async def json_body(request: Request) -> Any:
    """The parsed JSON body, or a `ValueError` if it is not JSON."""
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(str(exc)) from exc
