"""Writes a tier run's results in bulk: history rows, latest status per target."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, literal, literal_column, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitors.result import CheckResult, Status, Tier
from storage.db import is_postgres
from storage.tables import HealthCheckHistory, ServiceStatus
from storage.types import UtcDateTime, tenant_from_key, tenant_key

#: SQLAlchemy's storage format for DateTime on SQLite (naive, microseconds)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
HISTORY_COLUMNS = ("checked_at", "service", "tenant_id", "tier", "status", "latency_ms", "details", "run_id")


@dataclass(frozen=True)
class LatestStatus:
    service: str
    tenant_id: str | None
    tier: Tier
    status: Status
    latency_ms: float | None
    details: dict[str, Any]
    checked_at: datetime
    since: datetime
    consecutive: int = 1
    flips: int = 0

    def to_result(self) -> CheckResult:
        return CheckResult(
            self.service,
            self.tenant_id,
            self.tier,
            self.status,
            self.latency_ms,
            self.details,
            self.checked_at,
        )


def latest_from_row(row: ServiceStatus) -> LatestStatus:
    return LatestStatus(
        service=row.service,
        tenant_id=tenant_from_key(row.tenant_id),
        tier=Tier(row.tier),
        status=Status(row.status),
        latency_ms=row.latency_ms,
        details=dict(row.details or {}),
        checked_at=row.checked_at,
        since=row.since,
        consecutive=row.consecutive,
        flips=row.flips,
    )


def load_latest(
    engine: Engine, services: Iterable[str] | None = None, tenants: Iterable[str | None] | None = None
) -> dict[tuple[str, str | None], LatestStatus]:
    stmt = select(ServiceStatus)
    if services is not None:
        stmt = stmt.where(ServiceStatus.service.in_(list(services)))  # type: ignore[attr-defined]
    if tenants is not None:
        stmt = stmt.where(ServiceStatus.tenant_id.in_([tenant_key(t) for t in tenants]))  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    found = {}
    for row in rows:
        latest = latest_from_row(ServiceStatus.model_validate(row._mapping))
        found[(latest.service, latest.tenant_id)] = latest
    return found


def record_results(
    engine: Engine, results: Sequence[CheckResult], run_id: str | None = None, flap_window_s: float = 3600
) -> None:
    """History and latest status in one transaction: COPY on PostgreSQL, executemany on SQLite.

    The latest-status upsert also keeps each target's streak (`consecutive`) and its status
    changes within the flap window (`flips` since `flips_since`), without reading first.
    Each result's details are encoded to JSON once, for both tables.
    """
    if not results:
        return
    postgres = is_postgres(engine)
    # one latest row per key: the last result of a target wins if a run produced two
    latest: dict[tuple[str, str], int] = {}
    for index, result in enumerate(results):
        latest[(result.service, tenant_key(result.tenant_id))] = index
    encoded = [json.dumps(r.details, default=str) for r in results]
    # SQLite gets times as the text SQLAlchemy's DateTime stores there; PostgreSQL as datetimes
    times: list[Any] = (
        [r.checked_at for r in results]
        if postgres
        else [r.checked_at.astimezone(UTC).strftime(SQLITE_TIME) for r in results]
    )
    history = [
        (times[i], r.service, r.tenant_id, r.tier.value, r.status.value, r.latency_ms, encoded[i], run_id)
        for i, r in enumerate(results)
    ]
    status = [_status_row(key, results[i], encoded[i], times[i], run_id) for key, i in latest.items()]
    flap_cutoff = max(r.checked_at for r in results) - timedelta(seconds=flap_window_s)
    table = ServiceStatus.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        raw: Any = conn.connection.driver_connection
        if postgres:
            with raw.cursor() as cur:
                with cur.copy(f"COPY health_check_history ({', '.join(HISTORY_COLUMNS)}) FROM STDIN") as copy:
                    for row in history:
                        copy.write_row(row)
            # COPY into a temporary table, then one INSERT ... SELECT ... ON CONFLICT: a few
            # round trips whatever the batch size (executemany pipelined one statement per
            # row: ~150 ms per 1,000 rows here)
            conn.execute(
                text(
                    "CREATE TEMP TABLE IF NOT EXISTS status_incoming "
                    "(LIKE service_status INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
            )
            with raw.cursor() as cur:
                with cur.copy(f"COPY status_incoming ({', '.join(STATUS_COLUMNS)}) FROM STDIN") as copy:
                    for status_row in status:
                        copy.write_row(status_row)
            incoming: Any = select(*(literal_column(c) for c in STATUS_COLUMNS)).select_from(
                text("status_incoming")
            )
            conn.execute(
                _conflict_update(
                    pg_insert(table).from_select(list(STATUS_COLUMNS), incoming), table, flap_cutoff
                )
            )
        else:
            # the driver's own executemany: SQLAlchemy's per-row parameter processing cost more
            # than the inserts themselves (docs/performance.md)
            raw.executemany(
                f"INSERT INTO health_check_history ({', '.join(HISTORY_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})",
                history,
            )
            # the statement's own values are the cutoff and small constants, made here
            upsert = _conflict_update(sqlite_insert(table), table, flap_cutoff).compile(
                dialect=conn.dialect, compile_kwargs={"literal_binds": True}
            )
            if tuple(upsert.positiontup or ()) != STATUS_COLUMNS:
                raise RuntimeError(f"service_status upsert expects {upsert.positiontup}")
            raw.executemany(upsert.string, status)


def _status_row(
    key: tuple[str, str], result: CheckResult, details: str, checked_at: Any, run_id: str | None
) -> tuple[Any, ...]:
    """A row in STATUS_COLUMNS order; since, consecutive and flips are a first insert's values."""
    service, tenant = key
    return (
        service,
        tenant,
        result.tier.value,
        result.status.value,
        result.latency_ms,
        details,
        checked_at,
        checked_at,
        None,
        run_id,
        1,
        0,
        None,
    )


STATUS_COLUMNS = (
    "service",
    "tenant_id",
    "tier",
    "status",
    "latency_ms",
    "details",
    "checked_at",
    "since",
    "previous_status",
    "run_id",
    "consecutive",
    "flips",
    "flips_since",
)


def _conflict_update(insert: Any, table: Any, flap_cutoff: datetime) -> Any:
    """The latest-status upsert: streaks and flips move in SQL, a late writer changes nothing."""
    excluded = insert.excluded
    changed = table.c.status != excluded.status
    expired = or_(table.c.flips_since.is_(None), table.c.flips_since < literal(flap_cutoff, UtcDateTime()))
    return insert.on_conflict_do_update(
        index_elements=[table.c.service, table.c.tenant_id],
        set_={
            "tier": excluded.tier,
            "status": excluded.status,
            "latency_ms": excluded.latency_ms,
            "details": excluded.details,
            "checked_at": excluded.checked_at,
            "run_id": excluded.run_id,
            "since": case((changed, excluded.checked_at), else_=table.c.since),
            "previous_status": case((changed, table.c.status), else_=table.c.previous_status),
            "consecutive": case((changed, 1), else_=table.c.consecutive + 1),
            "flips": case(
                (and_(changed, expired), 1), (changed, table.c.flips + 1), (expired, 0), else_=table.c.flips
            ),
            "flips_since": case(
                (and_(changed, expired), excluded.checked_at), (expired, None), else_=table.c.flips_since
            ),
        },
        # a late writer must not overwrite a newer result
        where=table.c.checked_at <= excluded.checked_at,
    )


def _history_result(r: Any) -> CheckResult:
    return CheckResult(
        r["service"],
        r["tenant_id"],
        Tier(r["tier"]),
        Status(r["status"]),
        r["latency_ms"],
        dict(r["details"]),
        r["checked_at"],
    )


def history(
    engine: Engine, service: str, tenant_id: str | None, since: datetime, limit: int = 10_000
) -> list[CheckResult]:
    table = HealthCheckHistory.__table__  # type: ignore[attr-defined]
    tenant_clause = table.c.tenant_id.is_(None) if tenant_id is None else table.c.tenant_id == tenant_id
    stmt = (
        select(table)
        .where(and_(table.c.service == service, tenant_clause, table.c.checked_at >= since))
        .order_by(table.c.checked_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [_history_result(r) for r in conn.execute(stmt).mappings()]


def keys_filter(keys: Iterable[tuple[str, str | None]]) -> Any:
    """A WHERE clause matching (service, tenant) pairs in service_status."""
    table = ServiceStatus.__table__  # type: ignore[attr-defined]
    return tuple_(table.c.service, table.c.tenant_id).in_([(s, tenant_key(t)) for s, t in keys])


def run_results(engine: Engine, run_ids: Sequence[str]) -> list[CheckResult]:
    """Every result a run recorded, in service and tenant order."""
    table = HealthCheckHistory.__table__  # type: ignore[attr-defined]
    stmt = select(table).where(table.c.run_id.in_(list(run_ids))).order_by(table.c.service, table.c.tenant_id)
    with engine.connect() as conn:
        return [_history_result(r) for r in conn.execute(stmt).mappings()]


def checked_since(engine: Engine, service: str, cutoff: datetime) -> set[str | None]:
    """Tenants (None for the platform) of a service whose latest result is not older than cutoff.
    Reads two columns only: the planner asks this for every target of a tier."""
    table = ServiceStatus.__table__  # type: ignore[attr-defined]
    stmt = select(table.c.tenant_id).where(table.c.service == service, table.c.checked_at >= cutoff)
    with engine.connect() as conn:
        return {tenant_from_key(key) for key in conn.execute(stmt).scalars()}
