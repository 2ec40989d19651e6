"""Reading current status: the cache first, then service_status."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from monitors.result import CheckResult
from storage.cache import StatusCache, cache_key
from storage.results import keys_filter, latest_from_row
from storage.tables import ServiceStatus


def cache_entries(results: Sequence[CheckResult]) -> dict[str, dict[str, object]]:
    return {cache_key(r.service, r.tenant_id): r.to_json() for r in results}


def current_status(
    engine: Engine, cache: StatusCache, keys: Sequence[tuple[str, str | None]]
) -> dict[tuple[str, str | None], CheckResult]:
    """Latest result per key; keys found in neither place are absent from the answer."""
    found: dict[tuple[str, str | None], CheckResult] = {}
    cached = cache.get_many(cache_key(s, t) for s, t in keys)
    missing = []
    for service, tenant in keys:
        entry = cached.get(cache_key(service, tenant))
        if entry is None:
            missing.append((service, tenant))
        else:
            found[(service, tenant)] = CheckResult.from_json(entry)
    if missing:
        with engine.connect() as conn:
            rows = conn.execute(select(ServiceStatus).where(keys_filter(missing))).all()
        for row in rows:
            latest = latest_from_row(ServiceStatus.model_validate(row._mapping))
            found[(latest.service, latest.tenant_id)] = latest.to_result()
    return found
