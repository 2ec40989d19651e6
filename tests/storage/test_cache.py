from __future__ import annotations

import uuid

import redis

from healthmon.storage.cache import MemoryCache, RedisCache
from tests.support.servers import start_redis


def test_redis_cache_stores_with_the_tier_ttl(redis_url: str) -> None:
    cache = RedisCache(redis_url)
    key = f"healthmon:test:{uuid.uuid4().hex}"
    cache.set_many({key: {"status": "healthy"}}, ttl_s=120)
    assert cache.backend == "redis"
    assert cache.get_many([key]) == {key: {"status": "healthy"}}
    ttl = redis.Redis.from_url(redis_url).ttl(key)
    assert 0 < ttl <= 120
    cache.delete([key])
    assert cache.get_many([key]) == {}
    cache.close()


def test_redis_going_down_falls_back_to_memory() -> None:
    server = start_redis()
    cache = RedisCache(server.url, timeout_s=0.3)
    cache.set_many({"k": {"v": 1}}, ttl_s=60)
    server.stop()
    # reads and writes keep working from the in-process cache, without raising
    assert cache.get_many(["k"]) == {"k": {"v": 1}}
    assert cache.backend == "memory"
    cache.set_many({"k2": {"v": 2}}, ttl_s=60)
    assert cache.get_many(["k2"]) == {"k2": {"v": 2}}
    cache.close()


def test_redis_unreachable_from_the_start() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0", timeout_s=0.3)
    cache.set_many({"k": {"v": 1}}, ttl_s=60)
    assert cache.get_many(["k"]) == {"k": {"v": 1}}


def test_publishing_without_redis_sends_nothing_and_never_raises() -> None:
    """Live views are a convenience: a Redis outage must not fail the tier run that publishes."""
    cache = RedisCache("redis://127.0.0.1:1/0", timeout_s=0.2)
    assert cache.publish("healthmon:status-changes", [{"service": "postgres"}]) == 0
    assert MemoryCache().publish("healthmon:status-changes", [{"service": "postgres"}]) == 0
