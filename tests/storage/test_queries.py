"""The read side shared by the API and the dashboard (storage/queries.py) and the write helpers
they call (threshold overrides, tenant enable/disable, alert notes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.storage.cache import MemoryCache, RedisCache
from healthmon.storage.crypto import Cipher
from healthmon.storage.db import make_engine
from healthmon.storage.queries import (
    MATRIX_KEY,
    Point,
    StaleRule,
    filter_cells,
    invalidate_views,
    latency_series,
    matrix_cells,
    platform_health,
    service_health,
    status_changes,
    tenant_health,
)
from healthmon.storage.results import record_results
from healthmon.storage.tenants import IntegrationInput, get_tenant, set_enabled, tenants_with, upsert_tenants
from healthmon.storage.thresholds import clear_override, list_overrides, set_override
from tests.support.app import AppFactory

NOW = datetime.now(UTC).replace(microsecond=0)


def res(
    service: str,
    tenant: str | None,
    status: Status,
    at: datetime = NOW,
    latency: float | None = 20.0,
    **d: object,
) -> CheckResult:
    tier = Tier.CRITICAL if service in ("postgres", "redis") else Tier.CORE
    return CheckResult(service, tenant, tier, status, latency, dict(d), at)


SEED = [
    res("postgres", None, Status.HEALTHY),
    res("shopify", "acme", Status.HEALTHY),
    res("shopify", "globex", Status.UNHEALTHY, reason="credentials rejected (HTTP 401)"),
    res("shopify", "initech", Status.DEGRADED, reason="latency_ms 2500 >= 2000"),
]


def test_matrix_views_and_filters(db_url: str) -> None:
    engine = make_engine(db_url)
    record_results(engine, SEED, "run-1")
    cache = MemoryCache()
    cells = matrix_cells(engine, cache)
    assert {(c.service, c.tenant, c.status) for c in cells} == {
        ("postgres", None, "healthy"),
        ("shopify", "acme", "healthy"),
        ("shopify", "globex", "unhealthy"),
        ("shopify", "initech", "degraded"),
    }
    globex = next(c for c in cells if c.tenant == "globex")
    assert globex.reason == "credentials rejected (HTTP 401)"
    assert globex.tier == "core" and globex.latency_ms == 20.0

    assert [c.tenant for c in filter_cells(cells, statuses=["unhealthy", "degraded"])] == [
        "globex",
        "initech",
    ]
    assert [c.service for c in filter_cells(cells, tiers=["critical"])] == ["postgres"]
    # the search matches part of a tenant id, case-insensitively, and never a platform row
    assert [c.tenant for c in filter_cells(cells, tenant_search="GLO")] == ["globex"]

    health = platform_health(engine, cache, ["postgres", "redis", "shopify"])
    assert health["status"] == "unhealthy"
    rows = {r["service"]: r for r in health["services"]}
    assert rows["shopify"]["status"] == "unhealthy" and rows["shopify"]["targets"] == 3
    assert rows["shopify"]["counts"]["degraded"] == 1
    # configured but never checked: shown as unknown, not left out
    assert rows["redis"] == {**rows["redis"], "status": "unknown", "targets": 0}

    detail = service_health(engine, cache, "shopify")
    assert {r.tenant_id: r.status for r in detail} == {
        "acme": Status.HEALTHY,
        "globex": Status.UNHEALTHY,
        "initech": Status.DEGRADED,
    }
    assert detail[1].details["reason"] == "credentials rejected (HTTP 401)"
    assert [r.service for r in tenant_health(engine, cache, "globex", ["shopify", "meta_ads"])] == ["shopify"]


def test_a_breach_recorded_by_another_process_shows_at_once(pg_url: str, redis_url: str) -> None:
    """Reader and writer hold separate Redis clients, as a dashboard and a tier run do."""
    engine = make_engine(pg_url)
    record_results(engine, SEED, "run-1")
    reader, writer = RedisCache(redis_url), RedisCache(redis_url)
    writer.delete([MATRIX_KEY])
    before = {c.tenant: c.status for c in matrix_cells(engine, reader)}
    assert before["acme"] == "healthy"
    assert reader.get_many([MATRIX_KEY])  # the view is cached now

    later = NOW + timedelta(minutes=5)
    record_results(engine, [res("shopify", "acme", Status.UNHEALTHY, at=later)], "run-2")
    invalidate_views(writer)  # what every writer does after recording (flows/pipeline.record_batch)
    after = {c.tenant: c.status for c in matrix_cells(engine, reader)}
    assert after["acme"] == "unhealthy"
    reader.close()
    writer.close()


def test_latency_series_and_status_changes() -> None:
    start = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    points = [Point(start + timedelta(minutes=i), "healthy", float(i + 1)) for i in range(20)]
    points[12] = Point(points[12].at, "unhealthy", None)
    series = latency_series(points, timedelta(minutes=10))
    assert [s["at"] for s in series] == [start, start + timedelta(minutes=10)]
    # nearest rank over 1..10, and over 11..20 without the missing 13 (5th of 9 is 16)
    assert (series[0]["p50"], series[0]["p95"], series[0]["checks"]) == (5.0, 10.0, 10)
    assert (series[1]["p50"], series[1]["p95"], series[1]["checks"]) == (16.0, 20.0, 9)
    assert status_changes(points) == [
        {"at": points[12].at, "from": "healthy", "to": "unhealthy"},
        {"at": points[13].at, "from": "unhealthy", "to": "healthy"},
    ]


def test_threshold_overrides_and_their_sources(db_url: str, make_app: AppFactory) -> None:
    runtime = make_app(
        db_url,
        {
            "services": {
                "stripe": {
                    "api_key": "sk_test",
                    "thresholds": {"latency_ms": {"degraded": 800, "unhealthy": 3000}},
                }
            }
        },
    )
    engine = runtime.engine
    effective = {r["metric"]: r for r in runtime.effective_thresholds("stripe")}
    assert effective["latency_ms"]["source"] == "config" and effective["latency_ms"]["degraded"] == 800
    assert effective["rate_limit_remaining_pct"]["source"] == "default"

    set_override(engine, "stripe", None, "latency_ms", 900, 4000, False, "ops")
    set_override(engine, "stripe", "acme", "latency_ms", 1200, None, False, "ops")
    set_override(engine, "stripe", "acme", "latency_ms", 1500, None, False, "ops")  # replaces
    assert len(list_overrides(engine, "stripe")) == 2
    service_wide = {r["metric"]: r for r in runtime.effective_thresholds("stripe")}
    assert (service_wide["latency_ms"]["source"], service_wide["latency_ms"]["degraded"]) == (
        "service override",
        900,
    )
    tenant = {r["metric"]: r for r in runtime.effective_thresholds("stripe", "acme")}
    assert (tenant["latency_ms"]["source"], tenant["latency_ms"]["degraded"]) == ("tenant override", 1500)

    assert clear_override(engine, "stripe", "acme", "latency_ms")
    assert not clear_override(engine, "stripe", "acme", "latency_ms")
    tenant = {r["metric"]: r for r in runtime.effective_thresholds("stripe", "acme")}
    assert tenant["latency_ms"]["source"] == "service override"


def test_disabled_tenants_are_not_checked(db_url: str) -> None:
    engine = make_engine(db_url)
    cipher = Cipher.from_setting("a-test-passphrase-long-enough")
    upsert_tenants(
        engine,
        cipher,
        [("acme", "Acme", True, {"shopify": IntegrationInput({"shop": "acme.myshopify.com"}, {"t": "x"})})],
    )
    assert tenants_with(engine, "shopify") == ["acme"]
    assert set_enabled(engine, "acme", False)
    assert tenants_with(engine, "shopify") == []
    info = get_tenant(engine, "acme")
    assert info is not None and not info.enabled
    assert not set_enabled(engine, "nobody", False)
    assert get_tenant(engine, "nobody") is None


@pytest.mark.parametrize("backend", ["memory"])
def test_matrix_view_is_rebuilt_after_invalidation(sqlite_url: str, backend: str) -> None:
    engine = make_engine(sqlite_url)
    cache = MemoryCache()
    record_results(engine, SEED[:2], "run-1")
    assert len(matrix_cells(engine, cache)) == 2
    record_results(engine, SEED[2:], "run-2")
    assert len(matrix_cells(engine, cache)) == 2  # served from the cached view
    invalidate_views(cache)
    assert len(matrix_cells(engine, cache)) == 4


def test_age_and_stale_are_judged_when_read_never_kept(sqlite_url: str) -> None:
    """The cached view may live seconds: each read judges its cells against `now`."""
    engine = make_engine(sqlite_url)
    at = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    record_results(
        engine, [res("postgres", None, Status.HEALTHY, at), res("stripe", None, Status.HEALTHY, at)]
    )
    cache = MemoryCache()

    def judged(seconds: float) -> dict[str, tuple[float, bool]]:
        cells = matrix_cells(engine, cache, now=at + timedelta(seconds=seconds))
        return {c.service: (c.age_s, c.stale) for c in cells}

    assert judged(60) == {"postgres": (60.0, False), "stripe": (60.0, False)}
    # the same cached entry, read later: postgres (critical, 2 x 60 s) is stale, stripe (core) not
    late = judged(121)
    assert late == {"postgres": (121.0, True), "stripe": (121.0, False)}
    assert [len(row) for row in cache.get_many([MATRIX_KEY])[MATRIX_KEY]["cells"]] == [8, 8]
    lenient = StaleRule(stale_after=3)
    assert not any(c.stale for c in matrix_cells(engine, cache, at + timedelta(seconds=121), lenient))


def test_master_status_counts_stale_and_missing_targets(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    at = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    record_results(
        engine,
        [
            res("postgres", None, Status.HEALTHY, at - timedelta(minutes=8)),
            res("shopify", "acme", Status.HEALTHY, at),
            # no longer expected (a disabled tenant): one fresh, one stale
            res("shopify", "initech", Status.DEGRADED, at, reason="latency"),
            res("shopify", "hooli", Status.UNHEALTHY, at - timedelta(days=1), reason="gone"),
        ],
    )
    expected = [("postgres", None), ("shopify", "acme"), ("shopify", "globex")]
    health = platform_health(engine, MemoryCache(), ["postgres", "shopify"], expected=expected, now=at)
    rows = {r["service"]: r for r in health["services"]}
    # postgres healthy 8 min ago: stale, so unknown rather than healthy
    assert (rows["postgres"]["status"], rows["postgres"]["stale"], rows["postgres"]["max_age_s"]) == (
        "unknown",
        1,
        480.0,
    )
    # shopify: globex missing; initech counts while fresh; hooli's day-old result does not
    assert rows["shopify"]["missing"] == 1 and rows["shopify"]["targets"] == 2
    assert rows["shopify"]["status"] == "degraded" and rows["shopify"]["stale"] == 0
    assert (health["status"], health["stale"], health["missing"], health["targets"]) == ("degraded", 1, 1, 3)

    fresh = [("shopify", "acme")]
    health = platform_health(engine, MemoryCache(), ["shopify"], expected=fresh, now=at)
    assert {r["service"] for r in health["services"]} == {"shopify"}  # stale postgres not expected
    assert health["status"] == "degraded"  # initech, fresh
    later = platform_health(engine, MemoryCache(), ["shopify"], expected=fresh, now=at + timedelta(hours=1))
    # an hour on: acme is stale (and counts), initech is stale too (and drops out)
    assert (later["status"], later["stale"], later["targets"]) == ("unknown", 1, 1)
