"""Latency of `GET /api/platform/health/matrix` with 1,000 tenants x 17 services (17,000 cells).

    .venv/bin/python benchmarks/api_matrix.py [--tenants 1000] [--requests 200]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--redis-url redis://...]

The store is a fresh SQLite file by default; with `--database-url` (PostgreSQL) a database of
its own is created on that server and dropped at the end. service_status is seeded through
storage.results.record_results in one bulk write; the API then runs in its own process under
uvicorn (`api.server.serve`, as `healthmon api` does), so the client does not share its core.
Measured with one httpx client, one request at a time, each answer read in full:
- cold: the first matrix request after start (the view is built from service_status);
- warm: --requests requests of the whole matrix (the view cached; it expires every 5 s in the
  in-process cache, so the rebuilds that cost are in the figures);
- filtered: --requests requests with `?status=unhealthy&tier=core`;
- paced: one request every 50 ms for --paced-s seconds (a dashboard fleet polling), long enough
  that the view expires (5 s) and is rebuilt from service_status a few times in between.
Ends with one JSON line of every figure and the command.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psycopg
from sqlalchemy.engine import make_url

from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import CheckResult, Status
from healthmon.storage.db import make_engine
from healthmon.storage.migrate import upgrade
from healthmon.storage.results import record_results
from tests.support.servers import free_port, wait_port

TOKEN = "bench-token-0123456789abcdef"
#: mostly healthy, as a real platform is; the rest gives the cells reasons to carry
STATUSES = [Status.HEALTHY] * 16 + [Status.DEGRADED, Status.UNHEALTHY, Status.UNKNOWN]
REASONS = {
    Status.DEGRADED: "latency_ms 2300 >= 2000",
    Status.UNHEALTHY: "timeout after 10.0 s",
    Status.UNKNOWN: "not configured: missing access_token",
}


def results(tenants: int, now: datetime) -> list[CheckResult]:
    made = []
    for t in range(tenants):
        tenant = f"tenant-{t:04d}"
        for s, (service, monitor) in enumerate(sorted(MONITORS.items())):
            status = STATUSES[(t * 7 + s) % len(STATUSES)]
            details: dict[str, Any] = {"http_status": 200, "rate_limit_remaining_pct": 87.5}
            if status in REASONS:
                details["reason"] = REASONS[status]
            latency = None if status is Status.UNKNOWN else 20.0 + (t * 13 + s * 7) % 400 + 0.25
            made.append(CheckResult(service, tenant, monitor.tier, status, latency, details, now))
    return made


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file, or one created (and dropped) on the server."""
    if url is None or make_url(url).get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            path = url or f"sqlite:///{tmp}/bench.db"
            engine = make_engine(path)
            upgrade(engine)
            engine.dispose()
            yield path
        return
    name = f"healthmon_bench_{uuid.uuid4().hex[:8]}"
    server = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    own = make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(own)
        upgrade(engine)
        engine.dispose()
        yield own
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def api_process(database_url: str, redis_url: str | None, log: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "HEALTHMON_DATABASE_URL": database_url,
        "HEALTHMON_API_TOKENS": f"bench:read:{TOKEN}",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    env.pop("HEALTHMON_CONFIG", None)
    env.pop("HEALTHMON_REDIS_URL", None)
    if redis_url:
        env["HEALTHMON_REDIS_URL"] = redis_url
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", f"from api.server import serve; serve('127.0.0.1', {port})"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_port(port, timeout=30)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def timed(client: httpx.Client, path: str) -> tuple[float, int, dict[str, Any]]:
    started = time.perf_counter()
    response = client.get(path)
    body = response.content
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, len(body), json.loads(body)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 1),
        "p99_ms": round(ordered[max(0, round(0.99 * len(ordered)) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("HEALTHMON_BENCH_DATABASE_URL") or None)
    parser.add_argument("--redis-url", default=None, help="serve the cache from Redis (default: in-process)")
    parser.add_argument("--paced-s", type=float, default=15.0)
    args = parser.parse_args()
    figures: dict[str, Any] = {"tenants": args.tenants, "services": len(MONITORS), "requests": args.requests}
    with database(args.database_url) as url, tempfile.TemporaryDirectory() as tmp:
        figures["backend"] = make_url(url).get_backend_name()
        figures["cache"] = "redis" if args.redis_url else "memory"
        engine = make_engine(url)
        seeded = results(args.tenants, datetime.now(UTC) - timedelta(minutes=1))
        started = time.perf_counter()
        record_results(engine, seeded, run_id=str(uuid.uuid4()))
        figures["seed_rows"] = len(seeded)
        figures["seed_s"] = round(time.perf_counter() - started, 2)
        engine.dispose()

        with (
            api_process(url, args.redis_url, Path(tmp) / "api.log") as base,
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client,
        ):
            deadline = time.monotonic() + 30
            while client.get("/healthz").status_code != 200:  # listening is not yet serving
                if time.monotonic() > deadline:
                    raise TimeoutError("the API did not become healthy")
                time.sleep(0.1)
            cold_ms, size, body = timed(client, "/api/platform/health/matrix")
            assert len(body["cells"]) == len(seeded), len(body["cells"])
            figures["cold_ms"] = round(cold_ms, 1)
            figures["response_bytes"] = size

            warm = [timed(client, "/api/platform/health/matrix")[0] for _ in range(args.requests)]
            figures["warm"] = percentiles(warm)
            filtered = []
            for _ in range(args.requests):
                elapsed, filtered_size, _body = timed(
                    client, "/api/platform/health/matrix?status=unhealthy&tier=core"
                )
                filtered.append(elapsed)
            figures["filtered"] = {**percentiles(filtered), "response_bytes": filtered_size}
            paced = []
            end = time.monotonic() + args.paced_s
            while time.monotonic() < end:
                started = time.monotonic()
                paced.append(timed(client, "/api/platform/health/matrix")[0])
                time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))
            figures["paced"] = {**percentiles(paced), "requests": len(paced), "seconds": args.paced_s}
    figures["target_p95_ms"] = 100
    figures["meets_target"] = max(figures[k]["p95_ms"] for k in ("warm", "filtered", "paced")) < 100
    figures["command"] = "benchmarks/api_matrix.py " + " ".join(sys.argv[1:])

    print(
        f"{figures['tenants']} tenants x {figures['services']} services = {figures['seed_rows']} cells on "
        f"{figures['backend']} (seeded in {figures['seed_s']} s), response {figures['response_bytes']} bytes"
    )
    print(f"cold first request: {figures['cold_ms']} ms")
    for name in ("warm", "filtered", "paced"):
        f = figures[name]
        print(
            f"{name:>8}: p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms, p99 {f['p99_ms']} ms, "
            f"max {f['max_ms']} ms ({f.get('requests', args.requests)} requests)"
        )
    print("reproduce: .venv/bin/python " + figures["command"])
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
