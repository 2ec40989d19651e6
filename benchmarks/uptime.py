"""Uptime and error-budget figures at 1,000 tenants x 30 days, on PostgreSQL (and the demo's
SQLite at a demo's size).

    .venv/bin/python benchmarks/uptime.py [--server-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--tenants 1000] [--days 30] [--repeat 3]

It creates (and drops) its own database: 30 days of meta_ads (integration tier, a check every
15 min per tenant) and 3 days of shopify (core tier, every 5 min), 1 % unhealthy and a few
unknown results, and a recurring silence. Then it times what the faces and the alert step ask:
every target's 24 h / 7 d / 30 d uptime, a whole service's SLO report (with the 30-day
burn-down), one tenant's, the matrix's 24 h column, and the burn-rate evaluation the alert step
adds for every tenant of a service. The alert step's and every target's figures are timed as
their first call on an empty rollup (`*_cold_ms`: each rolls up a bounded part of the hours it
covers, storage/uptime_hours.py) and as read from history alone (`*_raw_ms`,
`tally_from_history`: what every call cost before the rollup); then the rest of the 31 days is
rolled up (`*_roll_up_rest_s`) and every figure is timed warm (the median of `--repeat` calls).
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from healthmon.alerting import outbox
from healthmon.alerting.slo import BURN_WINDOWS, UPTIME_WINDOWS, silenced_periods
from healthmon.config import Settings
from healthmon.config.loader import parse_config
from healthmon.flows.app import App, build_app
from healthmon.flows.slo import slo_decision, slo_report, tally_over, uptime_by_target
from healthmon.storage import alerts as store
from healthmon.storage.migrate import upgrade
from healthmon.storage.partitions import ensure_partitions
from healthmon.storage.uptime import silences_between, tally_from_history
from healthmon.storage.uptime_hours import roll_up

FILL = """
INSERT INTO health_check_history (checked_at, service, tenant_id, tier, status, latency_ms, details, run_id)
SELECT :end - (c * :step) * interval '1 second', :service, 'tenant-' || lpad(t::text, 4, '0'), :tier,
       CASE WHEN (c + t) % 100 = 0 THEN 'unhealthy' WHEN (c * 7 + t) % 331 = 0 THEN 'unknown'
            ELSE 'healthy' END,
       40 + ((c + t) % 97), '{}'::jsonb, NULL
FROM generate_series(0, :checks - 1) AS c, generate_series(0, :tenants - 1) AS t
"""
SQLITE_FILL = FILL.replace(
    ":end - (c * :step) * interval '1 second'", "datetime(:end, '-' || (c * :step) || ' seconds')"
)
SQLITE_FILL = SQLITE_FILL.replace("'tenant-' || lpad(t::text, 4, '0')", "'tenant-' || printf('%04d', t)")
SQLITE_FILL = SQLITE_FILL.replace("'{}'::jsonb", "'{}'").replace(
    "FROM generate_series(0, :checks - 1) AS c, generate_series(0, :tenants - 1) AS t",
    "FROM (WITH RECURSIVE s(c) AS (SELECT 0 UNION ALL SELECT c + 1 FROM s WHERE c < :checks - 1) "
    "SELECT c FROM s), (WITH RECURSIVE u(t) AS (SELECT 0 UNION ALL SELECT t + 1 FROM u "
    "WHERE t < :tenants - 1) SELECT t FROM u)",
)
CONFIG = {
    "services": {
        "meta_ads": {"app_id": "1", "app_secret": "s", "slo": {"objective": 99.5, "window_days": 30}},
        "shopify": {"slo": {"objective": 99.9, "window_days": 30}},
    }
}


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time in milliseconds of `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1), result


def fill(engine: Engine, now: datetime, tenants: int, days: int) -> int:
    sql = FILL if engine.dialect.name == "postgresql" else SQLITE_FILL
    end: Any = now if engine.dialect.name == "postgresql" else now.replace(tzinfo=None).isoformat(" ")
    rows = 0
    with engine.begin() as conn:
        for service, tier, step, span_days in (
            ("meta_ads", "integration", 900, days),
            ("shopify", "core", 300, 3),
        ):
            checks = span_days * 86400 // step
            conn.execute(
                text(sql),
                {
                    "end": end,
                    "step": step,
                    "service": service,
                    "tier": tier,
                    "checks": checks,
                    "tenants": tenants,
                },
            )
            rows += checks * tenants
    with engine.begin() as conn:
        conn.execute(
            text("ANALYZE health_check_history" if engine.dialect.name == "postgresql" else "ANALYZE")
        )
    store.add_silence(
        engine,
        service="meta_ads",
        tenant_id=None,
        starts_at=now - timedelta(days=days),
        ends_at=now + timedelta(days=1),
        reason="weekly maintenance",
        created_by="bench",
        recurrence={"weekdays": [6], "start": "02:00", "duration_min": 60},
    )
    return rows


def from_history(
    runtime: App, service: str, windows: dict[str, float], now: datetime, tenants: list[str | None] | None
) -> Any:
    """The figure as every call computed it before the rollup: one statement over history."""
    spans = {name: (now - timedelta(seconds=seconds), now) for name, seconds in windows.items()}
    start = min(s for s, _e in spans.values())
    views = [outbox.silence_view(r) for r in silences_between(runtime.engine, start, now)]
    silenced = silenced_periods(views, service, start, now)
    stale_after = runtime.config.watchdog.stale_after
    return tally_from_history(runtime.engine, service, spans, now, stale_after, silenced, tenants)


def measure(runtime: App, now: datetime, tenants: int, repeat: int, prefix: str) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    keys = [("shopify", f"tenant-{t:04d}") for t in range(tenants)]
    shopify: list[str | None] = [tenant for _service, tenant in keys]
    figures[f"{prefix}_targets_uptime_30d_raw_ms"], _ = timed(
        lambda: from_history(runtime, "meta_ads", dict(UPTIME_WINDOWS), now, None), 1
    )
    figures[f"{prefix}_alert_step_burn_rates_raw_ms"], _ = timed(
        lambda: from_history(runtime, "shopify", dict(BURN_WINDOWS), now, shopify), 1
    )
    # first calls on an empty rollup: each rolls up the hours it covers (the alert step's 3 days
    # of shopify, then 30 days of meta_ads)
    figures[f"{prefix}_alert_step_burn_rates_cold_ms"], _ = timed(
        lambda: slo_decision(runtime, keys, [], [], now), 1
    )
    figures[f"{prefix}_targets_uptime_30d_cold_ms"], _ = timed(
        lambda: uptime_by_target(runtime, "meta_ads", now), 1
    )
    # a call rolls up only a bounded part of what it misses: the rest at once, as a roller
    # running beside the faces would, then the statistics autovacuum would gather
    started = time.perf_counter()
    stale_after = runtime.config.watchdog.stale_after
    figures[f"{prefix}_roll_up_hours"] = roll_up(
        runtime.engine, ("meta_ads", "shopify"), now, stale_after, since=now - timedelta(days=31)
    )
    figures[f"{prefix}_roll_up_rest_s"] = round(time.perf_counter() - started, 1)
    with runtime.engine.begin() as conn:
        conn.execute(text("ANALYZE uptime_hours" if prefix == "pg" else "ANALYZE"))
    ms, found = timed(lambda: uptime_by_target(runtime, "meta_ads", now), repeat)
    figures[f"{prefix}_targets_uptime_30d_ms"] = ms
    figures[f"{prefix}_targets"] = len(found)
    ms, report = timed(lambda: slo_report(runtime, "meta_ads", None, now, whole_service=True), repeat)
    figures[f"{prefix}_service_slo_report_ms"] = ms
    figures[f"{prefix}_service_budget_remaining"] = round(report.budget_remaining or 0.0, 4)
    figures[f"{prefix}_tenant_slo_report_ms"], _ = timed(
        lambda: slo_report(runtime, "meta_ads", "tenant-0007", now), repeat
    )
    figures[f"{prefix}_matrix_uptime_24h_ms"], _ = timed(
        lambda: tally_over(runtime, ("meta_ads", "shopify"), "24h", now), repeat
    )
    figures[f"{prefix}_alert_step_burn_rates_ms"], decision = timed(
        lambda: slo_decision(runtime, keys, [], [], now), repeat
    )
    figures[f"{prefix}_alert_step_burn_alerts"] = len(decision.changes)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sqlite-tenants", type=int, default=12, help="the demo's size")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    config = parse_config(CONFIG, env={})
    figures: dict[str, Any] = {"tenants": args.tenants, "days": args.days}

    name = f"healthmon_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.server_url).set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runtime = build_app(Settings(database_url=url, data_dir=Path(tmp)), config)
            try:
                upgrade(runtime.engine)
                ensure_partitions(runtime.engine, today=now.date(), days_ahead=1, days_behind=args.days + 2)
                started = time.perf_counter()
                figures["pg_rows"] = fill(runtime.engine, now, args.tenants, args.days)
                figures["pg_fill_s"] = round(time.perf_counter() - started, 1)
                figures |= measure(runtime, now, args.tenants, args.repeat, "pg")
            finally:
                runtime.close()
    finally:
        with psycopg.connect(args.server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    with tempfile.TemporaryDirectory() as tmp:
        runtime = build_app(Settings(database_url=f"sqlite:///{tmp}/bench.db", data_dir=Path(tmp)), config)
        try:
            upgrade(runtime.engine)
            figures["sqlite_tenants"] = args.sqlite_tenants
            figures["sqlite_rows"] = fill(runtime.engine, now, args.sqlite_tenants, args.days)
            figures |= measure(runtime, now, args.sqlite_tenants, args.repeat, "sqlite")
        finally:
            runtime.close()

    for key, value in figures.items():
        print(f"{key:>36}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
