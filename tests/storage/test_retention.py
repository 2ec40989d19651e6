from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Engine, text

from healthmon.alerting import outbox
from healthmon.alerting.lifecycle import AlertChange, Decision
from healthmon.alerting.notification import Kind, Severity
from healthmon.flows import alerts as flow_alerts
from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.storage import alerts as store
from healthmon.storage.alerts import SqlAlertStore
from healthmon.storage.db import is_postgres, make_engine
from healthmon.storage.partitions import (
    DEFAULT_PARTITION,
    ensure_partitions,
    existing_partitions,
    partition_name,
)
from healthmon.storage.results import record_results
from healthmon.storage.retention import apply_retention, delete_old_history
from tests.support.app import AppFactory
from tests.support.rows import plant_history

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def rows_at(days_ago: int, n: int = 3, now: datetime = NOW) -> list[CheckResult]:
    at = now - timedelta(days=days_ago)
    return [CheckResult("shopify", f"t{i}", Tier.CORE, Status.HEALTHY, 1.0, {}, at) for i in range(n)]


def partitions_between(now: datetime, first_days_ago: int, last_days_ago: int) -> list[str]:
    """Daily partition names, oldest first, of the days `first_days_ago` to `last_days_ago` ago."""
    days = range(first_days_ago, last_days_ago - 1, -1)
    return [partition_name((now - timedelta(days=d)).date()) for d in days]


def history_count(engine: Engine, table: str = "health_check_history", where: str = "true") -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one())


def test_postgres_drops_whole_partitions(pg_url: str) -> None:
    engine = make_engine(pg_url)
    ensure_partitions(engine, today=NOW.date(), days_ahead=0, days_behind=40)
    for days_ago in (40, 35, 31, 29, 1):
        record_results(engine, rows_at(days_ago))
    report = apply_retention(engine, history_days=30, now=NOW)
    # the days 40 to 31 days ago, whole; their rows (40, 35 and 31 days ago) are counted
    assert report.partitions_dropped == partitions_between(NOW, 40, 31)
    assert (report.history_rows_deleted, report.future_rows_deleted) == (9, 0)
    assert history_count(engine) == 6  # 29 and 1 days ago are kept
    with engine.connect() as conn:
        days = sorted(existing_partitions(conn).values())
    assert days[0] == (NOW - timedelta(days=30)).date()
    assert (NOW + timedelta(days=7)).date() in days  # partitions a week ahead
    # running it again changes nothing
    again = apply_retention(engine, history_days=30, now=NOW)
    assert again.partitions_dropped == [] and again.partitions_created == []
    assert again.history_rows_deleted == 0


def test_rows_outside_the_kept_range_in_either_direction_are_removed_and_counted(db_url: str) -> None:
    engine = make_engine(db_url)
    postgres = is_postgres(engine)
    now = datetime.now(UTC)
    today = now.date()
    in_three_days = datetime.combine(today + timedelta(days=3), time(12), tzinfo=UTC)
    gap = now - timedelta(days=10)
    if postgres:
        ensure_partitions(engine, today=today, days_ahead=0, days_behind=40)
        with engine.begin() as conn:
            # days without a partition: rows of a day ahead (a partition retention creates
            # again) and of a day in the kept range (left while retention did not run)
            for day in (in_three_days.date(), gap.date()):
                conn.execute(text(f"DROP TABLE {partition_name(day)}"))
    for days_ago in (40, 35, 31, 29, 1):
        record_results(engine, rows_at(days_ago, now=now))
    # rows no partition covers, from writers whose clocks were far off
    plant_history(engine, "shopify", [now - timedelta(days=400)] * 4)
    plant_history(engine, "shopify", [now + timedelta(days=400), now + timedelta(days=9)])
    plant_history(engine, "shopify", [in_three_days] * 2 + [gap])
    if postgres:
        assert history_count(engine, DEFAULT_PARTITION) == 4 + 2 + 3

    report = apply_retention(engine, history_days=30, now=now)
    # 9 rows older than the cutoff, 4 far in the past, 2 after the last day partitioned
    assert (report.history_rows_deleted, report.future_rows_deleted) == (9 + 4 + 2, 2)
    keep_from = datetime.combine((now - timedelta(days=30)).date(), time(), tzinfo=UTC)
    keep_until = datetime.combine(today + timedelta(days=8), time(), tzinfo=UTC)
    with engine.connect() as conn:
        outside = conn.execute(
            text("SELECT count(*) FROM health_check_history WHERE checked_at < :a OR checked_at >= :b"),
            {"a": keep_from, "b": keep_until},
        ).scalar_one()
    assert outside == 0
    assert history_count(engine) == 6 + 3  # 29 and 1 days ago, the two in three days, the gap
    if postgres:
        assert report.partitions_dropped == partitions_between(now, 40, 31)
        # the future rows in the default did not block the day's partition; its rows moved in
        assert partition_name(in_three_days.date()) in report.partitions_created
        assert history_count(engine, partition_name(in_three_days.date())) == 2
        assert history_count(engine, DEFAULT_PARTITION) == 1  # the gap day is kept
    else:
        assert report.partitions_dropped == [] and report.partitions_created == []
    again = apply_retention(engine, history_days=30, now=now)
    assert (again.history_rows_deleted, again.partitions_dropped) == (0, [])


def test_sqlite_deletes_in_bounded_batches(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    record_results(engine, rows_at(45, n=25))
    record_results(engine, rows_at(2, n=4))
    assert delete_old_history(engine, NOW - timedelta(days=30), batch=10) == 25
    assert history_count(engine) == 4
    assert apply_retention(engine, history_days=1, now=NOW).history_rows_deleted == 4


def test_resolved_alerts_and_their_deliveries_expire(db_url: str) -> None:
    engine = make_engine(db_url)

    def alert(sig: str, at: datetime) -> int:
        decision = Decision(
            changes=[AlertChange(sig, "redis", None, "health", Severity.P1, sig, {})],
            notify=[(sig, Kind.TRIGGER)],
        )
        flow_alerts.apply_decision(engine, decision, lambda *_: ["webhook"], at)
        return int(store.list_alerts(engine)[0]["id"])

    old = alert("old", NOW - timedelta(days=120))
    outbox.resolve(SqlAlertStore(engine), old, "x", NOW - timedelta(days=100), lambda *_: [])
    recent = alert("recent", NOW - timedelta(days=20))
    outbox.resolve(SqlAlertStore(engine), recent, "x", NOW - timedelta(days=10), lambda *_: [])
    alert("open", NOW - timedelta(days=200))
    report = apply_retention(engine, alerts_days=90, now=NOW)
    assert report.alerts_deleted == 1
    assert sorted(a["signature"] for a in store.list_alerts(engine, None)) == ["open", "recent"]
    assert all(d["alert_id"] != old for d in store.deliveries_of(engine))


async def test_the_retention_flow_reports_what_it_removed(db_url: str, make_app: AppFactory) -> None:
    from healthmon.flows.housekeeping import retention

    runtime = make_app(db_url, {})
    now = datetime.now(UTC)
    plant_history(runtime.engine, "shopify", [now - timedelta(days=400)] * 3 + [now + timedelta(days=30)])
    record_results(runtime.engine, rows_at(1, now=now))
    report = await retention.fn()
    assert (report["history_rows_deleted"], report["future_rows_deleted"]) == (4, 1)
    assert history_count(runtime.engine) == 3
    # the uptime rollup caught up from the day-old results to the last complete hour, once
    assert report["uptime_hours_rolled"] >= 22
    assert history_count(runtime.engine, "uptime_rollups") == report["uptime_hours_rolled"]
    assert (await retention.fn())["uptime_hours_rolled"] == 0
