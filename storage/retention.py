"""Keeping history at its retention: whole daily partitions dropped on PostgreSQL, bounded
deletes on SQLite; resolved alerts and their deliveries have their own retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, delete, select, text

from storage.db import is_postgres
from storage.partitions import DEFAULT_PARTITION, ensure_partitions, existing_partitions
from storage.tables import AlertDelivery, HealthCheckHistory, PlatformAlert

HISTORY = HealthCheckHistory.__table__  # type: ignore[attr-defined]
ALERTS = PlatformAlert.__table__  # type: ignore[attr-defined]
DELIVERIES = AlertDelivery.__table__  # type: ignore[attr-defined]


@dataclass
class RetentionReport:
    partitions_created: list[str]
    partitions_dropped: list[str]
    history_rows_deleted: int
    alerts_deleted: int


def drop_old_partitions(engine: Engine, keep_from: date) -> list[str]:
    """Detach and drop every daily partition wholly before `keep_from`: no row-by-row delete."""
    dropped: list[str] = []
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('healthmon.partitions'))"))
        for name, day in sorted(existing_partitions(conn).items(), key=lambda item: item[1]):
            if day < keep_from:
                conn.execute(text(f"DROP TABLE {name}"))
                dropped.append(name)
        # rows that fell into the default partition are deleted by range (rare: days without partitions)
        conn.execute(
            text(f"DELETE FROM {DEFAULT_PARTITION} WHERE checked_at < :cutoff"),
            {"cutoff": datetime.combine(keep_from, datetime.min.time(), tzinfo=UTC)},
        )
    return dropped


def delete_old_history(engine: Engine, cutoff: datetime, batch: int = 5000) -> int:
    """SQLite: delete in bounded batches so a writer is never blocked for long."""
    total = 0
    while True:
        with engine.begin() as conn:
            ids = select(HISTORY.c.id).where(HISTORY.c.checked_at < cutoff).limit(batch).scalar_subquery()
            deleted = conn.execute(delete(HISTORY).where(HISTORY.c.id.in_(ids))).rowcount
        total += deleted
        if deleted < batch:
            return total


def delete_resolved_alerts(engine: Engine, cutoff: datetime) -> int:
    """Resolved alerts older than the cutoff, with their deliveries (ON DELETE CASCADE, and
    explicitly for SQLite connections without foreign keys)."""
    with engine.begin() as conn:
        old = select(ALERTS.c.id).where(ALERTS.c.status == "resolved", ALERTS.c.resolved_at < cutoff)
        conn.execute(delete(DELIVERIES).where(DELIVERIES.c.alert_id.in_(old.scalar_subquery())))
        return conn.execute(delete(ALERTS).where(ALERTS.c.id.in_(old.scalar_subquery()))).rowcount


def apply_retention(
    engine: Engine,
    history_days: int = 30,
    alerts_days: int = 90,
    now: datetime | None = None,
    days_ahead: int = 7,
) -> RetentionReport:
    now = now or datetime.now(UTC)
    keep_from = (now - timedelta(days=history_days)).date()
    if is_postgres(engine):
        created = ensure_partitions(engine, today=now.date(), days_ahead=days_ahead, days_behind=0)
        dropped = drop_old_partitions(engine, keep_from)
        deleted = 0
    else:
        created, dropped = [], []
        deleted = delete_old_history(engine, datetime.combine(keep_from, datetime.min.time(), tzinfo=UTC))
    return RetentionReport(
        created, dropped, deleted, delete_resolved_alerts(engine, now - timedelta(days=alerts_days))
    )
