"""The health routes at N tenants: master status, one service (paged), the matrix (identity,
gzip, 304), /metrics; p50/p95 per route, the API process's CPU per request and peak RSS.

    .venv/bin/python benchmarks/api_matrix.py [--tenants 10000] [--layout platform|every]
        [--requests 200] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6379/15] [--paced-s 15]

Layouts: `platform` (the default, production's shape) gives every tenant the 4 per-tenant
integrations (shopify, meta_ads, google_ads, tiktok_ads) and adds the 14 platform services,
configured so the master status counts them: 10,000 tenants are 40,014 targets. `every` gives
every tenant every service (17,000 cells per 1,000 tenants: the matrix's worst case, the
layout of the figures before issue 15).

The store is a fresh SQLite file by default; with `--database-url` (PostgreSQL) a database
`bench_api_<hex>` is created on that server and dropped at the end. Tenants go in through
storage.tenants.upsert_tenants (credentials encrypted), results through
storage.results.record_results; with `--redis-url` every target's cache entry is written too
(a long TTL: the service route then reads every target of its page from Redis, the worst case;
a real tier's entries live 120-600 s), after deleting the `healthmon:status:` keys of that
Redis database. The API runs in its own process under uvicorn (`api.server.serve`, as
`healthmon api` does), so the client does not share its core. One httpx client, one request at
a time, each answer read in full; `Accept-Encoding: identity` unless the figure says gzip.

Figures: `cold_ms` (the first matrix request: the view built from service_status), then per
route p50/p95/p99/max over `--requests` requests and the API process's CPU (user+system, from
/proc) per request; `service_walk` reads every page of shopify; `paced` asks the whole matrix
every 50 ms for `--paced-s` seconds (the view expires every 5 s and is rebuilt from
service_status in between); `after_write` (Redis only) invalidates the view as a writer does
before each of 5 requests. Ends with one JSON line of every figure and the command.
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
import redis
import yaml
from sqlalchemy.engine import make_url

from benchmarks.platform_layout import PER_TENANT, PLATFORM_SETTINGS, tenant_id, tenant_row
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import CheckResult, Status
from healthmon.storage.cache import KEY_PREFIX, RedisCache
from healthmon.storage.crypto import Cipher
from healthmon.storage.db import make_engine
from healthmon.storage.migrate import upgrade
from healthmon.storage.queries import invalidate_views
from healthmon.storage.results import record_results
from healthmon.storage.status import cache_entries
from healthmon.storage.tenants import upsert_tenants
from tests.support.servers import free_port, wait_port

TOKEN = "bench-token-0123456789abcdef"
#: a benchmark key, not a secret: it only encrypts the made-up credentials of the bed
SECRET_KEY = "api-benchmark-secret-key-0123456789"
#: mostly healthy, as a real platform is; the rest gives the cells reasons to carry
STATUSES = [Status.HEALTHY] * 16 + [Status.DEGRADED, Status.UNHEALTHY, Status.UNKNOWN]
REASONS = {
    Status.DEGRADED: "latency_ms 2300 >= 2000",
    Status.UNHEALTHY: "timeout after 10.0 s",
    Status.UNKNOWN: "not configured: missing access_token",
}


def _result(service: str, tenant: str | None, t: int, s: int, now: datetime) -> CheckResult:
    status = STATUSES[(t * 7 + s) % len(STATUSES)]
    details: dict[str, Any] = {"http_status": 200, "rate_limit_remaining_pct": 87.5}
    if status in REASONS:
        details["reason"] = REASONS[status]
    latency = None if status is Status.UNKNOWN else 20.0 + (t * 13 + s * 7) % 400 + 0.25
    return CheckResult(service, tenant, MONITORS[service].tier, status, latency, details, now)


def results(tenants: int, layout: str, now: datetime) -> list[CheckResult]:
    made = []
    if layout == "platform":
        made += [_result(s, None, 0, i, now) for i, s in enumerate(PLATFORM_SETTINGS)]
        services: tuple[str, ...] = PER_TENANT
    else:
        services = tuple(sorted(MONITORS))
    for t in range(tenants):
        made += [_result(service, tenant_id(t), t, s, now) for s, service in enumerate(services)]
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
    name = f"bench_api_{uuid.uuid4().hex[:8]}"
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


def clear_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{KEY_PREFIX}*", count=10_000))
    for start in range(0, len(keys), 10_000):
        client.delete(*keys[start : start + 10_000])
    client.close()


def seed(url: str, args: argparse.Namespace, figures: dict[str, Any]) -> None:
    engine = make_engine(url)
    started = time.perf_counter()
    if args.layout == "platform":
        cipher = Cipher.from_setting(SECRET_KEY)
        rows = [tenant_row(n, f"{n:024x}") for n in range(args.tenants)]
        for start in range(0, len(rows), 2000):
            upsert_tenants(engine, cipher, rows[start : start + 2000])
    seeded = results(args.tenants, args.layout, datetime.now(UTC) - timedelta(minutes=1))
    for start in range(0, len(seeded), 10_000):
        record_results(engine, seeded[start : start + 10_000], run_id=str(uuid.uuid4()))
    engine.dispose()
    if args.redis_url:
        clear_redis(args.redis_url)
        cache = RedisCache(args.redis_url)
        for start in range(0, len(seeded), 10_000):
            cache.set_many(cache_entries(seeded[start : start + 10_000]), 3600)
        cache.close()
    figures["targets"] = len(seeded)
    figures["seed_s"] = round(time.perf_counter() - started, 2)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


@contextmanager
def api_process(
    database_url: str, redis_url: str | None, config: Path | None, log: Path
) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "HEALTHMON_DATABASE_URL": database_url,
        "HEALTHMON_API_TOKENS": f"bench:read:{TOKEN}",
        "HEALTHMON_SECRET_KEY": SECRET_KEY,
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    env.pop("HEALTHMON_CONFIG", None)
    env.pop("HEALTHMON_REDIS_URL", None)
    if config is not None:
        env["HEALTHMON_CONFIG"] = str(config)
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
            wait_port(port, timeout=60)
            yield f"http://127.0.0.1:{port}", process.pid
        finally:
            process.terminate()
            process.wait(timeout=10)


IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


def timed(
    client: httpx.Client, path: str, headers: dict[str, str] | None = None
) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.get(path, headers=headers or IDENTITY)
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code not in (200, 304):
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    return elapsed, response


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 1),
        "p99_ms": round(ordered[max(0, round(0.99 * len(ordered)) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


def route(
    client: httpx.Client, pid: int, path: str, requests: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """`requests` requests of one route: percentiles, bytes on the wire, API CPU per request."""
    timed(client, path, headers)  # a first one outside the figures: what it builds is kept
    before = cpu_s(pid)
    samples, response = [], None
    for _ in range(requests):
        elapsed, response = timed(client, path, headers)
        samples.append(elapsed)
    assert response is not None
    return {
        **percentiles(samples),
        "status": response.status_code,
        "wire_bytes": response.num_bytes_downloaded,
        "body_bytes": len(response.content),
        "api_cpu_ms_per_request": round((cpu_s(pid) - before) * 1000 / requests, 2),
    }


def walk(client: httpx.Client, service: str, limit: int) -> dict[str, Any]:
    """Every page of one service: pages, targets, whether each tenant came exactly once."""
    started = time.perf_counter()
    seen: list[str | None] = []
    pages, cursor, total = 0, None, None
    while True:
        path = f"/api/platform/health/{service}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = timed(client, path)[1].json()
        pages += 1
        total = body["total"]
        seen += [t["tenant"] for t in body["targets"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    return {
        "pages": pages,
        "targets": len(seen),
        "total": total,
        "each_once": len(seen) == len(set(seen)) == total,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _spread(name: str, f: dict[str, Any]) -> str:
    spread = ", ".join(f"{p} {f[p + '_ms']} ms" for p in ("p50", "p95", "p99", "max"))
    return f"{name:>18}: {spread}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--layout", choices=("platform", "every"), default="platform")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("HEALTHMON_BENCH_DATABASE_URL") or None)
    parser.add_argument("--redis-url", default=None, help="serve the cache from Redis (default: in-process)")
    parser.add_argument("--paced-s", type=float, default=15.0)
    args = parser.parse_args()
    figures: dict[str, Any] = {
        "tenants": args.tenants,
        "layout": args.layout,
        "requests": args.requests,
        "cpus": os.cpu_count(),
        "load_1m_at_start": round(os.getloadavg()[0], 2),
    }
    with database(args.database_url) as url, tempfile.TemporaryDirectory() as tmp:
        figures["backend"] = make_url(url).get_backend_name()
        figures["cache"] = "redis" if args.redis_url else "memory"
        seed(url, args, figures)
        config = None
        if args.layout == "platform":
            config = Path(tmp) / "healthmon.yaml"
            config.write_text(yaml.safe_dump({"services": PLATFORM_SETTINGS}))
        with (
            api_process(url, args.redis_url, config, Path(tmp) / "api.log") as (base, pid),
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client,
        ):
            deadline = time.monotonic() + 60
            while client.get("/healthz").status_code != 200:  # listening is not yet serving
                if time.monotonic() > deadline:
                    raise TimeoutError("the API did not become healthy")
                time.sleep(0.1)
            cold_ms, first = timed(client, "/api/platform/health/matrix")
            cells = len(first.json()["cells"])
            assert cells == figures["targets"], (cells, figures["targets"])
            figures["cold_ms"] = round(cold_ms, 1)
            n = args.requests
            figures["master"] = route(client, pid, "/api/platform/health", n)
            figures["service_page"] = route(client, pid, "/api/platform/health/shopify", n)
            figures["service_page_5000"] = route(
                client, pid, "/api/platform/health/shopify?limit=5000", max(5, n // 10)
            )
            figures["service_platform"] = route(client, pid, "/api/platform/health/postgres", n)
            figures["service_walk"] = walk(client, "shopify", 500)
            figures["matrix"] = route(client, pid, "/api/platform/health/matrix", n)
            figures["matrix_gzip"] = route(client, pid, "/api/platform/health/matrix", n, GZIP)
            etag = timed(client, "/api/platform/health/matrix", GZIP)[1].headers["etag"]
            figures["matrix_304"] = route(
                client, pid, "/api/platform/health/matrix", n, {**GZIP, "If-None-Match": etag}
            )
            figures["matrix_filtered"] = route(
                client, pid, "/api/platform/health/matrix?status=unhealthy&tier=core", n
            )
            figures["metrics"] = route(client, pid, "/metrics", max(5, n // 10))
            if args.redis_url:
                writer = RedisCache(args.redis_url)
                rebuilds = []
                for _ in range(5):
                    invalidate_views(writer)
                    rebuilds.append(timed(client, "/api/platform/health/matrix", GZIP)[0])
                writer.close()
                figures["after_write"] = percentiles(rebuilds)
            paced = []
            end = time.monotonic() + args.paced_s
            while time.monotonic() < end:
                started = time.monotonic()
                paced.append(timed(client, "/api/platform/health/matrix", GZIP)[0])
                time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))
            figures["paced"] = {**percentiles(paced), "requests": len(paced), "seconds": args.paced_s}
            figures["api_peak_rss_mb"] = peak_rss_mb(pid)
    figures["load_1m_at_end"] = round(os.getloadavg()[0], 2)
    targets = {"master": 10, "service_page": 50, "matrix": 100, "matrix_gzip": 100, "matrix_304": 100}
    figures["targets_p95_ms"] = {**targets, "metrics_max": 500, "api_peak_rss_mb": 500}
    figures["meets_targets"] = (
        all(figures[k]["p95_ms"] < v for k, v in targets.items())
        and figures["metrics"]["max_ms"] < 500
        and figures["api_peak_rss_mb"] < 500
    )
    figures["command"] = "benchmarks/api_matrix.py " + " ".join(sys.argv[1:])

    print(
        f"{figures['tenants']} tenants ({figures['layout']} layout) = {figures['targets']} targets on "
        f"{figures['backend']} with a {figures['cache']} cache (seeded in {figures['seed_s']} s); "
        f"load average {figures['load_1m_at_start']} at the start, {figures['load_1m_at_end']} at the end"
    )
    print(f"cold first matrix request: {figures['cold_ms']} ms")
    for name in (
        "master",
        "service_page",
        "service_page_5000",
        "service_platform",
        "matrix",
        "matrix_gzip",
        "matrix_304",
        "matrix_filtered",
        "metrics",
    ):
        f = figures[name]
        print(
            f"{_spread(name, f)}; {f['wire_bytes']} bytes on the wire ({f['body_bytes']} decoded); "
            f"API CPU {f['api_cpu_ms_per_request']} ms/request"
        )
    w = figures["service_walk"]
    print(
        f"      service_walk: {w['pages']} pages, {w['targets']} targets of {w['total']}, "
        f"each once: {w['each_once']}, {w['seconds']} s"
    )
    for name in ("after_write", "paced"):
        if name in figures:
            print(_spread(name, figures[name]))
    print(f"API process peak RSS: {figures['api_peak_rss_mb']} MB; meets targets: {figures['meets_targets']}")
    print("reproduce: .venv/bin/python " + figures["command"])
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
