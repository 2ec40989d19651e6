"""PostgreSQL: liveness, connection headroom, stuck sessions, size, replication, pool."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from healthmon.monitors.base import Monitor, Target
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

# One round trip for everything but liveness. Only client backends count towards the
# connection figures an operator acts on; our own session is left out of "stuck" counts.
STATS_SQL = """
SELECT
  current_setting('max_connections')::int AS max_connections,
  current_setting('superuser_reserved_connections')::int AS reserved_connections,
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS connections_total,
  (SELECT coalesce(json_object_agg(s, n), '{}'::json) FROM (
     SELECT coalesce(state, 'unknown') AS s, count(*) AS n FROM pg_stat_activity
     WHERE backend_type = 'client backend' GROUP BY 1) AS by_state) AS connections_by_state,
  (SELECT count(*) FROM pg_stat_activity
     WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
       AND now() - query_start > make_interval(secs => %(long_query_s)s)) AS long_running_queries,
  (SELECT coalesce(max(extract(epoch FROM now() - query_start)), 0) FROM pg_stat_activity
     WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid())
     AS longest_query_s,
  (SELECT count(*) FROM pg_stat_activity
     WHERE state LIKE 'idle in transaction%%' AND backend_type = 'client backend'
       AND now() - state_change > make_interval(secs => %(idle_tx_s)s)) AS idle_in_transaction,
  (SELECT coalesce(max(extract(epoch FROM now() - state_change)), 0) FROM pg_stat_activity
     WHERE state LIKE 'idle in transaction%%' AND backend_type = 'client backend')
     AS longest_idle_in_transaction_s,
  pg_database_size(current_database()) AS database_size_bytes,
  pg_is_in_recovery() AS in_recovery
"""

# On a standby the replay timestamp keeps ageing while the primary is idle, so a standby
# that has replayed everything it received counts as caught up (lag 0).
STANDBY_SQL = """
SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS replication_lag_s,
       pg_last_wal_receive_lsn() IS NOT NULL AS receiving
"""

PRIMARY_REPLICATION_SQL = """
SELECT count(*) AS replicas, coalesce(max(extract(epoch FROM replay_lag)), 0) AS replication_lag_s
FROM pg_stat_replication
"""


def _error_reason(exc: psycopg.Error) -> tuple[str, str]:
    """A reason an operator can act on, and a stable error class for thresholds and alerts."""
    sqlstate = getattr(exc, "sqlstate", None)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if sqlstate == "28P01" or "password authentication failed" in lowered:
        return "authentication failed", "auth"
    if sqlstate in ("28000",) or "no pg_hba.conf entry" in lowered:
        return "connection not authorised (pg_hba)", "auth"
    if sqlstate == "3D000":
        return "database does not exist", "config"
    if sqlstate == "53300" or "too many clients" in lowered or "remaining connection slots" in lowered:
        return "connection slots exhausted", "capacity"
    if "connection refused" in lowered:
        return "connection refused", "connect"
    if "timeout" in lowered:
        return "connection timed out", "timeout"
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return "host name does not resolve", "dns"
    return text[:200], "connect" if isinstance(exc, psycopg.OperationalError) else "query"


class PostgresMonitor(Monitor):
    service = "postgres"
    tier = Tier.CRITICAL
    required = ("dsn",)
    default_timeout_s = 2.5
    description = "SELECT 1, then pg_stat_activity, size and replication in one query"
    metrics: ClassVar[tuple[str, ...]] = (
        "latency_ms",
        "connect_ms",
        "connections_used_pct",
        "connections_total",
        "max_connections",
        "long_running_queries",
        "longest_query_s",
        "idle_in_transaction",
        "longest_idle_in_transaction_s",
        "database_size_bytes",
        "replication_lag_s",
        "pool_requests_waiting",
        "pool_errors",
    )

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        settings = target.settings
        pool: AsyncConnectionPool | None = resources.shared.get(f"pg_pool:{settings['dsn']}")
        started = time.perf_counter()
        try:
            async with self._connection(settings, pool) as conn, conn.cursor(row_factory=dict_row) as cur:
                connect_ms = (time.perf_counter() - started) * 1000
                t0 = time.perf_counter()
                await cur.execute("SELECT 1")
                latency_ms = (time.perf_counter() - t0) * 1000
                await cur.execute(
                    STATS_SQL,
                    {
                        "long_query_s": float(settings.get("long_query_s", 300)),
                        "idle_tx_s": float(settings.get("idle_in_transaction_s", 60)),
                    },
                )
                stats: dict[str, Any] = dict(await cur.fetchone() or {})
                await cur.execute(STANDBY_SQL if stats.get("in_recovery") else PRIMARY_REPLICATION_SQL)
                stats.update(await cur.fetchone() or {})
        except PoolTimeout:
            return Outcome.unhealthy(
                "no connection from the pool in time", error="pool_timeout", **self._pool_details(pool)
            )
        except psycopg.Error as exc:
            reason, error = _error_reason(exc)
            return Outcome.unhealthy(reason, error=error, sqlstate=getattr(exc, "sqlstate", None))
        return self._decide(stats, latency_ms, connect_ms, pool)

    @asynccontextmanager
    async def _connection(self, settings: Any, pool: AsyncConnectionPool | None) -> AsyncIterator[Any]:
        if pool is not None:
            async with pool.connection() as conn:
                yield conn
            return
        conn = await psycopg.AsyncConnection.connect(
            settings["dsn"],
            autocommit=True,
            connect_timeout=max(1, int(float(settings.get("connect_timeout_s", 5)))),
            application_name="healthmon",
        )
        try:
            yield conn
        finally:
            await conn.close()

    @staticmethod
    def _pool_details(pool: AsyncConnectionPool | None) -> dict[str, Any]:
        if pool is None:
            return {}
        stats = pool.get_stats()  # keys whose value is 0 may be absent
        return {
            "pool_size": stats.get("pool_size", 0),
            "pool_available": stats.get("pool_available", 0),
            "pool_requests_waiting": stats.get("requests_waiting", 0),
            "pool_errors": stats.get("requests_errors", 0) + stats.get("connections_errors", 0),
            "pool_connections_lost": stats.get("connections_lost", 0),
        }

    def _decide(
        self, stats: dict[str, Any], latency_ms: float, connect_ms: float, pool: AsyncConnectionPool | None
    ) -> Outcome:
        max_conn = int(stats["max_connections"])
        usable = max(1, max_conn - int(stats.get("reserved_connections") or 0))
        total = int(stats["connections_total"])
        details: dict[str, Any] = {
            "connect_ms": round(connect_ms, 2),
            "max_connections": max_conn,
            "connections_total": total,
            "connections_used_pct": round(100.0 * total / usable, 1),
            "connections_by_state": dict(stats.get("connections_by_state") or {}),
            "long_running_queries": int(stats["long_running_queries"]),
            "longest_query_s": round(float(stats["longest_query_s"]), 1),
            "idle_in_transaction": int(stats["idle_in_transaction"]),
            "longest_idle_in_transaction_s": round(float(stats["longest_idle_in_transaction_s"]), 1),
            "database_size_bytes": int(stats["database_size_bytes"]),
            "in_recovery": bool(stats["in_recovery"]),
            **self._pool_details(pool),
        }
        if stats["in_recovery"]:
            lag = stats.get("replication_lag_s")
            details["replication_lag_s"] = None if lag is None else round(float(lag), 1)
            if not stats.get("receiving"):
                return Outcome.unhealthy("standby is not receiving WAL", latency_ms, **details)
        else:
            details["replicas"] = int(stats.get("replicas") or 0)
            details["replication_lag_s"] = round(float(stats.get("replication_lag_s") or 0), 1)
        return Outcome.healthy(latency_ms, **details)
