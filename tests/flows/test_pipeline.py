"""A critical-tier run end to end without Prefect: plan, check, evaluate, record, report."""

from __future__ import annotations

import json
from typing import Any

import redis
from sqlalchemy import text

from healthmon.flows.pipeline import run_tier
from healthmon.flows.refs import TierRequest
from healthmon.monitors.result import Status, Tier
from healthmon.storage.cache import CHANGES_CHANNEL, cache_key
from healthmon.storage.results import run_results
from healthmon.storage.status import load_latest
from healthmon.storage.tier_runs import last_runs
from tests.support.app import AppFactory
from tests.support.hang import HangingServer
from tests.support.servers import start_redis


def critical(pg: str, redis_url: str, **extra: Any) -> dict[str, Any]:
    return {"services": {"postgres": {"dsn": pg, **extra}, "redis": {"url": redis_url}}}


async def test_critical_tier_records_history_status_and_cache(
    db_url: str, pg_server_url: str, redis_url: str, make_app: AppFactory
) -> None:
    runtime = make_app(db_url, critical(pg_server_url, redis_url), redis_url=redis_url)
    summary = await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True, trigger="manual"))
    assert (summary.targets, summary.checked, summary.not_healthy) == (2, 2, 0)
    results = run_results(runtime.engine, [summary.run_id])
    assert sorted((r.service, r.status) for r in results) == [
        ("postgres", Status.HEALTHY),
        ("redis", Status.HEALTHY),
    ]
    latest = load_latest(runtime.engine)
    assert set(latest) == {("postgres", None), ("redis", None)}
    cached = redis.Redis.from_url(redis_url).ttl(cache_key("postgres", None))
    assert 0 < cached <= 30  # the critical tier's TTL
    run = last_runs(runtime.engine, "critical")[0]
    assert (run.state, run.trigger, run.checked, run.not_healthy) == ("completed", "manual", 2, 0)


async def test_a_second_run_skips_targets_checked_within_the_interval(
    sqlite_url: str, pg_server_url: str, redis_url: str, make_app: AppFactory
) -> None:
    runtime = make_app(sqlite_url, critical(pg_server_url, redis_url))
    await run_tier(runtime, TierRequest(Tier.CRITICAL))
    again = await run_tier(runtime, TierRequest(Tier.CRITICAL))
    assert (again.targets, again.skipped, again.checked) == (2, 2, 0)
    forced = await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    assert forced.checked == 2
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM health_check_history")).scalar() == 4


async def test_thresholds_from_config_and_table_turn_metrics_into_status(
    sqlite_url: str, pg_server_url: str, redis_url: str, make_app: AppFactory
) -> None:
    config = critical(pg_server_url, redis_url, thresholds={"connections_used_pct": {"degraded": 0.0001}})
    runtime = make_app(sqlite_url, config)
    summary = await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    latest = load_latest(runtime.engine)
    assert latest[("postgres", None)].status is Status.DEGRADED
    assert latest[("postgres", None)].details["breaches"][0]["metric"] == "connections_used_pct"
    # a service-wide row in alert_thresholds overrides the config layer
    with runtime.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alert_thresholds "
                "(service, tenant_id, metric, degraded, unhealthy, inverse, updated_at) "
                "VALUES ('postgres', '', 'connections_used_pct', 99, 100, false, CURRENT_TIMESTAMP)"
            )
        )
    await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    assert load_latest(runtime.engine)[("postgres", None)].status is Status.HEALTHY
    assert summary.report.not_healthy[0].service == "postgres"


async def test_hanging_postgres_and_redis_dying_mid_run(
    sqlite_url: str, make_app: AppFactory
) -> None:
    """Postgres hangs; the Redis that is both monitored and the cache dies while checks run."""
    doomed = start_redis()
    hang = HangingServer(on_connect=doomed.stop)
    try:
        config = critical(f"postgresql://postgres:hunter2pw@127.0.0.1:{hang.port}/postgres", doomed.url)
        config["services"]["redis"]["connect_timeout_s"] = 0.5
        runtime = make_app(sqlite_url, config, redis_url=doomed.url)
        summary = await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    finally:
        hang.close()
        doomed.stop()
    latest = load_latest(runtime.engine)
    pg = latest[("postgres", None)]
    assert pg.status is Status.UNHEALTHY and pg.details["error"] == "timeout"
    # redis was still checked and recorded; healthy or not depends on whether its check beat the kill
    assert ("redis", None) in latest
    assert summary.checked == 2  # both checked and recorded: the hang cost one timeout, not the run
    # the cache write came after the kill: the run went on with the in-process cache
    assert runtime.cache.backend == "memory"
    assert "postgres" in {r.service for r in summary.report.not_healthy}
    assert "hunter2pw" not in repr(pg.details)


async def test_status_changes_are_reported(
    sqlite_url: str, pg_server_url: str, redis_url: str, make_app: AppFactory
) -> None:
    runtime = make_app(sqlite_url, critical(pg_server_url, redis_url))
    first = await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    assert first.report.changes == []  # a first check is not a change
    runtime = make_app(sqlite_url, critical("postgresql://postgres@127.0.0.1:1/postgres", redis_url))
    second = await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    assert [(c.service, c.previous, c.current) for c in second.report.changes] == [
        ("postgres", "healthy", "unhealthy")
    ]


async def test_status_changes_are_published_on_redis_for_live_views(
    sqlite_url: str, pg_server_url: str, redis_url: str, make_app: AppFactory
) -> None:
    runtime = make_app(sqlite_url, critical(pg_server_url, redis_url), redis_url=redis_url)
    await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    client = redis.Redis.from_url(redis_url)
    listener = client.pubsub()
    listener.subscribe(CHANGES_CHANNEL)
    confirmed = listener.get_message(timeout=10)
    assert confirmed is not None and confirmed["type"] == "subscribe"
    broken = critical("postgresql://postgres@127.0.0.1:1/postgres", redis_url)
    runtime = make_app(sqlite_url, broken, redis_url=redis_url)
    second = await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    client.publish(CHANGES_CHANNEL, "end")  # marks the end of what the run published

    messages = []
    while (message := listener.get_message(timeout=10)) is not None and message["data"] != b"end":
        messages.append(json.loads(message["data"]))
    assert message is not None, "the end marker never arrived"
    # postgres went from healthy to unhealthy; redis did not change, so it is not announced
    assert [(m["service"], m["tenant"], m["previous"], m["current"]) for m in messages] == [
        ("postgres", None, "healthy", "unhealthy")
    ]
    assert messages[0]["tier"] == "critical" and messages[0]["run_id"] == second.run_id
    assert messages[0]["reason"]
    listener.close()
    client.close()
