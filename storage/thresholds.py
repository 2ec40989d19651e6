"""alert_thresholds: per-service defaults ('' tenant) and per-tenant overrides."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, select

from storage.tables import AlertThreshold
from storage.types import PLATFORM, tenant_key


def load_overrides(
    engine: Engine, service: str, tenant_ids: Iterable[str | None]
) -> dict[str, list[dict[str, Any]]]:
    """Rows by tenant key ('' = the service-wide layer), as plain rule dicts."""
    table = AlertThreshold.__table__  # type: ignore[attr-defined]
    keys = {PLATFORM} | {tenant_key(t) for t in tenant_ids}
    stmt = select(
        table.c.tenant_id, table.c.metric, table.c.degraded, table.c.unhealthy, table.c.inverse
    ).where(table.c.service == service, table.c.tenant_id.in_(sorted(keys)))
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
