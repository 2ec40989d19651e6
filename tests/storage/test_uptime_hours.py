"""The hourly uptime rollup (storage/uptime_hours.py) and the tally that reads it, on SQLite and
PostgreSQL: the same figures as reading history alone, hours rolled up once, safe when two
rollers race, other caps read from history, and retention taking the rollup with history."""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from healthmon.alerting.silences import SilenceView
from healthmon.alerting.slo import silenced_periods
from healthmon.monitors.result import TIERS, Status, TargetKey, Tier
from healthmon.storage.db import make_engine
from healthmon.storage.retention import apply_retention
from healthmon.storage.tables import UPTIME_HOURS, UPTIME_ROLLUPS
from healthmon.storage.uptime import FEW_TARGETS, Span, Tally, tally, tally_from_history
from healthmon.storage.uptime_hours import complete_until, roll_up, rolled_hours
from tests.support.history import write_history

H, D, U, X = Status.HEALTHY, Status.DEGRADED, Status.UNHEALTHY, Status.UNKNOWN
#: not on an hour: spans and now cut hours
T0 = datetime(2026, 11, 2, 6, 17, 31, 250000, tzinfo=UTC)
STALE_AFTER = 2.0
#: one service per tier, a platform target and tenants, so every cap is exercised
SERVICES = {"svc_critical": Tier.CRITICAL, "svc_core": Tier.CORE, "svc_integration": Tier.INTEGRATION}
TENANTS: list[str | None] = [None, "acme", "globex", "initech"]


@pytest.fixture
def engine(db_url: str) -> Engine:
    return make_engine(db_url)


def random_history(rng: random.Random, service: str, tier: Tier, hours: float) -> list[dict[str, Any]]:
    """Results at roughly the tier's interval with gaps longer than the cap (stale stretches),
    unknown results, and bursts closer than the interval."""
    interval = TIERS[tier].interval_s
    rows: list[dict[str, Any]] = []
    for tenant in TENANTS:
        at = T0 + timedelta(seconds=rng.uniform(0, interval))
        while at < T0 + timedelta(hours=hours):
            status = rng.choices([H, D, U, X], weights=[6, 1, 2, 1])[0]
            rows.append(
                {
                    "checked_at": at,
                    "service": service,
                    "tenant_id": tenant,
                    "tier": tier.value,
                    "status": status.value,
                    "latency_ms": 1.0,
                    "details": {},
                }
            )
            step = interval * rng.choice([0.3, 1.0, 1.0, 1.0, 1.4, 4.0, 9.0])
            at += timedelta(seconds=step + rng.uniform(0, 7.5))
    return rows


def random_spans(rng: random.Random, now: datetime) -> dict[str, Span]:
    spans: dict[str, Span] = {
        "24h": (now - timedelta(hours=24), now),
        "6h": (now - timedelta(hours=6), now),
        "5m": (now - timedelta(minutes=5), now),
        "before_history": (T0 - timedelta(hours=2), T0 + timedelta(hours=3, minutes=10)),
    }
    for i in range(4):
        start = T0 + timedelta(seconds=rng.uniform(-3600, (now - T0).total_seconds()))
        spans[f"r{i}"] = (start, min(now, start + timedelta(seconds=rng.uniform(60, 12 * 3600))))
    return spans


def silences(now: datetime) -> list[SilenceView]:
    return [
        # service-wide, ended early: only until ended_at
        SilenceView(1, None, None, T0 + timedelta(hours=5, minutes=10), now, None, T0 + timedelta(hours=6)),
        # one tenant
        SilenceView(2, None, "acme", T0 + timedelta(hours=9, minutes=40), T0 + timedelta(hours=12)),
        # daily 02:30-03:15 for every target of svc_core
        SilenceView(3, "svc_core", None, T0 - timedelta(days=1), now, {"start": "02:30", "duration_min": 45}),
    ]


def assert_same(
    hybrid: Mapping[TargetKey, Mapping[str, Tally]], raw: Mapping[TargetKey, Mapping[str, Tally]]
) -> None:
    assert hybrid.keys() == raw.keys()
    for key, per in raw.items():
        assert hybrid[key].keys() == per.keys()
        for name, expected in per.items():
            got = hybrid[key][name]
            assert got.up_s == pytest.approx(expected.up_s, abs=1e-6), (key, name)
            assert got.down_s == pytest.approx(expected.down_s, abs=1e-6), (key, name)


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_the_rollup_gives_the_figures_of_history_alone(engine: Engine) -> None:
    rng = random.Random(13)
    hours = 30.0
    for service, tier in SERVICES.items():
        write_history(engine, random_history(rng, service, tier, hours))
    # asked at moments while history grows (each rolls up what became complete), then back in time
    moments = [T0 + timedelta(hours=h, seconds=rng.uniform(0, 3599)) for h in (8, 19, 30, 31)]
    moments.append(T0 + timedelta(hours=14, minutes=3))
    for i, now in enumerate(moments):
        if i % 2:
            # what a call rolls up is bounded: every other moment, everything complete is
            roll_up(engine, SERVICES, now, STALE_AFTER, since=T0 - timedelta(hours=2))
        spans = random_spans(rng, now)
        for service in SERVICES:
            silenced = silenced_periods(silences(now), service, T0 - timedelta(hours=2), now)
            # tenants without history pad the list past FEW_TARGETS, which history alone serves
            for tenant_ids in (None, ["acme", None, *(f"absent{i}" for i in range(FEW_TARGETS))]):
                hybrid = tally(engine, service, spans, now, STALE_AFTER, silenced, tenant_ids)
                raw = tally_from_history(engine, service, spans, now, STALE_AFTER, silenced, tenant_ids)
                assert_same(hybrid, raw)
    # the rollup was used: every complete hour of the history is rolled up by now
    assert count(engine, UPTIME_ROLLUPS) >= len(SERVICES) * 25
    assert count(engine, UPTIME_HOURS) > 0


def test_a_call_rolls_up_at_most_its_budget_and_reads_the_rest_from_history(engine: Engine) -> None:
    rng = random.Random(5)
    write_history(engine, random_history(rng, "svc_core", Tier.CORE, 12))
    now = T0 + timedelta(hours=12, minutes=30)
    spans = {"all": (T0, now), "edge": (T0 + timedelta(minutes=50), T0 + timedelta(hours=7, seconds=10))}
    usable = rolled_hours(engine, "svc_core", T0, now, STALE_AFTER, budget_hours=3).usable
    # the newest three complete hours
    newest = complete_until(now, STALE_AFTER)
    assert sorted(usable) == [newest - timedelta(hours=h) for h in (3, 2, 1)]
    assert_same(
        tally(engine, "svc_core", spans, now, STALE_AFTER),
        tally_from_history(engine, "svc_core", spans, now, STALE_AFTER),
    )


def regular(service: str, tier: Tier, tenant: str | None, start: datetime, n: int) -> list[dict[str, Any]]:
    step = timedelta(seconds=TIERS[tier].interval_s)
    return [
        {
            "checked_at": start + i * step,
            "service": service,
            "tenant_id": tenant,
            "tier": tier.value,
            "status": H.value,
            "latency_ms": 1.0,
            "details": {},
        }
        for i in range(n)
    ]


def test_rolled_hours_are_not_recomputed(engine: Engine) -> None:
    for tenant in TENANTS:
        write_history(engine, regular("svc_core", Tier.CORE, tenant, T0, 12 * 11))
    now = T0 + timedelta(hours=10)
    first = roll_up(engine, "svc_core", now, STALE_AFTER)
    # 06:00 (the oldest result's hour) to 15:00, the hour before now less the largest cap (1 h)
    assert first == 9
    rows, markers = count(engine, UPTIME_HOURS), count(engine, UPTIME_ROLLUPS)
    assert (rows, markers) == (9 * len(TENANTS), 9)
    with engine.connect() as conn:
        stamps = sorted(conn.execute(select(UPTIME_ROLLUPS.c.rolled_at)).scalars())
    assert roll_up(engine, ["svc_core"], now, STALE_AFTER) == 0
    spans = {"all": (T0, now)}
    tally(engine, "svc_core", spans, now, STALE_AFTER)
    # one hour later exactly one more hour is complete
    assert roll_up(engine, "svc_core", now + timedelta(hours=1), STALE_AFTER) == 1
    assert count(engine, UPTIME_ROLLUPS) == markers + 1
    with engine.connect() as conn:
        assert sorted(conn.execute(select(UPTIME_ROLLUPS.c.rolled_at)).scalars())[:markers] == stamps


def test_two_rollers_at_once_write_each_hour_once(engine: Engine) -> None:
    write_history(engine, random_history(random.Random(11), "svc_integration", Tier.INTEGRATION, 30))
    now = T0 + timedelta(hours=31)
    done: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def roll() -> None:
        try:
            start.wait()
            done.append(roll_up(engine, "svc_integration", now, STALE_AFTER))
        except BaseException as exc:  # the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=roll) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    markers = count(engine, UPTIME_ROLLUPS)
    # 06:00 (the oldest result's hour) to 12:00 the next day, the hour before now less the cap
    assert sum(done) == markers == 30
    with engine.connect() as conn:
        distinct = conn.execute(
            select(func.count()).select_from(
                select(UPTIME_HOURS.c.tenant_id, UPTIME_HOURS.c.hour).distinct().subquery()
            )
        ).scalar_one()
    assert distinct == count(engine, UPTIME_HOURS)
    spans = {"all": (T0, now)}
    assert_same(
        tally(engine, "svc_integration", spans, now, STALE_AFTER),
        tally_from_history(engine, "svc_integration", spans, now, STALE_AFTER),
    )


def test_other_caps_read_history_and_leave_the_rollup_alone(engine: Engine) -> None:
    write_history(engine, random_history(random.Random(3), "svc_core", Tier.CORE, 10))
    now = T0 + timedelta(hours=10, minutes=20)
    assert roll_up(engine, "svc_core", now, STALE_AFTER) > 0
    rolled = rolled_hours(engine, "svc_core", T0, now, STALE_AFTER).usable
    spans = {"all": (T0, now), "late": (T0 + timedelta(hours=4, minutes=5), now)}
    for stale_after, scale in ((3.0, 1.0), (STALE_AFTER, 0.5)):
        # hours rolled up with other caps are not used (a shorter cap completes one more hour,
        # which is rolled up with the caller's caps)
        assert rolled_hours(engine, "svc_core", T0, now, stale_after, scale).usable & rolled == set()
        assert_same(
            tally(engine, "svc_core", spans, now, stale_after, interval_scale=scale),
            tally_from_history(engine, "svc_core", spans, now, stale_after, interval_scale=scale),
        )
    # nothing rebuilt: the hours stay rolled up with the caps they were computed with
    assert rolled_hours(engine, "svc_core", T0, now, STALE_AFTER).usable == rolled
    with engine.connect() as conn:
        caps = conn.execute(
            select(UPTIME_ROLLUPS.c.stale_after, UPTIME_ROLLUPS.c.interval_scale).where(
                UPTIME_ROLLUPS.c.hour.in_(rolled)
            )
        ).all()
    assert set(caps) == {(STALE_AFTER, 1.0)} and len(caps) == len(rolled)


def test_retention_takes_the_rollup_with_history(engine: Engine) -> None:
    old = T0 - timedelta(days=40)
    rows = regular("svc_core", Tier.CORE, "acme", old, 24)
    write_history(engine, rows + random_history(random.Random(1), "svc_core", Tier.CORE, 6))
    now = T0 + timedelta(hours=6)
    roll_up(engine, "svc_core", now, STALE_AFTER, since=old)
    with engine.connect() as conn:
        before = conn.execute(
            select(func.count())
            .select_from(UPTIME_HOURS)
            .where(UPTIME_HOURS.c.hour < T0 - timedelta(days=30))
        ).scalar_one()
    assert before == 3  # 06:17 to 08:22 forty days ago
    report = apply_retention(engine, history_days=30, now=now)
    assert report.rollup_rows_deleted == 3
    with engine.connect() as conn:
        oldest = conn.execute(select(func.min(UPTIME_ROLLUPS.c.hour))).scalar_one()
    assert oldest >= now - timedelta(days=31)
    assert count(engine, UPTIME_HOURS) > 0
