"""Input types shared by the routes, so every check happens before storage sees a value.

PostgreSQL refuses NUL characters in text and JSON, and a lone surrogate cannot be encoded:
either would surface as a 500 from deep in the driver, so text is checked here. Datetimes must
carry a timezone (the UTC columns refuse naive ones) and stay in a range where arithmetic on
them cannot overflow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints, WithJsonSchema

from healthmon.monitors.registry import MONITORS
from healthmon.monitors.tenant_settings import TENANT_ID

SERVICES = tuple(sorted(MONITORS))
#: the database's integer ids; a larger value would fail in PostgreSQL, not here
MAX_ID = 2**31 - 1
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _known_service(value: str) -> str:
    if value not in MONITORS:
        raise ValueError(f"unknown service {value!r} (one of {', '.join(SERVICES)})")
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]")


def _iso_only(value: Any) -> Any:
    """pydantic would also take a number (or a numeric string) as Unix time; the schema
    promises an ISO 8601 date-time, so that is all that is accepted."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 date-time with a timezone, e.g. 2026-05-01T12:00:00Z")
    return value


def _utc_in_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError("must be between 1970 and 2999")
    return utc


def _utc_clamped(value: datetime) -> datetime:
    """A filter bound far in the past or future means "no bound": clamped, never refused."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        return EARLIEST if value.year < 2000 else LATEST
    return min(max(utc, EARLIEST), LATEST)


SafeText = Annotated[str, AfterValidator(_clean_text)]
ServiceName = Annotated[
    str,
    AfterValidator(_known_service),
    WithJsonSchema({"type": "string", "enum": list(SERVICES)}),
]
# pydantic checks patterns with Rust's regex, where `$` is the end of the text (Python's `re`
# would also accept a trailing newline)
TenantId = Annotated[str, StringConstraints(pattern=TENANT_ID.pattern, max_length=64)]
#: a moment to store (a silence's window): refused outside 1970-2999
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(_utc_in_range)]
#: a filter bound: anything with a timezone, clamped to 1970-2999
TimeBound = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(_utc_clamped)]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


def is_tenant_id(value: str) -> bool:
    return TENANT_ID.fullmatch(value) is not None


def invalid(problems: Iterable[tuple[str, str]], location: str = "body") -> RequestValidationError:
    """Problems found by a shared validation (flows.tenant_input, alerting.silences,
    alerting.thresholds) as one 422 listing every field, like pydantic's own."""
    return RequestValidationError(
        [
            {"loc": (location, *field.split(".")), "msg": message, "type": "value_error"}
            for field, message in problems
        ]
    )
