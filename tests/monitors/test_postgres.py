from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from healthmon.monitors.base import Target
from healthmon.monitors.postgres import PostgresMonitor
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.monitors.runner import RunPolicy, run_check
from tests.support.hang import HangingServer
from tests.support.servers import PgServer, free_port, pg_bin, start_postgres

MONITOR = PostgresMonitor()
POLICY = RunPolicy(timeout_s=1.5, confirm_retries=1, confirm_delay_s=0.05)


async def check(dsn: str, shared: dict[str, object] | None = None, **options: object) -> CheckResult:
    secrets = frozenset({"pgsecretpw"})
    target = Target("postgres", None, {"dsn": dsn, **options}, secrets)
    async with BatchResources(shared=shared) as res:
        return await run_check(MONITOR, target, res, Tier.CRITICAL, POLICY)


async def test_healthy_server_reports_its_metrics(pg_server_url: str) -> None:
    result = await check(pg_server_url)
    assert result.status is Status.HEALTHY, result.details
    d = result.details
    assert result.latency_ms is not None and result.latency_ms > 0
    assert d["max_connections"] > 0 and d["connections_total"] >= 1
    assert 0 < d["connections_used_pct"] <= 100
    assert d["connections_by_state"].get("active", 0) >= 1
    assert d["database_size_bytes"] > 0 and d["in_recovery"] is False
    assert d["replication_lag_s"] == 0.0


async def test_stuck_sessions_are_counted(pg_server_url: str) -> None:
    idle = psycopg.connect(pg_server_url)
    idle.execute("SELECT 1")  # leaves the session idle in transaction
    busy = psycopg.connect(pg_server_url, autocommit=True)

    def sleep_until_cancelled() -> None:
        with contextlib.suppress(psycopg.errors.QueryCanceled):
            busy.execute("SELECT pg_sleep(30)")

    sleeper = threading.Thread(target=sleep_until_cancelled, daemon=True)
    sleeper.start()
    watcher = psycopg.connect(pg_server_url, autocommit=True)
    try:
        deadline = time.monotonic() + 10
        while not watcher.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'"
        ).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline, "the sleeping query never showed up"
            await asyncio.sleep(0.05)
        result = await check(pg_server_url, long_query_s=0, idle_in_transaction_s=0)
    finally:
        watcher.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'"
        )
        sleeper.join(timeout=10)
        for conn in (idle, busy, watcher):
            conn.close()
    assert result.details["long_running_queries"] >= 1
    assert result.details["idle_in_transaction"] >= 1
    assert result.details["longest_query_s"] >= 0


async def test_pool_statistics_when_a_pool_is_in_use(pg_server_url: str) -> None:
    async with AsyncConnectionPool(
        pg_server_url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    ) as pool:
        await pool.wait()
        result = await check(pg_server_url, shared={f"pg_pool:{pg_server_url}": pool})
    assert result.status is Status.HEALTHY
    assert result.details["pool_size"] >= 1 and result.details["pool_requests_waiting"] == 0


async def test_a_hanging_server_costs_one_timeout_per_attempt() -> None:
    server = HangingServer()
    try:
        result = await check(f"postgresql://postgres:pgsecretpw@127.0.0.1:{server.port}/postgres")
    finally:
        server.close()
    assert result.status is Status.UNHEALTHY
    assert result.details["error"] == "timeout" and result.details["confirmed"] is True
    assert server.connections == 2  # the first try and the confirming re-check
    assert "pgsecretpw" not in repr(result.details)


async def test_a_refused_connection_is_unhealthy_with_the_reason() -> None:
    result = await check(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    assert result.status is Status.UNHEALTHY
    assert result.details["reason"] == "connection refused" and result.details["error"] == "connect"


async def test_a_missing_dsn_is_unknown_not_unhealthy() -> None:
    target = Target("postgres", None, {})
    async with BatchResources() as res:
        result = await run_check(MONITOR, target, res, Tier.CRITICAL, POLICY)
    assert result.status is Status.UNKNOWN and "missing dsn" in result.details["reason"]


@pytest.fixture(scope="module")
def password_pg() -> Iterator[PgServer]:
    if pg_bin() is None:
        pytest.skip("PostgreSQL server binaries are not installed (make test installs them as root)")
    server = start_postgres(password="pgsecretpw")
    yield server
    server.stop()


async def test_wrong_password_is_an_auth_failure_without_the_password(password_pg: PgServer) -> None:
    good = await check(password_pg.url)
    assert good.status is Status.HEALTHY
    wrong = password_pg.url.replace("pgsecretpw", "wrongpw")
    result = await check(wrong)
    assert result.status is Status.UNHEALTHY
    assert result.details["reason"] == "authentication failed" and result.details["error"] == "auth"
    assert "wrongpw" not in repr(result.details) and "pgsecretpw" not in repr(result.details)
