from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.storage.cache import MemoryCache, cache_key
from healthmon.storage.crypto import Cipher, CredentialError
from healthmon.storage.db import make_engine
from healthmon.storage.migrate import current_revision, head_revision
from healthmon.storage.partitions import (
    create_partition,
    ensure_partitions,
    existing_partitions,
    partition_name,
)
from healthmon.storage.results import record_results, run_results
from healthmon.storage.status import cache_entries, current_status, load_latest
from healthmon.storage.tenants import (
    IntegrationInput,
    list_tenants,
    load_integration,
    remove_tenant,
    tenants_with,
    upsert_tenants,
)

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def res(service: str, tenant: str | None, status: Status, at: datetime, **details: object) -> CheckResult:
    return CheckResult(service, tenant, Tier.CORE, status, 12.5, dict(details), at)


def test_migrated_to_head(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision() is not None
    with engine.connect() as conn:
        for table in (
            "tenants",
            "health_check_history",
            "service_status",
            "alert_thresholds",
            "platform_alerts",
            "alert_deliveries",
            "silences",
            "tier_runs",
        ):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0


def test_results_reach_history_and_latest_status(db_url: str) -> None:
    engine = make_engine(db_url)
    first = [res("shopify", f"t{i}", Status.HEALTHY, T0, n=i) for i in range(300)]
    record_results(engine, first, run_id="run-1")
    second = [
        res("shopify", "t0", Status.UNHEALTHY, T0 + timedelta(minutes=5), reason="401"),
        res("shopify", "t1", Status.HEALTHY, T0 + timedelta(minutes=5)),
    ]
    record_results(engine, second, run_id="run-2")

    assert len(run_results(engine, ["run-1"])) == 300
    latest = load_latest(engine, ["shopify"])
    assert len(latest) == 300
    t0, t1 = latest[("shopify", "t0")], latest[("shopify", "t1")]
    assert t0.status is Status.UNHEALTHY and t0.details == {"reason": "401"}
    assert t0.since == T0 + timedelta(minutes=5)  # changed: since moves
    assert t1.since == T0 and t1.checked_at == T0 + timedelta(minutes=5)  # unchanged: since stays
    with engine.connect() as conn:
        prev = conn.execute(
            text("SELECT previous_status FROM service_status WHERE tenant_id = 't0'")
        ).scalar()
    assert prev == "healthy"


def test_a_late_writer_does_not_overwrite_a_newer_result(db_url: str) -> None:
    engine = make_engine(db_url)
    record_results(engine, [res("redis", None, Status.UNHEALTHY, T0 + timedelta(minutes=1))], "new")
    record_results(engine, [res("redis", None, Status.HEALTHY, T0)], "old")
    assert load_latest(engine, ["redis"])[("redis", None)].status is Status.UNHEALTHY
    assert len(run_results(engine, ["new", "old"])) == 2  # history keeps both


def test_platform_and_tenant_rows_do_not_collide(db_url: str) -> None:
    engine = make_engine(db_url)
    record_results(engine, [res("stripe", None, Status.HEALTHY, T0), res("stripe", "a", Status.DEGRADED, T0)])
    latest = load_latest(engine, ["stripe"])
    assert latest[("stripe", None)].status is Status.HEALTHY
    assert latest[("stripe", "a")].status is Status.DEGRADED


def test_reads_go_to_the_cache_first_then_the_table(db_url: str) -> None:
    engine = make_engine(db_url)
    record_results(
        engine, [res("redis", None, Status.HEALTHY, T0), res("postgres", None, Status.HEALTHY, T0)]
    )
    cache = MemoryCache()
    breached = res("redis", None, Status.UNHEALTHY, T0 + timedelta(seconds=30), reason="refused")
    cache.set_many(cache_entries([breached]), ttl_s=30)
    found = current_status(engine, cache, [("redis", None), ("postgres", None), ("mux", None)])
    assert found[("redis", None)].status is Status.UNHEALTHY  # from the cache
    assert found[("postgres", None)].status is Status.HEALTHY  # from service_status
    assert ("mux", None) not in found


def test_tenant_credentials_are_encrypted_at_rest(db_url: str) -> None:
    engine = make_engine(db_url)
    cipher = Cipher(["k" * 32])
    shop = IntegrationInput(public={"shop": "acme.myshopify.com"}, secret={"access_token": "shpat_SECRET123"})
    upsert_tenants(
        engine, cipher, [("acme", "Acme", True, {"shopify": shop}), ("off", "Off", False, {"shopify": shop})]
    )
    with engine.connect() as conn:
        raw = " ".join(str(v) for v in conn.execute(text("SELECT * FROM tenants")).all())
    assert "shpat_SECRET123" not in raw and "acme.myshopify.com" in raw
    assert load_integration(engine, cipher, "shopify", ["acme"]) == {
        "acme": {"shop": "acme.myshopify.com", "access_token": "shpat_SECRET123"}
    }
    assert tenants_with(engine, "shopify") == ["acme"]  # disabled tenants are not checked
    assert [t.id for t in list_tenants(engine)] == ["acme", "off"]
    with pytest.raises(CredentialError, match="cannot be decrypted"):
        load_integration(engine, Cipher(["other-key-other-key"]), "shopify", ["acme"])
    # rotation: a new first key encrypts, the old one still decrypts
    rotated = Cipher(["new-key-new-key-new", "k" * 32])
    assert load_integration(engine, rotated, "shopify", ["acme"])["acme"]["access_token"] == "shpat_SECRET123"
    assert remove_tenant(engine, "acme") and not remove_tenant(engine, "acme")


def test_history_partitions_on_postgres(pg_url: str) -> None:
    engine = make_engine(pg_url)
    # a past day: record_results moves a result from the future to the store's time
    far = date(2020, 1, 15)
    at = datetime(2020, 1, 15, 8, tzinfo=UTC)
    # a day without a partition lands in the default partition: nothing is rejected
    record_results(engine, [res("redis", None, Status.HEALTHY, at)], "r")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM health_check_history_default")).scalar() == 1
        # creating that day's partition moves the row out of the default
        assert create_partition(conn, far)
        assert partition_name(far) in existing_partitions(conn)
        assert conn.execute(text("SELECT count(*) FROM health_check_history_default")).scalar() == 0
        assert conn.execute(text(f"SELECT count(*) FROM {partition_name(far)}")).scalar() == 1
    created = ensure_partitions(engine, today=far, days_ahead=2, days_behind=0)
    assert created == [partition_name(far + timedelta(days=1)), partition_name(far + timedelta(days=2))]
    assert ensure_partitions(engine, today=far, days_ahead=2, days_behind=0) == []


def test_memory_cache_expires() -> None:
    now = [100.0]
    cache = MemoryCache(clock=lambda: now[0])
    cache.set_many({"a": {"x": 1}}, ttl_s=30)
    assert cache.get_many(["a"]) == {"a": {"x": 1}}
    now[0] += 30
    assert cache.get_many(["a"]) == {}
    assert cache_key("shopify", None) == "healthmon:status:shopify:-"


def test_streaks_and_flips_are_kept_by_the_upsert(db_url: str) -> None:
    engine = make_engine(db_url)
    seq = [Status.HEALTHY, Status.HEALTHY, Status.UNHEALTHY, Status.HEALTHY, Status.HEALTHY, Status.HEALTHY]
    for i, status in enumerate(seq):
        record_results(engine, [res("redis", None, status, T0 + timedelta(minutes=i))], flap_window_s=600)
    latest = load_latest(engine, ["redis"])[("redis", None)]
    assert latest.consecutive == 3 and latest.flips == 2
    # after the window, the flip count starts again
    record_results(engine, [res("redis", None, Status.DEGRADED, T0 + timedelta(hours=2))], flap_window_s=600)
    latest = load_latest(engine, ["redis"])[("redis", None)]
    assert latest.consecutive == 1 and latest.flips == 1
