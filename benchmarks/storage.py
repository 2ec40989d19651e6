"""Storage figures on PostgreSQL: result write rate, dropping a day of history, a 24-hour
latency-chart query over 30 days of history.

    .venv/bin/python benchmarks/storage.py [--server-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--day-rows 500000] [--days 30] [--rows-per-day 50000]

It creates (and drops) its own database on that server. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.storage.db import make_engine
from healthmon.storage.migrate import upgrade
from healthmon.storage.partitions import ensure_partitions, partition_name
from healthmon.storage.results import history, record_results
from healthmon.storage.retention import drop_old_partitions

FILL = """
INSERT INTO health_check_history (checked_at, service, tenant_id, tier, status, latency_ms, details, run_id)
SELECT :start + (g * :step) * interval '1 second', 'shopify', 'tenant-' || lpad((g % :tenants)::text, 4, '0'),
       'core', 'healthy', 40 + (g % 97), '{"http_status": 200, "rate_limit_remaining_pct": 87.5}'::jsonb, NULL
FROM generate_series(0, :rows - 1) AS g
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--day-rows", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows-per-day", type=int, default=50_000)
    parser.add_argument("--tenants", type=int, default=1000)
    args = parser.parse_args()
    name = f"healthmon_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.server_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    figures: dict[str, Any] = {"tenants": args.tenants}
    try:
        upgrade(engine)
        now = datetime.now(UTC).replace(microsecond=0)
        ensure_partitions(engine, today=now.date(), days_ahead=1, days_behind=args.days + 2)

        # 1. result writes as a tier run makes them: batches of 1,000 (COPY + status upsert)
        batches, size = 20, 1000
        started = time.perf_counter()
        for b in range(batches):
            at = now - timedelta(minutes=b)
            record_results(
                engine,
                [
                    CheckResult(
                        "shopify",
                        f"tenant-{i:04d}",
                        Tier.CORE,
                        Status.HEALTHY,
                        42.0,
                        {"http_status": 200, "rate_limit_remaining_pct": 90.0},
                        at,
                    )
                    for i in range(size)
                ],
                run_id=str(uuid.uuid4()),
            )
        elapsed = time.perf_counter() - started
        figures["write_rows_per_s"] = round(batches * size / elapsed)
        figures["write_ms_per_1000"] = round(elapsed / batches * 1000, 1)

        # 2. 30 days of history for the chart query, plus one full day to drop
        fill_started = time.perf_counter()
        with engine.begin() as conn:
            for d in range(1, args.days + 1):
                day = datetime.combine((now - timedelta(days=d)).date(), datetime.min.time(), tzinfo=UTC)
                conn.execute(
                    text(FILL),
                    {
                        "start": day,
                        "step": 86400 / args.rows_per_day,
                        "tenants": args.tenants,
                        "rows": args.rows_per_day,
                    },
                )
            old = datetime.combine(
                (now - timedelta(days=args.days + 1)).date(), datetime.min.time(), tzinfo=UTC
            )
            conn.execute(
                text(FILL),
                {"start": old, "step": 86400 / args.day_rows, "tenants": args.tenants, "rows": args.day_rows},
            )
            conn.execute(text("ANALYZE health_check_history"))
        figures["fill_s"] = round(time.perf_counter() - fill_started, 1)

        # 3. dropping the day of `day_rows` rows
        started = time.perf_counter()
        dropped = drop_old_partitions(engine, old.date() + timedelta(days=1))
        figures["drop_day_ms"] = round((time.perf_counter() - started) * 1000, 1)
        figures["drop_day_rows"] = args.day_rows
        assert partition_name(old.date()) in dropped.names, dropped

        # 4. the 24-hour latency chart of one tenant, over 30 days of history
        timings = []
        for i in range(30):
            started = time.perf_counter()
            rows = history(engine, "shopify", f"tenant-{i:04d}", now - timedelta(hours=24))
            timings.append((time.perf_counter() - started) * 1000)
        figures["chart_24h_rows"] = len(rows)
        figures["chart_24h_p50_ms"] = round(statistics.median(timings), 2)
        figures["chart_24h_max_ms"] = round(max(timings), 2)
    finally:
        engine.dispose()
        with psycopg.connect(args.server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        f"writes: {figures['write_rows_per_s']} rows/s ({figures['write_ms_per_1000']} ms per 1,000 results)"
    )
    print(f"drop one day of {args.day_rows} rows: {figures['drop_day_ms']} ms")
    print(
        f"24 h chart of one tenant over {args.days} days: p50 {figures['chart_24h_p50_ms']} ms, "
        f"max {figures['chart_24h_max_ms']} ms ({figures['chart_24h_rows']} rows)"
    )
    print("reproduce: .venv/bin/python benchmarks/storage.py " + " ".join(sys.argv[1:]))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
