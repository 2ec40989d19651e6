"""Writes a tier run's results in bulk (history rows, and the latest status per target through
storage.status's upsert, in one transaction) and reads history back."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import Connection, Engine, and_, bindparam, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from healthmon.monitors import json_codec
from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.storage.db import MAX_CLOCK_SKEW_S, ids_filter, is_postgres, store_now
from healthmon.storage.status import STATUS_COLUMNS, status_row, upsert_latest
from healthmon.storage.tables import HISTORY, SERVICE_STATUS
from healthmon.storage.types import UtcDateTime, tenant_from_key, tenant_key

#: SQLAlchemy's storage format for DateTime on SQLite (naive, microseconds)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
HISTORY_COLUMNS = ("checked_at", "service", "tenant_id", "tier", "status", "latency_ms", "details", "run_id")
#: PostgreSQL types of HISTORY_COLUMNS and storage.status.STATUS_COLUMNS, for binary COPY
HISTORY_TYPES = ("timestamptz", "varchar", "varchar", "varchar", "varchar", "float8", "jsonb", "varchar")
STATUS_TYPES = (
    *("varchar", "varchar", "varchar", "varchar", "float8", "jsonb", "timestamptz", "timestamptz"),
    *("varchar", "varchar", "int4", "int4", "timestamptz"),
)


class EncodedJsonb(Dumper):
    """jsonb in COPY's binary format from JSON text already encoded: the version byte and the
    text. psycopg's own jsonb dumper would encode the text again, as a JSON string."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


def _copy_binary(raw: Any, table: str, columns: Sequence[str], types: Sequence[str], rows: Any) -> None:
    """COPY rows in the binary format: no text rendering of each value, and the details as
    the JSON text encoded once for both tables."""
    with raw.cursor() as cur:
        # by oid only (None): used where COPY knows the column types, never for any other str
        cur.adapters.register_dumper(None, EncodedJsonb)
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(types))
            for row in rows:
                copy.write_row(row)


@functools.cache
def _pg_status_upsert() -> Any:
    """INSERT ... SELECT FROM status_incoming ... ON CONFLICT, built once: building the
    statement cost more than the rest of a batch's recording on the client (py-spy)."""
    table = SERVICE_STATUS
    incoming: Any = select(*(literal_column(c) for c in STATUS_COLUMNS)).select_from(text("status_incoming"))
    return upsert_latest(
        pg_insert(table).from_select(list(STATUS_COLUMNS), incoming),
        table,
        bindparam("flap_cutoff", type_=UtcDateTime()),
        bindparam("future", type_=UtcDateTime()),
    )


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
            texts[i] = json_codec.dumps(details)
    return recorded, texts


def record_results(
    engine: Engine,
    results: Sequence[CheckResult],
    run_id: str | None = None,
    flap_window_s: float = 3600,
    once_key: str | None = None,
) -> list[CheckResult]:
    """History and latest status in one transaction: COPY on PostgreSQL, executemany on SQLite.

    The latest-status upsert also keeps each target's streak (`consecutive`) and its status
    changes within the flap window (`flips` since `flips_since`), without reading first.
    Each result's details are encoded to JSON once, for both tables.

    The store's clock is read once per call: a result more than MAX_CLOCK_SKEW_S ahead of it
    is recorded at the store's time (details `clock_skew_s`, `reported_checked_at`), and a
    latest-status row already that far in the future is replaced by the next result.
    With `once_key` (and a `run_id`), recorders of the same key take turns (a PostgreSQL
    advisory lock for the transaction), and a result whose target run `run_id` has already
    recorded is dropped: two recorders of one batch (a worker late past the tier's deadline
    and the flow process recording its batch as lost) together record each target once.
    Returns the results as recorded, for the cache.
    """
    if not results:
        return []
    postgres = is_postgres(engine)
    table = SERVICE_STATUS
    with engine.begin() as conn:
        if once_key is not None and run_id is not None:
            results = _not_yet_in_run(conn, results, run_id, once_key)
            if not results:
                return []
        # one latest row per key: the last result of a target wins if a run produced two
        latest: dict[tuple[str, str], int] = {}
        for index, result in enumerate(results):
            latest[(result.service, tenant_key(result.tenant_id))] = index
        encoded = [json_codec.dumps(r.details) for r in results]
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
        status = [status_row(key, recorded[i], encoded[i], times[i], run_id) for key, i in latest.items()]
        flap_cutoff = max(r.checked_at for r in recorded) - timedelta(seconds=flap_window_s)
        raw: Any = conn.connection.driver_connection
        if postgres:
            _copy_binary(raw, "health_check_history", HISTORY_COLUMNS, HISTORY_TYPES, history)
            # COPY into a temporary table, then one INSERT ... SELECT ... ON CONFLICT: a few
            # round trips whatever the batch size (executemany pipelined one statement per
            # row: ~150 ms per 1,000 rows here)
            conn.execute(
                text(
                    "CREATE TEMP TABLE IF NOT EXISTS status_incoming "
                    "(LIKE service_status INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
            )
            _copy_binary(raw, "status_incoming", STATUS_COLUMNS, STATUS_TYPES, status)
            conn.execute(_pg_status_upsert(), {"flap_cutoff": flap_cutoff, "future": future})
        else:
            # the driver's own executemany: SQLAlchemy's per-row parameter processing cost more
            # than the inserts themselves (docs/performance.md)
            raw.executemany(
                f"INSERT INTO health_check_history ({', '.join(HISTORY_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})",
                history,
            )
            # the statement's own values are the cutoff, the future bound and small constants
            upsert = upsert_latest(sqlite_insert(table), table, flap_cutoff, future).compile(
                dialect=conn.dialect, compile_kwargs={"literal_binds": True}
            )
            if tuple(upsert.positiontup or ()) != STATUS_COLUMNS:
                raise RuntimeError(f"service_status upsert expects {upsert.positiontup}")
            raw.executemany(upsert.string, status)
    return recorded


def _not_yet_in_run(
    conn: Connection, results: Sequence[CheckResult], run_id: str, once_key: str
) -> Sequence[CheckResult]:
    """The results whose target run `run_id` has not recorded, read once the key's turn came.
    On SQLite the database's one writer at a time serializes the recorders instead (a second
    writer whose read went stale fails rather than writing twice)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": once_key})
    by_service: dict[str, list[str | None]] = {}
    for r in results:
        by_service.setdefault(r.service, []).append(r.tenant_id)
    done = {
        (service, tenant)
        for service, tenants in by_service.items()
        for tenant in _recorded_in_run(conn, service, run_id, tenants)
    }
    return [r for r in results if (r.service, r.tenant_id) not in done] if done else results


def recorded_in_run(
    engine: Engine, service: str, run_id: str, tenant_ids: Sequence[str | None]
) -> dict[str | None, str]:
    """Status per target of `tenant_ids` that run `run_id` has already recorded (the latest
    status row carries the run id, written in the same transaction as the history row)."""
    with engine.connect() as conn:
        return _recorded_in_run(conn, service, run_id, tenant_ids)


def _recorded_in_run(
    conn: Connection, service: str, run_id: str, tenant_ids: Sequence[str | None]
) -> dict[str | None, str]:
    table = SERVICE_STATUS
    stmt = select(table.c.tenant_id, table.c.status).where(
        table.c.service == service,
        table.c.run_id == run_id,
        ids_filter(conn.engine, table.c.tenant_id, [tenant_key(t) for t in tenant_ids]),
    )
    return {tenant_from_key(row.tenant_id): row.status for row in conn.execute(stmt)}


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
    table = HISTORY
    tenant_clause = table.c.tenant_id.is_(None) if tenant_id is None else table.c.tenant_id == tenant_id
    stmt = (
        select(table)
        .where(and_(table.c.service == service, tenant_clause, table.c.checked_at >= since))
        .order_by(table.c.checked_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [_history_result(r) for r in conn.execute(stmt).mappings()]


def run_results(engine: Engine, run_ids: Sequence[str]) -> list[CheckResult]:
    """Every result a run recorded, in service and tenant order."""
    table = HISTORY
    stmt = select(table).where(table.c.run_id.in_(list(run_ids))).order_by(table.c.service, table.c.tenant_id)
    with engine.connect() as conn:
        return [_history_result(r) for r in conn.execute(stmt).mappings()]


