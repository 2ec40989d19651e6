"""Writing history rows at chosen times, for the uptime and SLO tests: a run of results of one
target spaced by its tier's interval, inserted as the record step's history rows would be."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import TIERS, Status
from healthmon.storage.tables import HISTORY


def history_rows(
    service: str,
    tenant: str | None,
    statuses: Iterable[Status],
    start: datetime,
    every_s: float | None = None,
) -> list[dict[str, Any]]:
    """One row per status, the first at `start`, then every `every_s` (default: the tier's
    interval)."""
    tier = MONITORS[service].tier
    step = timedelta(seconds=every_s if every_s is not None else TIERS[tier].interval_s)
    return [
        {
            "checked_at": start + i * step,
            "service": service,
            "tenant_id": tenant,
            "tier": tier.value,
            "status": status.value,
            "latency_ms": 10.0,
            "details": {},
        }
        for i, status in enumerate(statuses)
    ]


def write_history(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(HISTORY), list(rows))
