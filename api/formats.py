"""How the API writes times and latencies, in one place for every route.

Times are RFC 3339 in UTC with `Z`, whatever the store handed over: PostgreSQL gives aware
datetimes, SQLite naive ones (which healthmon always writes in UTC), and the cached matrix view
ISO strings with `+00:00`. Latency is rounded to 0.1 ms: the decimals past that are timer noise
(2.002540000148656 ms), not information.

The response models use `UtcTime` and `LatencyMs` for their fields; the matrix, which builds its
JSON by hand for speed (api/matrix.py), calls `rfc3339` and `latency` on its cells directly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

LATENCY_DECIMALS = 1


def rfc3339(value: datetime | str) -> str:
    """`2026-12-01T13:18:52.684884Z`: UTC with `Z`; a naive time is taken to be UTC."""
    if isinstance(value, str) and value.endswith("+00:00"):
        # what the cached matrix view holds (17,000 of them per view): no parse needed
        return value[:-6] + "Z"
    found = datetime.fromisoformat(value) if isinstance(value, str) else value
    found = found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    return found.replace(tzinfo=None).isoformat() + "Z"


def latency(value: float | None) -> float | None:
    return None if value is None else round(value, LATENCY_DECIMALS)


UtcTime = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    # the schema keeps saying date-time: the serializer only fixes the spelling
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
LatencyMs = Annotated[float, PlainSerializer(latency, return_type=float, when_used="json")]
