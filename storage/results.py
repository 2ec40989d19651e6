"""Writes a tier run's results in bulk: history rows, latest status per target."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, literal, literal_column, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.storage.db import is_postgres
from healthmon.storage.tables import HealthCheckHistory, ServiceStatus
from healthmon.storage.types import UtcDateTime, tenant_from_key, tenant_key

#: SQLAlchemy's storage format for DateTime on SQLite (naive, microseconds)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
HISTORY_COLUMNS = ("checked_at", "service", "tenant_id", "tier", "status", "latency_ms", "details", "run_id")
#: how far a result's checked_at may be ahead of the store's clock and still be taken as given.
#: A check stamps its result before it is recorded, so with synchronised clocks checked_at is
#: never ahead. NTP keeps hosts well within a second of each other; 5 s is far below the
#: shortest tier interval (60 s), so a result up to 5 s ahead is still older than the next one.
MAX_CLOCK_SKEW_S = 5.0


def store_now(conn: Connection) -> datetime:
    """The store's clock, the reference for every checked_at: PostgreSQL's transaction time
    (one round trip); SQLite runs inside this process, so the process clock."""
    if conn.dialect.name == "postgresql":
        value: datetime = conn.execute(text("SELECT now()")).scalar_one()
        return value.astimezone(UTC)
    return datetime.now(UTC)


def at_store_time(
    results: Sequence[CheckResult], encoded: list[str], now: datetime
) -> tuple[list[CheckResult], list[str]]:
    """Results more than MAX_CLOCK_SKEW_S ahead of `now` moved to `now`, their details saying so.

    A result from the future would otherwise hold the latest status against every later one
    (the upsert keeps the newest). Only the moved results are encoded again.
    """
    limit = now + timedelta(seconds=MAX_CLOCK_SKEW_S)
    if all(r.checked_at <= limit for r in results):
        return list(results), encoded
    recorded, texts = list(results), list(encoded)
    for i, r in enumerate(results):
        if r.checked_at > limit:
            details = {
                **r.details,
                "clock_skew_s": round((r.checked_at - now).total_seconds(), 3),
                "reported_checked_at": r.checked_at.astimezone(UTC).isoformat(),
            }
            recorded[i] = replace(r, details=details, checked_at=now)
            texts[i] = json.dumps(details, default=str)
    return recorded, texts


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
) -> list[CheckResult]:
    """History and latest status in one transaction: COPY on PostgreSQL, executemany on SQLite.

    The latest-status upsert also keeps each target's streak (`consecutive`) and its status
    changes within the flap window (`flips` since `flips_since`), without reading first.
    Each result's details are encoded to JSON once, for both tables.

    The store's clock is read once per call: a result more than MAX_CLOCK_SKEW_S ahead of it
    is recorded at the store's time (details `clock_skew_s`, `reported_checked_at`), and a
    latest-status row already that far in the future is replaced by the next result.
    Returns the results as recorded, for the cache.
    """
    if not results:
        return []
    postgres = is_postgres(engine)
    # one latest row per key: the last result of a target wins if a run produced two
    latest: dict[tuple[str, str], int] = {}
    for index, result in enumerate(results):
        latest[(result.service, tenant_key(result.tenant_id))] = index
    encoded = [json.dumps(r.details, default=str) for r in results]
    table = ServiceStatus.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        now = store_now(conn)
        recorded, encoded = at_store_time(results, encoded, now)
        future = now + timedelta(seconds=MAX_CLOCK_SKEW_S)
        # SQLite gets times as the text SQLAlchemy's DateTime stores there; PostgreSQL as datetimes
        times: list[Any] = (
            [r.checked_at for r in recorded]
            if postgres
            else [r.checked_at.astimezone(UTC).strftime(SQLITE_TIME) for r in recorded]
        )
        history = [
            (times[i], r.service, r.tenant_id, r.tier.value, r.status.value, r.latency_ms, encoded[i], run_id)
            for i, r in enumerate(recorded)
        ]
        status = [_status_row(key, recorded[i], encoded[i], times[i], run_id) for key, i in latest.items()]
        flap_cutoff = max(r.checked_at for r in recorded) - timedelta(seconds=flap_window_s)
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
                    pg_insert(table).from_select(list(STATUS_COLUMNS), incoming), table, flap_cutoff, future
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
            # the statement's own values are the cutoff, the future bound and small constants
            upsert = _conflict_update(sqlite_insert(table), table, flap_cutoff, future).compile(
                dialect=conn.dialect, compile_kwargs={"literal_binds": True}
            )
            if tuple(upsert.positiontup or ()) != STATUS_COLUMNS:
                raise RuntimeError(f"service_status upsert expects {upsert.positiontup}")
            raw.executemany(upsert.string, status)
    return recorded


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


def _conflict_update(insert: Any, table: Any, flap_cutoff: datetime, future: datetime) -> Any:
    """The latest-status upsert: streaks and flips move in SQL, a late writer changes nothing.

    A row whose checked_at is after `future` (the store's clock plus the allowed skew) was
    written by a clock that ran ahead: the next result replaces it whatever its own time, and
    `since` and `flips_since` are never left after the new checked_at.
    """
    excluded = insert.excluded
    changed = table.c.status != excluded.status
    expired = or_(
        table.c.flips_since.is_(None),
        table.c.flips_since < literal(flap_cutoff, UtcDateTime()),
        # a window that starts in the future would never expire
        table.c.flips_since > excluded.checked_at,
    )
    return insert.on_conflict_do_update(
        index_elements=[table.c.service, table.c.tenant_id],
        set_={
            "tier": excluded.tier,
            "status": excluded.status,
            "latency_ms": excluded.latency_ms,
            "details": excluded.details,
            "checked_at": excluded.checked_at,
            "run_id": excluded.run_id,
            "since": case(
                (changed, excluded.checked_at),
                (table.c.since > excluded.checked_at, excluded.checked_at),
                else_=table.c.since,
            ),
            "previous_status": case((changed, table.c.status), else_=table.c.previous_status),
            "consecutive": case((changed, 1), else_=table.c.consecutive + 1),
            "flips": case(
                (and_(changed, expired), 1), (changed, table.c.flips + 1), (expired, 0), else_=table.c.flips
            ),
            "flips_since": case(
                (and_(changed, expired), excluded.checked_at), (expired, None), else_=table.c.flips_since
            ),
        },
        # a late writer must not overwrite a newer result, unless that one is from the future
        where=or_(
            table.c.checked_at <= excluded.checked_at,
            table.c.checked_at > literal(future, UtcDateTime()),
        ),
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
    Reads two columns only: the planner asks this for every target of a tier.

    A latest result from the future (beyond MAX_CLOCK_SKEW_S of the store's clock) is not
    "recently checked": skipping it would keep the target from the check that repairs it."""
    table = ServiceStatus.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        future = store_now(conn) + timedelta(seconds=MAX_CLOCK_SKEW_S)
        stmt = select(table.c.tenant_id).where(
            table.c.service == service,
            table.c.checked_at >= cutoff,
            table.c.checked_at <= literal(future, UtcDateTime()),
        )
        return {tenant_from_key(key) for key in conn.execute(stmt).scalars()}
