"""alert_thresholds: per-service defaults ('' tenant) and per-tenant overrides."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from healthmon.storage.db import ids_filter
from healthmon.storage.tables import THRESHOLDS
from healthmon.storage.types import PLATFORM, tenant_key


def load_overrides(
    engine: Engine, service: str, tenant_ids: Iterable[str | None]
) -> dict[str, list[dict[str, Any]]]:
    """Rows by tenant key ('' = the service-wide layer), as plain rule dicts."""
    table = THRESHOLDS
    keys = {PLATFORM} | {tenant_key(t) for t in tenant_ids}
    stmt = select(
        table.c.tenant_id, table.c.metric, table.c.degraded, table.c.unhealthy, table.c.inverse
    ).where(table.c.service == service, ids_filter(engine, table.c.tenant_id, sorted(keys)))
    found: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            found.setdefault(row.tenant_id, []).append(
                {
                    "metric": row.metric,
                    "degraded": row.degraded,
                    "unhealthy": row.unhealthy,
                    "inverse": bool(row.inverse),
                }
            )
    return found


def list_overrides(engine: Engine, service: str | None = None) -> list[dict[str, Any]]:
    """Every override row, for the thresholds page and API (tenant_id '' = service-wide)."""
    table = THRESHOLDS
    stmt = select(table).order_by(table.c.service, table.c.tenant_id, table.c.metric)
    if service is not None:
        stmt = stmt.where(table.c.service == service)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


UPDATED = ("degraded", "unhealthy", "inverse", "updated_at", "updated_by")


def set_override(
    engine: Engine,
    service: str,
    tenant_id: str | None,
    metric: str,
    degraded: float | None,
    unhealthy: float | None,
    inverse: bool,
    who: str | None,
) -> None:
    """Create or replace one override; the caller has validated it as a ThresholdRule."""
    table = THRESHOLDS
    values = {
        "service": service,
        "tenant_id": tenant_key(tenant_id),
        "metric": metric,
        "degraded": degraded,
        "unhealthy": unhealthy,
        "inverse": inverse,
        "updated_at": datetime.now(UTC),
        "updated_by": who,
    }
    insert = (pg_insert if engine.dialect.name == "postgresql" else sqlite_insert)(table).values(**values)
    stmt = insert.on_conflict_do_update(
        index_elements=[table.c.service, table.c.tenant_id, table.c.metric],
        set_={k: insert.excluded[k] for k in UPDATED},
    )
    with engine.begin() as conn:
        conn.execute(stmt)


def clear_override(engine: Engine, service: str, tenant_id: str | None, metric: str) -> bool:
    """Remove one override; False when there was none."""
    table = THRESHOLDS
    stmt = delete(table).where(
        table.c.service == service, table.c.tenant_id == tenant_key(tenant_id), table.c.metric == metric
    )
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount > 0
