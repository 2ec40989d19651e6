from __future__ import annotations

from typing import Any

import pytest
import redis

from healthmon.monitors.base import Target
from healthmon.monitors.redis import RedisMonitor
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.monitors.runner import RunPolicy, run_check
from tests.support.hang import HangingServer
from tests.support.servers import RedisServer, free_port, start_redis

MONITOR = RedisMonitor()
POLICY = RunPolicy(timeout_s=1.5, confirm_retries=1, confirm_delay_s=0.05)


async def check(url: str, previous: dict[str, Any] | None = None) -> CheckResult:
    target = Target(
        "redis", None, {"url": url, "connect_timeout_s": 1.0}, frozenset({"redissecret"}), previous or {}
    )
    async with BatchResources() as res:
        return await run_check(MONITOR, target, res, Tier.CRITICAL, POLICY)


async def test_healthy_server_reports_its_metrics(redis_url: str) -> None:
    result = await check(redis_url)
    assert result.status is Status.HEALTHY, result.details
    d = result.details
    assert result.latency_ms is not None and d["used_memory_bytes"] > 0
    assert d["connected_clients"] >= 1 and d["maxclients"] > 0
    assert d["evicted_keys_delta"] is None  # no previous run to compare with


async def test_memory_headroom_and_evictions_as_deltas(small_redis: RedisServer) -> None:
    first = await check(small_redis.url)
    assert first.details["maxmemory_bytes"] == 2 * 1024 * 1024
    assert first.details["memory_used_pct"] is not None and first.details["evicted_keys_delta"] is None
    client = redis.Redis.from_url(small_redis.url)
    pipe = client.pipeline(transaction=False)
    for i in range(400):
        pipe.set(f"k{i}", "x" * 10_000)
    pipe.execute()
    second = await check(small_redis.url, previous=first.details)
    assert second.details["evicted_keys_total"] > 0
    assert (
        second.details["evicted_keys_delta"]
        == second.details["evicted_keys_total"] - first.details["evicted_keys_total"]
    )
    third = await check(small_redis.url, previous=second.details)
    assert third.details["evicted_keys_delta"] == 0  # nothing new since the last run
    # a restarted server resets its counters: the delta counts from zero, never negative
    restarted = await check(small_redis.url, previous={"evicted_keys_total": 10**9})
    assert restarted.details["evicted_keys_delta"] == restarted.details["evicted_keys_total"]


async def test_full_memory_with_noeviction_is_unhealthy() -> None:
    server = start_redis("--maxmemory", "1mb", "--maxmemory-policy", "noeviction")
    try:
        client = redis.Redis.from_url(server.url)
        with pytest.raises(redis.ResponseError):
            for i in range(1000):
                client.set(f"k{i}", "x" * 10_000)
        result = await check(server.url)
    finally:
        server.stop()
    assert result.status is Status.UNHEALTHY
    assert "noeviction" in result.details["reason"]


async def test_wrong_password_is_an_auth_failure() -> None:
    server = start_redis(password="redissecret")
    try:
        good = await check(server.url)
        bad = await check(server.url.replace("redissecret", "nope"))
        missing = await check(f"redis://127.0.0.1:{server.port}/0")
    finally:
        server.stop()
    assert good.status is Status.HEALTHY
    assert bad.status is Status.UNHEALTHY and bad.details["error"] == "auth"
    assert missing.status is Status.UNHEALTHY and missing.details["error"] == "auth"
    assert "redissecret" not in repr([good.details, bad.details])


async def test_refused_and_hanging_servers() -> None:
    refused = await check(f"redis://127.0.0.1:{free_port()}/0")
    assert refused.status is Status.UNHEALTHY and refused.details["reason"] == "connection refused"
    hang = HangingServer()
    try:
        hung = await check(f"redis://127.0.0.1:{hang.port}/0")
    finally:
        hang.close()
    assert hung.status is Status.UNHEALTHY and hung.details["error"] == "timeout"
