"""Reading current status: the cache first, then service_status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from healthmon.monitors.result import CheckResult
from healthmon.storage.cache import StatusCache, cache_key
from healthmon.storage.results import keys_filter, latest_from_row
from healthmon.storage.tables import ServiceStatus


def cache_entries(results: Sequence[CheckResult]) -> dict[str, dict[str, object]]:
    return {cache_key(r.service, r.tenant_id): r.to_json() for r in results}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def current_status(
    engine: Engine,
    cache: StatusCache,
    keys: Sequence[tuple[str, str | None]],
    not_before: Mapping[tuple[str, str | None], datetime] | None = None,
) -> dict[tuple[str, str | None], CheckResult]:
    """Latest result per key; keys found in neither place are absent from the answer.

    `not_before`: per key, the checked_at of a result known to be recorded (the matrix view,
    built from service_status and at most MATRIX_TTL_S old). A cached entry older than that is
    left over from a cache write that failed (Redis stalled while the writer stored a newer
    result; its TTL would serve it for minutes), so that key is read from service_status.
    """
    found: dict[tuple[str, str | None], CheckResult] = {}
    cached = cache.get_many(cache_key(s, t) for s, t in keys)
    floor = not_before or {}
    missing = []
    for service, tenant in keys:
        entry = cached.get(cache_key(service, tenant))
        result = CheckResult.from_json(entry) if entry is not None else None
        known = floor.get((service, tenant))
        if result is None or (known is not None and _utc(result.checked_at) < _utc(known)):
            missing.append((service, tenant))
        else:
            found[(service, tenant)] = result
    if missing:
        with engine.connect() as conn:
            rows = conn.execute(select(ServiceStatus).where(keys_filter(missing))).all()
        for row in rows:
            latest = latest_from_row(ServiceStatus.model_validate(row._mapping))
            found[(latest.service, latest.tenant_id)] = latest.to_result()
    return found
