"""A cache write that fails never leaves an older status served (issue 10, point 5).

The writer's Redis does not answer (a server that accepts connections and never replies, as a
stalled Redis does), so its cache write and its view invalidation fail while the database
takes the newer result; the readers' Redis still holds the older entry, with the external
tier's TTL. A reader with its own cache object must return the newer status within a few
seconds (the matrix view's life), not after the entry's TTL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from fastapi.testclient import TestClient

from healthmon.api.app import create_app
from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.storage.cache import RedisCache, StatusCache, cache_key
from healthmon.storage.db import make_engine
from healthmon.storage.queries import (
    MATRIX_KEY,
    MATRIX_TTL_S,
    invalidate_views,
    service_health,
    tenant_health,
)
from healthmon.storage.results import record_results
from healthmon.storage.status import cache_entries, current_status
from tests.api.conftest import CONFIG, READ, TOKENS
from tests.support.app import AppFactory
from tests.support.hang import HangingServer
from tests.support.waiting import wait_until

#: the external tier's TTL: what a failed write would leave the older entry served for
EXTERNAL_TTL_S = 600
KEYS = [cache_key("stripe", None), cache_key("shopify", "acme"), MATRIX_KEY]


def result(service: str, tenant: str | None, status: Status, at: datetime) -> CheckResult:
    details = {} if status is Status.HEALTHY else {"reason": "HTTP 503"}
    return CheckResult(service, tenant, Tier.CORE, status, 50.0, details, at)


def record(engine_url: str, cache: StatusCache, results: list[CheckResult]) -> None:
    """What a tier run's record step does: the store, then the cache, then the views."""
    engine = make_engine(engine_url)
    record_results(engine, results, run_id=None)
    cache.set_many(cache_entries(results), EXTERNAL_TTL_S)
    invalidate_views(cache)
    engine.dispose()


@pytest.fixture
def shared_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.delete(*KEYS)
    yield client
    client.delete(*KEYS)
    client.close()


@pytest.fixture
def stalled() -> Iterator[RedisCache]:
    """A writer's cache whose Redis accepts and never answers."""
    server = HangingServer()
    cache = RedisCache(f"redis://127.0.0.1:{server.port}/0", timeout_s=0.3)
    yield cache
    cache.close()
    server.close()


def cached_status(client: redis.Redis, key: str) -> str | None:
    raw = client.get(key)
    return None if raw is None else str(json.loads(raw)["status"])


def test_a_failed_write_does_not_leave_the_older_entry_served(
    pg_url: str, redis_url: str, shared_redis: redis.Redis, stalled: RedisCache
) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    first = RedisCache(redis_url)
    record(pg_url, first, [result("stripe", None, Status.HEALTHY, before)])
    first.close()

    reader = RedisCache(redis_url)
    engine = make_engine(pg_url)
    assert [r.status for r in service_health(engine, reader, "stripe")] == [Status.HEALTHY]
    assert shared_redis.get(MATRIX_KEY) is not None  # the view is cached too now

    # Stripe turns unhealthy; the writer's Redis is stalled: only the store takes it
    record(pg_url, stalled, [result("stripe", None, Status.UNHEALTHY, before + timedelta(seconds=30))])
    assert stalled.backend == "memory"  # its write failed
    assert cached_status(shared_redis, cache_key("stripe", None)) == "healthy"
    assert shared_redis.ttl(cache_key("stripe", None)) > MATRIX_TTL_S

    def newer() -> bool:
        return [r.status for r in service_health(engine, reader, "stripe")] == [Status.UNHEALTHY]

    wait_until(newer, 30, "the reader to show the status recorded while the cache write failed")
    # the older entry is still in Redis, and still not served
    assert cached_status(shared_redis, cache_key("stripe", None)) == "healthy"
    found = service_health(engine, reader, "stripe")
    assert [(r.status, r.reason) for r in found] == [(Status.UNHEALTHY, "HTTP 503")]
    reader.close()
    engine.dispose()


def test_the_api_serves_the_newer_status_after_a_failed_write(
    pg_url: str,
    redis_url: str,
    shared_redis: redis.Redis,
    stalled: RedisCache,
    make_app: AppFactory,
) -> None:
    """The observed case: `GET /api/platform/health/stripe` served the old entry for 121 s."""
    runtime = make_app(pg_url, CONFIG, redis_url=redis_url)
    assert runtime.cache.backend == "redis"
    before = datetime.now(UTC) - timedelta(minutes=1)
    record(pg_url, runtime.cache, [result("stripe", None, Status.HEALTHY, before)])
    with TestClient(create_app(runtime, TOKENS)) as http:

        def stripe() -> list[str]:
            body = http.get("/api/platform/health/stripe", headers=READ).json()
            return [t["status"] for t in body["targets"]]

        assert stripe() == ["healthy"]
        record(pg_url, stalled, [result("stripe", None, Status.UNHEALTHY, before + timedelta(seconds=30))])
        assert cached_status(shared_redis, cache_key("stripe", None)) == "healthy"
        wait_until(lambda: stripe() == ["unhealthy"], 30, "the API to serve the newer stripe status")


def test_cached_entries_are_checked_against_what_is_recorded(
    pg_url: str, redis_url: str, shared_redis: redis.Redis
) -> None:
    """The rule itself, without waiting: an entry older than the known latest result is read
    from service_status; one as new or newer (written before the view caught up) is served."""
    engine = make_engine(pg_url)
    cache = RedisCache(redis_url)
    at = datetime.now(UTC) - timedelta(minutes=1)
    later = at + timedelta(seconds=30)
    record_results(engine, [result("shopify", "acme", Status.UNHEALTHY, later)], run_id=None)
    key = ("shopify", "acme")
    cache.set_many(cache_entries([result("shopify", "acme", Status.HEALTHY, at)]), EXTERNAL_TTL_S)

    assert current_status(engine, cache, [key])[key].status is Status.HEALTHY  # nothing to compare
    assert current_status(engine, cache, [key], not_before={key: later})[key].status is Status.UNHEALTHY
    assert current_status(engine, cache, [key], not_before={key: at})[key].status is Status.HEALTHY

    # through the view: as soon as it is rebuilt from service_status, the old entry is passed over
    invalidate_views(cache)
    assert [r.status for r in tenant_health(engine, cache, "acme", ["shopify"])] == [Status.UNHEALTHY]
    assert [r.status for r in service_health(engine, cache, "shopify")] == [Status.UNHEALTHY]
    cache.close()
    engine.dispose()
