from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from alerting.lifecycle import AlertChange, Decision
from alerting.notification import Kind, Severity
from monitors.result import CheckResult, Status, Tier
from storage import alerts as store
from storage.db import make_engine
from storage.partitions import ensure_partitions, existing_partitions, partition_name
from storage.results import record_results
from storage.retention import apply_retention, delete_old_history

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def rows_at(days_ago: int, n: int = 3) -> list[CheckResult]:
    at = NOW - timedelta(days=days_ago)
    return [CheckResult("shopify", f"t{i}", Tier.CORE, Status.HEALTHY, 1.0, {}, at) for i in range(n)]


def history_count(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(text("SELECT count(*) FROM health_check_history")).scalar_one())


def test_postgres_drops_whole_partitions(pg_url: str) -> None:
    engine = make_engine(pg_url)
    ensure_partitions(engine, today=NOW.date(), days_ahead=0, days_behind=40)
    for days_ago in (40, 35, 31, 29, 1):
        record_results(engine, rows_at(days_ago))
    report = apply_retention(engine, history_days=30, now=NOW)
    assert partition_name((NOW - timedelta(days=40)).date()) in report.partitions_dropped
    assert partition_name((NOW - timedelta(days=30)).date()) not in report.partitions_dropped
    assert history_count(engine) == 6  # 29 and 1 days ago are kept
    with engine.connect() as conn:
        days = sorted(existing_partitions(conn).values())
    assert days[0] == (NOW - timedelta(days=30)).date()
    assert (NOW + timedelta(days=7)).date() in days  # partitions a week ahead
    # running it again changes nothing
    again = apply_retention(engine, history_days=30, now=NOW)
    assert again.partitions_dropped == [] and again.partitions_created == []


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
        store.apply_decision(engine, decision, lambda *_: ["webhook"], at)
        return int(store.list_alerts(engine)[0]["id"])

    old = alert("old", NOW - timedelta(days=120))
    store.resolve(engine, old, "x", NOW - timedelta(days=100), lambda *_: [])
    recent = alert("recent", NOW - timedelta(days=20))
    store.resolve(engine, recent, "x", NOW - timedelta(days=10), lambda *_: [])
    alert("open", NOW - timedelta(days=200))
    report = apply_retention(engine, alerts_days=90, now=NOW)
    assert report.alerts_deleted == 1
    assert sorted(a["signature"] for a in store.list_alerts(engine, None)) == ["open", "recent"]
    assert all(d["alert_id"] != old for d in store.deliveries_of(engine))
