"""Keeping history at its retention: whole daily partitions dropped on PostgreSQL, bounded
deletes on SQLite; rows dated outside the kept range in either direction are removed too, and
so are the uptime rollup's hours (storage/uptime_hours.py) of those days. Resolved alerts and
their deliveries have their own retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Engine, delete, or_, select, text

from healthmon.storage.db import is_postgres
from healthmon.storage.partitions import DEFAULT_PARTITION, ensure_partitions, existing_partitions
from healthmon.storage.tables import ALERTS, DELIVERIES, HISTORY, UPTIME_HOURS, UPTIME_ROLLUPS

PARTITIONS_LOCK = "SELECT pg_advisory_xact_lock(hashtext('healthmon.partitions'))"


@dataclass
class RetentionReport:
    partitions_created: list[str]
    partitions_dropped: list[str]
    #: every history row removed: the rows of the dropped partitions and the rows deleted
    history_rows_deleted: int
    alerts_deleted: int
    #: of history_rows_deleted, those dated after the kept range (written by a clock running ahead)
    future_rows_deleted: int = 0
    #: uptime_hours rows of hours outside the kept range, gone with their history
    rollup_rows_deleted: int = 0


@dataclass(frozen=True)
class DroppedPartitions:
    names: list[str]
    rows: int


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def drop_old_partitions(engine: Engine, keep_from: date) -> DroppedPartitions:
    """Drop every daily partition wholly before `keep_from` (DROP TABLE, no row-by-row delete),
    counting its rows first so that the report says what went."""
    names: list[str] = []
    rows = 0
    with engine.begin() as conn:
        conn.execute(text(PARTITIONS_LOCK))
        for name, day in sorted(existing_partitions(conn).items(), key=lambda item: item[1]):
            if day < keep_from:
                # counted in the dropping transaction: only a writer stamping rows older than
                # the retention (a clock that far behind) could add rows between count and drop
                rows += int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
                conn.execute(text(f"DROP TABLE {name}"))
                names.append(name)
    return DroppedPartitions(names, rows)


def prune_default_partition(engine: Engine, keep_from: datetime, keep_until: datetime) -> tuple[int, int]:
    """Rows of the default partition dated before `keep_from` or from `keep_until` on: the
    default holds only days without a partition, so these are outside the partitioned range.
    Rows of days in between (a gap left while retention did not run) stay. Returns
    (rows before, rows after)."""
    with engine.begin() as conn:
        conn.execute(text(PARTITIONS_LOCK))
        old = conn.execute(
            text(f"DELETE FROM {DEFAULT_PARTITION} WHERE checked_at < :cutoff"), {"cutoff": keep_from}
        ).rowcount
        future = conn.execute(
            text(f"DELETE FROM {DEFAULT_PARTITION} WHERE checked_at >= :until"), {"until": keep_until}
        ).rowcount
    return int(old), int(future)


def delete_history(engine: Engine, where: ColumnElement[bool], batch: int = 5000) -> int:
    """SQLite: delete in bounded batches so a writer is never blocked for long."""
    total = 0
    while True:
        with engine.begin() as conn:
            ids = select(HISTORY.c.id).where(where).limit(batch).scalar_subquery()
            deleted = int(conn.execute(delete(HISTORY).where(HISTORY.c.id.in_(ids))).rowcount)
        total += deleted
        if deleted < batch:
            return total


def delete_old_history(engine: Engine, cutoff: datetime, batch: int = 5000) -> int:
    return delete_history(engine, HISTORY.c.checked_at < cutoff, batch)


def delete_rollup(engine: Engine, keep_from: datetime, keep_until: datetime) -> int:
    """The uptime rollup's hours (rows and markers) outside [keep_from, keep_until): their
    history is gone, so nothing should still count them."""
    with engine.begin() as conn:
        rows = conn.execute(
            delete(UPTIME_HOURS).where(
                or_(UPTIME_HOURS.c.hour < keep_from, UPTIME_HOURS.c.hour >= keep_until)
            )
        ).rowcount
        conn.execute(
            delete(UPTIME_ROLLUPS).where(
                or_(UPTIME_ROLLUPS.c.hour < keep_from, UPTIME_ROLLUPS.c.hour >= keep_until)
            )
        )
    return int(rows)


def delete_resolved_alerts(engine: Engine, cutoff: datetime) -> int:
    """Resolved alerts older than the cutoff, with their deliveries (ON DELETE CASCADE, and
    explicitly for SQLite connections without foreign keys)."""
    with engine.begin() as conn:
        old = select(ALERTS.c.id).where(ALERTS.c.status == "resolved", ALERTS.c.resolved_at < cutoff)
        conn.execute(delete(DELIVERIES).where(DELIVERIES.c.alert_id.in_(old.scalar_subquery())))
        return int(conn.execute(delete(ALERTS).where(ALERTS.c.id.in_(old.scalar_subquery()))).rowcount)


def apply_retention(
    engine: Engine,
    history_days: int = 30,
    alerts_days: int = 90,
    now: datetime | None = None,
    days_ahead: int = 7,
) -> RetentionReport:
    """History is kept from midnight `history_days` days ago up to the end of the day
    `days_ahead` days ahead (the range partitions are created for); rows outside it in either
    direction are removed, and the report counts them all."""
    now = now or datetime.now(UTC)
    keep_from = (now - timedelta(days=history_days)).date()
    keep_until = _midnight(now.date() + timedelta(days=days_ahead + 1))
    if is_postgres(engine):
        # the default partition first: every partition created below scans it while attaching
        old, future = prune_default_partition(engine, _midnight(keep_from), keep_until)
        created = ensure_partitions(engine, today=now.date(), days_ahead=days_ahead, days_behind=0)
        dropped = drop_old_partitions(engine, keep_from)
        names, deleted = dropped.names, dropped.rows + old + future
    else:
        created, names = [], []
        future = delete_history(engine, HISTORY.c.checked_at >= keep_until)
        deleted = delete_old_history(engine, _midnight(keep_from)) + future
    return RetentionReport(
        created,
        names,
        deleted,
        delete_resolved_alerts(engine, now - timedelta(days=alerts_days)),
        future,
        delete_rollup(engine, _midnight(keep_from), keep_until),
    )
