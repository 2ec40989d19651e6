"""Seeds a PostgreSQL database for the faces at production size: 10,000 tenants with 4
integrations each, the platform services, 24 h of history at every target's tier interval and
30 days for 100 of the tenants (and the platform services), written the way healthmon writes it.

    .venv/bin/python benchmarks/seed_faces.py [--server-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--database bench_faces] [--tenants 10000] [--long-tenants 100] [--long-days 30] [--drop]

Everything goes through the project's storage functions: tenants through `upsert_tenants`
(credentials encrypted with a HEALTHMON_SECRET_KEY), results through `record_results` (COPY into
history, the latest-status upsert), oldest first so that `service_status` has the streaks and
since-when the real system would; then the uptime rollup (`roll_up`, every complete hour) and a
few open and acknowledged alerts through `flows.alerts.apply_decision`. The database is created
anew (dropped first if it exists) and kept, for benchmarks/faces.py; `--drop` drops it instead.
Prints the row counts and the time of each part; ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks.platform_layout import (
    PER_TENANT,
    PER_TENANT_SETTINGS,
    PLATFORM_SETTINGS,
    tenant_id,
    tenant_row,
)
from healthmon.alerting.lifecycle import AlertChange, Decision
from healthmon.alerting.notification import Kind, Severity
from healthmon.config import Settings
from healthmon.config.loader import parse_config
from healthmon.flows import alerts as flow_alerts
from healthmon.flows.app import App, build_app
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import TIERS, CheckResult, Status, Tier
from healthmon.storage import alerts as store
from healthmon.storage.migrate import upgrade
from healthmon.storage.partitions import ensure_partitions
from healthmon.storage.results import record_results
from healthmon.storage.tenants import upsert_tenants
from healthmon.storage.uptime_hours import roll_up

#: a benchmark key, not a secret: it only encrypts the seeded tenants' made-up credentials
SECRET_KEY = "faces-benchmark-secret-key-0123456789"
PLATFORM = tuple(s for s, m in MONITORS.items() if not m.per_tenant)
CONFIG: dict[str, Any] = {"services": {**PLATFORM_SETTINGS, **PER_TENANT_SETTINGS}}
REASONS = {
    Status.DEGRADED: ("latency_ms above 800", "rate limit 12% left", "token expires in 5 days"),
    Status.UNHEALTHY: ("HTTP 503", "timeout", "HTTP 401: token revoked", "connection refused"),
    Status.UNKNOWN: ("not configured: missing access_token",),
}


@dataclass(frozen=True)
class Incident:
    """A stretch of one target's history that is not healthy."""

    status: Status
    start: datetime
    end: datetime
    reason: str


class Plan:
    """Which targets have incidents, and which stopped reporting (stale), from one seed.

    About 3 % of targets are degraded or unhealthy at the end (the failing tenants the matrix
    shows first), 4 % had an incident earlier in the day that ended, 0.5 % of the per-tenant
    integrations stopped reporting 1-3 hours ago, and a few tenants have no token (unknown)."""

    def __init__(self, tenants: int, now: datetime, seed: int = 15) -> None:
        rng = random.Random(seed)
        self.incidents: dict[tuple[str, str | None], Incident] = {}
        self.stopped: dict[tuple[str, str | None], datetime] = {}
        targets: list[tuple[str, str | None]] = [(s, None) for s in PLATFORM]
        targets += [(s, tenant_id(n)) for n in range(tenants) for s in PER_TENANT]
        for key in targets:
            draw = rng.random()
            if draw < 0.03:
                status = Status.UNHEALTHY if rng.random() < 0.4 else Status.DEGRADED
                start = now - timedelta(minutes=rng.uniform(10, 600))
                self.incidents[key] = Incident(
                    status, start, now + timedelta(days=1), rng.choice(REASONS[status])
                )
            elif draw < 0.07:
                status = Status.UNHEALTHY if rng.random() < 0.3 else Status.DEGRADED
                start = now - timedelta(hours=rng.uniform(2, 23))
                length = timedelta(minutes=rng.uniform(20, 120))
                self.incidents[key] = Incident(status, start, start + length, rng.choice(REASONS[status]))
            elif draw < 0.072:
                self.incidents[key] = Incident(
                    Status.UNKNOWN,
                    now - timedelta(days=40),
                    now + timedelta(days=1),
                    REASONS[Status.UNKNOWN][0],
                )
            elif draw < 0.077 and key[1] is not None:
                self.stopped[key] = now - timedelta(minutes=rng.uniform(60, 180))


#: shared by every healthy result: record_results only reads details
HEALTHY_DETAILS: dict[str, Any] = {"http_status": 200}


def _result(
    plan: Plan, service: str, tenant: str | None, tier: Tier, at: datetime, latency: float
) -> CheckResult | None:
    key = (service, tenant)
    stopped = plan.stopped.get(key)
    if stopped is not None and at > stopped:
        return None
    incident = plan.incidents.get(key)
    if incident is None or not incident.start <= at < incident.end:
        return CheckResult(service, tenant, tier, Status.HEALTHY, latency, HEALTHY_DETAILS, at)
    if incident.status is Status.UNKNOWN:
        return CheckResult(service, tenant, tier, incident.status, None, {"reason": incident.reason}, at)
    slower = 6 if incident.status is Status.DEGRADED else 1
    return CheckResult(
        service, tenant, tier, incident.status, latency * slower, {"reason": incident.reason}, at
    )


def _steps(start: datetime, end: datetime, interval_s: int) -> Iterator[datetime]:
    """Check times of one tier from `start` to `end`, aligned to the interval (as a schedule)."""
    first = int(start.timestamp()) // interval_s * interval_s + interval_s
    for ts in range(first, int(end.timestamp()) + 1, interval_s):
        yield datetime.fromtimestamp(ts, UTC)


def history_batches(
    plan: Plan,
    tiers: Sequence[Tier],
    tenants: int,
    long_tenants: int,
    long_days: int,
    now: datetime,
    chunk_rows: int,
) -> Iterator[tuple[str, list[CheckResult]]]:
    """(run id, results) batches of these tiers oldest first: the long history (the first
    `long_tenants` tenants and the platform services) in chunks of about `chunk_rows`, then the
    last 24 h of every target, one batch per tier and check time as a tier run records it."""
    rng = random.Random(1)
    # latencies drawn once and cycled: a draw per row cost more than the rest of the row
    latencies = [round(rng.lognormvariate(4.6, 0.45), 1) for _ in range(7919)]
    drawn = 0
    day_ago = now - timedelta(days=1)
    long_ids = [tenant_id(n) for n in range(min(long_tenants, tenants))]
    every_id = [tenant_id(n) for n in range(tenants)]
    by_tier: dict[Tier, list[str]] = {}
    for service, monitor in MONITORS.items():
        if monitor.tier in tiers:
            by_tier.setdefault(monitor.tier, []).append(service)
    spans = [(now - timedelta(days=long_days), day_ago, long_ids), (day_ago, now, every_id)]
    for span_index, (start, end, ids) in enumerate(spans):
        events: list[tuple[datetime, Tier]] = sorted(
            (at, tier) for tier in by_tier for at in _steps(start, end, TIERS[tier].interval_s)
        )
        pending: list[CheckResult] = []
        for at, tier in events:
            batch: list[CheckResult] = []
            for service in by_tier[tier]:
                owners: Sequence[str | None] = ids if MONITORS[service].per_tenant else (None,)
                for tenant in owners:
                    drawn += 1
                    found = _result(plan, service, tenant, tier, at, latencies[drawn % len(latencies)])
                    if found is not None:
                        batch.append(found)
            if span_index == len(spans) - 1:
                yield f"seed-{tier.value}-{int(at.timestamp())}", batch
                continue
            pending += batch
            if len(pending) >= chunk_rows:
                yield f"seed-old-{int(at.timestamp())}", pending
                pending = []
        if pending:
            yield f"seed-old-{int(end.timestamp())}", pending


def write_history(runtime: App, batches: Iterator[tuple[str, list[CheckResult]]]) -> tuple[int, int]:
    """Records every batch; returns (rows, record_results calls)."""
    rows = calls = 0
    for run_id, batch in batches:
        record_results(runtime.engine, batch, run_id)
        rows += len(batch)
        calls += 1
    return rows, calls


def roll_up_all(runtime: App, now: datetime, days: int) -> int:
    """Every complete hour of every service, as the daily housekeeping leaves it; two services
    at a time (the work is PostgreSQL's, and roll_up locks per service)."""
    stale_after = runtime.config.watchdog.stale_after
    since = now - timedelta(days=days + 1)
    with ThreadPoolExecutor(2) as pool:
        return sum(
            pool.map(
                lambda service: roll_up(runtime.engine, service, now, stale_after, since=since), MONITORS
            )
        )


def open_alerts(runtime: App, plan: Plan, now: datetime, count: int) -> int:
    """Alerts for the first `count` targets failing now, as the alert step opens them; every
    third one acknowledged."""
    failing = [
        (key, incident)
        for key, incident in plan.incidents.items()
        if incident.end > now
        and incident.status in (Status.DEGRADED, Status.UNHEALTHY)
        and key not in plan.stopped
    ][:count]
    changes: list[AlertChange] = []
    notify: list[tuple[int | str, Kind]] = []
    for (service, tenant), incident in failing:
        signature = f"{service}|{tenant or '-'}|health"
        severity = Severity.P2 if incident.status is Status.UNHEALTHY else Severity.P3
        title = f"{service} {incident.status.value} ({tenant or 'platform'})"
        details = {"status": incident.status.value, "reason": incident.reason}
        changes.append(AlertChange(signature, service, tenant, "health", severity, title, details))
        notify.append((signature, Kind.TRIGGER))
    flow_alerts.apply_decision(
        runtime.engine, Decision(changes=changes, notify=notify), lambda *_: ["slack"], now
    )
    alerts = store.list_alerts(runtime.engine)
    for row in alerts[::3]:
        flow_alerts.acknowledge(runtime, int(row["id"]), "bench", "looking into it", now)
    return len(alerts)


def database_url(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def recreate(server_url: str, database: str) -> str:
    if not database.startswith("bench_faces"):
        raise SystemExit(f"--database must start with bench_faces, not {database!r}")
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
    return database_url(server_url, database)


def drop(server_url: str, database: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def seed(
    url: str, tenants: int, long_tenants: int = 100, long_days: int = 30, alerts: int = 40
) -> dict[str, Any]:
    """Fills an empty database at `url`; returns the figures (rows, seconds per part)."""
    now = datetime.now(UTC).replace(microsecond=0)
    figures: dict[str, Any] = {"tenants": tenants, "long_tenants": long_tenants, "long_days": long_days}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=url, secret_key=SECRET_KEY, data_dir=Path(tmp))  # type: ignore[arg-type]
        runtime = build_app(settings, parse_config(CONFIG, env={}))
        try:
            assert runtime.cipher is not None
            upgrade(runtime.engine)
            ensure_partitions(runtime.engine, today=now.date(), days_ahead=1, days_behind=long_days + 1)
            mark = time.perf_counter()
            rng = random.Random(3)
            rows = [tenant_row(n, f"{rng.getrandbits(96):024x}") for n in range(tenants)]
            for i in range(0, len(rows), 2000):
                upsert_tenants(runtime.engine, runtime.cipher, rows[i : i + 2000])
            figures["tenants_s"] = round(time.perf_counter() - mark, 1)

            mark = time.perf_counter()
            plan = Plan(tenants, now)
            # two writers, each with tiers of its own, so no two transactions touch one target:
            # each keeps its tiers oldest first, as the real runs did, and PostgreSQL works on one
            # writer's COPY while Python builds the other's rows
            shares = [(Tier.CRITICAL, Tier.CORE), (Tier.INTEGRATION, Tier.EXTERNAL)]
            with ThreadPoolExecutor(len(shares)) as pool:
                done = list(
                    pool.map(
                        lambda tiers: write_history(
                            runtime,
                            history_batches(plan, tiers, tenants, long_tenants, long_days, now, 50_000),
                        ),
                        shares,
                    )
                )
            figures["history_rows"] = sum(rows for rows, _calls in done)
            figures["record_calls"] = sum(calls for _rows, calls in done)
            figures["history_s"] = round(time.perf_counter() - mark, 1)

            mark = time.perf_counter()
            with runtime.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
            figures["rolled_hours"] = roll_up_all(runtime, now, long_days)
            with runtime.engine.begin() as conn:
                conn.execute(text("ANALYZE uptime_hours"))
            figures["roll_up_s"] = round(time.perf_counter() - mark, 1)
            figures["alerts"] = open_alerts(runtime, plan, now, alerts)
            with runtime.engine.connect() as conn:
                figures["status_rows"] = conn.execute(
                    text("SELECT count(*) FROM service_status")
                ).scalar_one()
                figures["uptime_hour_rows"] = conn.execute(
                    text("SELECT count(*) FROM uptime_hours")
                ).scalar_one()
        finally:
            runtime.close()
    figures["failing_targets"] = sum(1 for i in plan.incidents.values() if i.end > now)
    figures["stopped_targets"] = len(plan.stopped)
    figures["total_s"] = round(time.perf_counter() - started, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="bench_faces")
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--long-tenants", type=int, default=100)
    parser.add_argument("--long-days", type=int, default=30)
    parser.add_argument("--drop", action="store_true", help="drop the database instead of seeding it")
    args = parser.parse_args()
    if args.drop:
        drop(args.server_url, args.database)
        print(f"dropped {args.database}")
        return
    load = os.getloadavg()[0]
    url = recreate(args.server_url, args.database)
    figures = seed(url, args.tenants, args.long_tenants, args.long_days)
    figures |= {
        "database": args.database,
        "load_1m_at_start": round(load, 2),
        "load_1m_at_end": round(os.getloadavg()[0], 2),
    }
    for key, value in figures.items():
        print(f"{key:>20}: {value}")
    print("reproduce: .venv/bin/python benchmarks/seed_faces.py " + " ".join(sys.argv[1:]))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
