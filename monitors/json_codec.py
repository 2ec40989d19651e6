"""JSON text for results and upstream answers, through orjson: the one encoder of a check's
details (the history, the latest status, the cache) and decoder of upstream bodies.

It encodes what `json.dumps(value, default=str)` did, a few times faster: datetimes and
dataclasses still go through `str` (orjson's own forms would change stored text), keys that
are not strings become strings. What orjson refuses (an int beyond 64 bits) falls back to the
standard library, so no value that encoded before fails now; so does what orjson cannot parse.
Two differences: NaN and infinities encode as null (PostgreSQL's jsonb refuses them anyway),
and an integer past 64 bits in an upstream body is read as a float (a metric either way).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps_bytes(value: Any) -> bytes:
    """UTF-8 JSON; anything orjson has no form for is its `str`."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, default=str).encode()


def dumps(value: Any) -> str:
    return dumps_bytes(value).decode()


def loads(raw: bytes | bytearray | str) -> Any:
    """Parsed JSON, as `json.loads` parses it; ValueError when the text is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        # what orjson refuses and the standard library reads (NaN, Infinity), or a body that
        # is not JSON at all: the standard library's own answer and error
        return json.loads(raw)
