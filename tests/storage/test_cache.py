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


def test_a_batch_is_written_in_one_script_with_every_value_and_the_ttl(redis_url: str) -> None:
    cache = RedisCache(redis_url)
    prefix = f"healthmon:test:{uuid.uuid4().hex}"
    entries = {f"{prefix}:{i}": {"status": "healthy", "n": i, "reason": "é 'quoted'"} for i in range(500)}
    cache.set_many(entries, ttl_s=90)
    client = redis.Redis.from_url(redis_url)
    assert cache.backend == "redis"
    assert cache.get_many(list(entries)) == entries
    assert all(0 < client.ttl(key) <= 90 for key in entries)
    cache.delete(list(entries))
    cache.close()


def test_a_server_that_refuses_scripts_gets_pipelined_sets() -> None:
    server = start_redis()
    try:
        admin = redis.Redis.from_url(server.url)
        # an operator's ACL without scripting, as some managed Redis services have
        admin.execute_command("ACL", "SETUSER", "noscript", "on", ">pw", "~*", "+@all", "-@scripting")
        url = server.url.replace("redis://", "redis://noscript:pw@", 1)
        cache = RedisCache(url)
        cache.set_many({"a": {"v": 1}, "b": {"v": 2}}, ttl_s=60)
        cache.set_many({"c": {"v": 3}}, ttl_s=60)
        assert cache.backend == "redis" and cache._scripts is False  # the pipeline wrote these
        assert [admin.get(k) for k in ("a", "b", "c")] == [b'{"v":1}', b'{"v":2}', b'{"v":3}']
        assert 0 < admin.ttl("c") <= 60
        cache.close()
    finally:
        server.stop()
