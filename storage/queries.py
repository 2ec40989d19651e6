"""What the API and the dashboard show: current status views and history series.

Both faces call these functions (no SQL lives in their code). Current status is read from
the cache first and from `service_status` for whatever the cache does not hold.

The service x tenant matrix is one cache entry (`MATRIX_KEY`), built from `service_status`
on a miss. Every writer deletes it after recording (`invalidate_views`), so a breach shows in
every process at once, not after a TTL; the TTL only bounds how stale a process that cannot
see the writer's cache (the in-process fallback) can be.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import Engine, and_, select

from monitors.result import CheckResult, Status
from storage.cache import KEY_PREFIX, StatusCache
from storage.status import current_status
from storage.tables import HealthCheckHistory, ServiceStatus
from storage.types import tenant_from_key

MATRIX_KEY = f"{KEY_PREFIX}view:matrix"
#: with Redis, writers invalidate the view at once; this only bounds a stale in-process copy
MATRIX_TTL_S = 5
#: matrix cell columns, in the order each cell lists them
CELL_FIELDS = ("service", "tenant", "tier", "status", "latency_ms", "checked_at", "since", "reason")


def invalidate_views(cache: StatusCache) -> None:
    """Called by every writer of service_status after it recorded."""
    cache.delete([MATRIX_KEY])


@dataclass(frozen=True)
class Cell:
    service: str
    tenant: str | None
    tier: str
    status: str
    latency_ms: float | None
    checked_at: str
    since: str
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in CELL_FIELDS}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _build_matrix(engine: Engine) -> list[list[Any]]:
    table = ServiceStatus.__table__  # type: ignore[attr-defined]
    stmt = select(
        table.c.service,
        table.c.tenant_id,
        table.c.tier,
        table.c.status,
        table.c.latency_ms,
        table.c.checked_at,
        table.c.since,
        table.c.details["reason"].as_string(),
    ).order_by(table.c.service, table.c.tenant_id)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        [
            r[0],
            tenant_from_key(r[1]),
            r[2],
            r[3],
            None if r[4] is None else round(r[4], 1),
            _iso(r[5]),
            _iso(r[6]),
            r[7],
        ]
        for r in rows
    ]


def matrix_cells(engine: Engine, cache: StatusCache) -> list[Cell]:
    """Every (service, tenant) latest status: the cached view, or service_status on a miss."""
    cached = cache.get_many([MATRIX_KEY]).get(MATRIX_KEY)
    if cached is not None:
        raw = cached["cells"]
    else:
        raw = _build_matrix(engine)
        cache.set_many({MATRIX_KEY: {"cells": raw}}, MATRIX_TTL_S)
    return [Cell(*row) for row in raw]


def worst(statuses: Iterable[str]) -> str:
    """The worst status by rank (unhealthy > degraded > unknown > healthy); healthy if none."""
    result = Status.HEALTHY
    for status in statuses:
        result = result.worse(Status(status))
    return result.value


def counts(cells: Iterable[Cell]) -> dict[str, int]:
    found = {s.value: 0 for s in Status}
    for cell in cells:
        found[cell.status] += 1
    return found


def platform_health(engine: Engine, cache: StatusCache, services: Sequence[str]) -> dict[str, Any]:
    """The master status: overall, and per service its worst status and counts by status.

    `services` lists what should report (enabled in this deployment); one that has no result
    yet shows as unknown with nothing checked, rather than silently missing.
    """
    by_service: dict[str, list[Cell]] = {s: [] for s in services}
    for cell in matrix_cells(engine, cache):
        by_service.setdefault(cell.service, []).append(cell)
    rows: list[dict[str, Any]] = []
    for service, cells in sorted(by_service.items()):
        rows.append(
            {
                "service": service,
                "tier": cells[0].tier if cells else None,
                "status": worst(c.status for c in cells) if cells else Status.UNKNOWN.value,
                "targets": len(cells),
                "counts": counts(cells),
                "checked_at": max(c.checked_at for c in cells) if cells else None,
            }
        )
    return {
        "status": worst(str(r["status"]) for r in rows),
        "services": rows,
        "generated_at": _iso(datetime.now(UTC)),
    }


def service_health(engine: Engine, cache: StatusCache, service: str) -> list[CheckResult]:
    """Latest result of every target of one service (every tenant for a per-tenant service)."""
    keys = [(c.service, c.tenant) for c in matrix_cells(engine, cache) if c.service == service]
    found = current_status(engine, cache, keys)
    return [found[k] for k in keys if k in found]


def tenant_health(
    engine: Engine, cache: StatusCache, tenant_id: str, services: Iterable[str]
) -> list[CheckResult]:
    """Latest result of each of `services` (the tenant's integrations) for one tenant."""
    keys = [(s, tenant_id) for s in services]
    found = current_status(engine, cache, keys)
    return [found[k] for k in keys if k in found]


def filter_cells(
    cells: Iterable[Cell],
    *,
    tiers: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    tenant_search: str | None = None,
    services: Sequence[str] | None = None,
) -> list[Cell]:
    """The matrix filters of the API and the dashboard, in one place. A tenant search matches
    part of the tenant id, case-insensitively; platform services have no tenant and never match."""
    needle = tenant_search.lower() if tenant_search else None
    return [
        c
        for c in cells
        if (not tiers or c.tier in tiers)
        and (not statuses or c.status in statuses)
        and (not services or c.service in services)
        and (needle is None or (c.tenant is not None and needle in c.tenant.lower()))
    ]


@dataclass(frozen=True)
class Point:
    at: datetime
    status: str
    latency_ms: float | None


def history_points(
    engine: Engine, service: str, tenant_id: str | None, since: datetime, limit: int = 100_000
) -> list[Point]:
    """Check results of one target since `since`, oldest first (narrow: no details)."""
    table = HealthCheckHistory.__table__  # type: ignore[attr-defined]
    tenant_clause = table.c.tenant_id.is_(None) if tenant_id is None else table.c.tenant_id == tenant_id
    stmt = (
        select(table.c.checked_at, table.c.status, table.c.latency_ms)
        .where(and_(table.c.service == service, tenant_clause, table.c.checked_at >= since))
        .order_by(table.c.checked_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [Point(r[0], r[1], r[2]) for r in conn.execute(stmt)]


def _percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


#: chart buckets per window: about 100-300 points whatever the window
BUCKETS: dict[str, timedelta] = {
    "24h": timedelta(minutes=10),
    "7d": timedelta(hours=1),
    "30d": timedelta(hours=4),
}
WINDOWS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


def latency_series(points: Sequence[Point], bucket: timedelta) -> list[dict[str, Any]]:
    """p50 and p95 latency per time bucket (nearest rank), with the number of checks."""
    grouped: dict[datetime, list[float]] = {}
    seconds = bucket.total_seconds()
    for p in points:
        if p.latency_ms is None:
            continue
        start = datetime.fromtimestamp(p.at.timestamp() // seconds * seconds, UTC)
        grouped.setdefault(start, []).append(p.latency_ms)
    series = []
    for start in sorted(grouped):
        values = sorted(grouped[start])
        series.append(
            {
                "at": start,
                "p50": round(_percentile(values, 0.5), 1),
                "p95": round(_percentile(values, 0.95), 1),
                "checks": len(values),
            }
        )
    return series


def status_changes(points: Sequence[Point]) -> list[dict[str, Any]]:
    """Each moment the status differed from the check before it."""
    changes = []
    for before, after in pairwise(points):
        if after.status != before.status:
            changes.append({"at": after.at, "from": before.status, "to": after.status})
    return changes
