"""Rows planted the way an old or foreign writer left them, past record_results' own rules
(a checked_at in the future, say): plain inserts through the tables' own column types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert

from healthmon.storage.tables import HISTORY, SERVICE_STATUS


def plant_history(engine: Engine, service: str, times: list[datetime], status: str = "healthy") -> None:
    """One history row per time, tenants t0, t1, ... of `service` (tier core)."""
    rows = [
        {
            "checked_at": at,
            "service": service,
            "tenant_id": f"t{i}",
            "tier": "core",
            "status": status,
            "latency_ms": 1.0,
            "details": {},
            "run_id": "planted",
        }
        for i, at in enumerate(times)
    ]
    with engine.begin() as conn:
        conn.execute(insert(HISTORY), rows)


def plant_status(
    engine: Engine,
    service: str,
    status: str,
    checked_at: datetime,
    *,
    tenant: str = "",
    tier: str = "core",
    **columns: Any,
) -> None:
    """A service_status row; `columns` override since, consecutive, flips, flips_since..."""
    row = {
        "service": service,
        "tenant_id": tenant,
        "tier": tier,
        "status": status,
        "latency_ms": 1.0,
        "details": {},
        "checked_at": checked_at,
        "since": checked_at,
        "previous_status": None,
        "run_id": "planted",
        "consecutive": 1,
        "flips": 0,
        "flips_since": None,
        **columns,
    }
    with engine.begin() as conn:
        conn.execute(insert(SERVICE_STATUS), [row])
