"""record_results on PostgreSQL writes history and latest status with binary COPY: every
column type comes back as it went in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.storage.db import make_engine
from healthmon.storage.results import history, record_results
from healthmon.storage.status import load_latest

AT = datetime.now(UTC).replace(microsecond=123456) - timedelta(minutes=5)

DETAILS = {
    "reason": "naïve ünïcode — ok",
    "http_status": 200,
    "ratio": 0.125,
    "confirmed": True,
    "missing": None,
    "nested": {"list": [1, "two", 3.5, False, None], "empty": {}},
    "quote": 'he said "no" \\ back\nslash',
    "big": 2**70,
    "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
}


def test_every_column_round_trips_through_binary_copy(pg_url: str) -> None:
    engine = make_engine(pg_url)
    results = [
        CheckResult("shopify", "t-1", Tier.CORE, Status.DEGRADED, 51.25, DETAILS, AT),
        CheckResult("postgres", None, Tier.CRITICAL, Status.UNKNOWN, None, {}, AT),
        # an int latency, as some monitors report
        CheckResult("stripe", None, Tier.CORE, Status.HEALTHY, 7, {"http_status": 200}, AT),
    ]
    recorded = record_results(engine, results, run_id="run-copy-1")
    assert recorded == results
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT checked_at, service, tenant_id, tier, status, latency_ms, details, run_id "
                "FROM health_check_history ORDER BY service"
            )
        ).all()
    by_service = {r.service: r for r in rows}
    shop = by_service["shopify"]
    assert (shop.tenant_id, shop.tier, shop.status, shop.latency_ms, shop.run_id) == (
        "t-1", "core", "degraded", 51.25, "run-copy-1"
    )
    assert shop.checked_at == AT
    # details as json.dumps(..., default=str) would have written them
    assert shop.details == {**DETAILS, "when": "2026-01-02 03:04:05+00:00"}
    assert by_service["postgres"].tenant_id is None and by_service["postgres"].latency_ms is None
    assert by_service["postgres"].details == {}
    assert by_service["stripe"].latency_ms == 7.0
    assert [r.details for r in history(engine, "shopify", "t-1", AT - timedelta(seconds=1))] == [
        shop.details
    ]

    latest = load_latest(engine)
    first = latest[("shopify", "t-1")]
    assert (first.status, first.latency_ms, first.checked_at, first.since) == (
        Status.DEGRADED, 51.25, AT, AT
    )
    assert (first.consecutive, first.flips, first.previous_status, first.run_id) == (1, 0, None, "run-copy-1")
    assert first.details == shop.details
    assert latest[("postgres", None)].latency_ms is None

    # the upsert half (COPY into the temporary table, then INSERT ... ON CONFLICT) moves streaks
    later = AT + timedelta(minutes=1)
    record_results(
        engine, [CheckResult("shopify", "t-1", Tier.CORE, Status.HEALTHY, 3.0, {"n": 1}, later)], "run-copy-2"
    )
    second = load_latest(engine)[("shopify", "t-1")]
    assert (second.status, second.previous_status, second.since, second.consecutive) == (
        Status.HEALTHY, "degraded", later, 1
    )
    assert second.details == {"n": 1} and second.run_id == "run-copy-2"
