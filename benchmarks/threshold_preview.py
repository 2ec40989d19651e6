"""The threshold preview on PostgreSQL: replaying a proposed rule over 30 days of a per-tenant
service at 1,000 tenants (POST /api/thresholds/{service}/preview must answer within 2 s).

    .venv/bin/python benchmarks/threshold_preview.py [--server-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--tenants 1000] [--days 30] [--repeat 5]

The history is meta_ads (integration tier) every 15 minutes: 1,000 tenants x 96 a day x 30 days
= 2.88 M rows, written with COPY, run after run. 95 % of the tenants are healthy throughout;
the others (1 in 60 each) have a Meta token running out over the month (the default rule
judges it degraded at 7 days, unhealthy at 1), an hour of timeouts every few days, or rate
limiting. Every result is judged by
alerting.thresholds.evaluate with the default rules, as a tier run records it. It creates (and
drops) its own database. Prints figures, ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from healthmon.alerting.thresholds import ThresholdRule, defaults_for, evaluate
from healthmon.config import Settings
from healthmon.config.loader import parse_config
from healthmon.flows.app import build_app
from healthmon.flows.replay import WINDOW_DAYS, preview, replay_query
from healthmon.monitors.result import TIERS, CheckResult, Status, Tier
from healthmon.storage.migrate import upgrade
from healthmon.storage.partitions import ensure_partitions
from healthmon.storage.replay import judged_history

SERVICE = "meta_ads"
INTERVAL_S = TIERS[Tier.INTEGRATION].interval_s
COLUMNS = "checked_at, service, tenant_id, tier, status, latency_ms, details"
RULES = defaults_for(SERVICE)
PROPOSALS = {
    "token_expires_in_days": ThresholdRule(
        metric="token_expires_in_days", degraded=14, unhealthy=3, inverse=True
    ),
    "latency_ms": ThresholdRule(metric="latency_ms", degraded=800, unhealthy=5000),
}


def _judged(
    tenant: str, at: datetime, status: Status, latency: float | None, **details: Any
) -> tuple[Any, ...]:
    result = evaluate(CheckResult(SERVICE, tenant, Tier.INTEGRATION, status, latency, details, at), RULES)
    return (at, SERVICE, tenant, "integration", result.status.value, latency, json.dumps(result.details))


def history(tenants: int, days: int, now: datetime, seed: int = 13) -> Iterator[tuple[Any, ...]]:
    """Run after run, as tier runs write it (so a tenant's rows are spread over the table)."""
    rng = random.Random(seed)
    start = now - timedelta(days=days)
    steps = days * 86400 // INTERVAL_S
    healthy = json.dumps(
        {"http_status": 200, "token_expires_in_days": 45.0, "rate_limit_remaining_pct": 92.0}
    )
    for step in range(steps):
        for n in range(tenants):
            tenant = f"tenant-{n:04d}"
            at = start + timedelta(seconds=step * INTERVAL_S + n % INTERVAL_S)
            latency = round(180.0 + rng.random() * 400, 1)
            kind = n % 60  # 1 in 20 has trouble: three kinds, 1 in 60 each
            if kind == 1:  # the token runs out over the month
                left = round(20.0 * (1 - step / steps), 2)
                yield _judged(
                    tenant, at, Status.HEALTHY, latency, http_status=200, token_expires_in_days=left
                )
            elif kind == 2 and step % 300 < 4:  # an hour of timeouts every ~3 days
                yield _judged(tenant, at, Status.UNHEALTHY, None, reason="timeout", error="timeout")
            elif kind == 3 and step % 97 < 3:  # rate limited now and then
                yield _judged(
                    tenant,
                    at,
                    Status.DEGRADED,
                    latency,
                    reason="HTTP 429",
                    http_status=429,
                    rate_limited=True,
                    rate_limit_remaining_pct=rng.choice([0.0, 3.0, 12.0]),
                )
            else:
                yield (at, SERVICE, tenant, "integration", "healthy", latency, healthy)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--days", type=int, default=WINDOW_DAYS)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    name = f"healthmon_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.server_url).set(database=name).render_as_string(hide_password=False)
    figures: dict[str, Any] = {
        "service": SERVICE,
        "interval_s": INTERVAL_S,
        "tenants": args.tenants,
        "days": args.days,
    }
    with tempfile.TemporaryDirectory() as tmp:
        runtime = build_app(Settings(database_url=url, data_dir=Path(tmp)), parse_config({}, env={}))
        try:
            upgrade(runtime.engine)
            now = datetime.now(UTC).replace(microsecond=0)
            ensure_partitions(runtime.engine, today=now.date(), days_ahead=1, days_behind=args.days + 2)
            started = time.perf_counter()
            rows = 0
            with psycopg.connect(url) as raw, raw.cursor() as cur:
                with cur.copy(f"COPY health_check_history ({COLUMNS}) FROM STDIN") as copy:
                    for row in history(args.tenants, args.days, now):
                        copy.write_row(row)
                        rows += 1
                raw.commit()
            with runtime.engine.begin() as conn:
                conn.execute(text("ANALYZE health_check_history"))
            figures["rows"] = rows
            figures["fill_s"] = round(time.perf_counter() - started, 1)

            for metric, rule in PROPOSALS.items():
                timings, sql_timings = [], []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    judged_history(runtime.engine, replay_query(runtime, SERVICE, rule, None, now))
                    sql_timings.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    outcome = preview(runtime, SERVICE, rule, now=now)
                    timings.append(time.perf_counter() - started)
                figures[metric] = {
                    "p50_ms": round(statistics.median(timings) * 1000),
                    "max_ms": round(max(timings) * 1000),
                    "read_p50_ms": round(statistics.median(sql_timings) * 1000),
                    "current": vars(outcome.current),
                    "proposed": vars(outcome.proposed),
                }
        finally:
            runtime.close()
            with psycopg.connect(args.server_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    every = f"every {INTERVAL_S // 60} min"
    print(f"history: {figures['rows']:,} rows of {SERVICE} {every}, written in {figures['fill_s']} s")
    for metric in PROPOSALS:
        f = figures[metric]
        now_, then = f["current"], f["proposed"]
        print(
            f"preview {metric}: p50 {f['p50_ms']} ms, max {f['max_ms']} ms (the judged read alone: p50 "
            f"{f['read_p50_ms']} ms); current {now_['alerts']} alerts / {now_['tenants']} tenants, "
            f"proposed {then['alerts']} alerts / {then['tenants']} tenants"
        )
    print("reproduce: .venv/bin/python benchmarks/threshold_preview.py " + " ".join(sys.argv[1:]))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
