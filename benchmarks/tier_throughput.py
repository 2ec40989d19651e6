"""Core-tier throughput over many sandbox Shopify tenants, against a bare aiohttp loop and
Prometheus blackbox_exporter, on the same upstream at the same concurrency.

    .venv/bin/python benchmarks/tier_throughput.py [--tenants 1000 10000] [--rounds 3]
        [--latency-ms 50] [--in-flight 200] [--batch-size 1000] [--batches-per-service N]
        [--database-url URL] [--redis-url URL] [--asyncio]

The sandbox runs in its own process (so it does not share this process's core); it, the
migrations and the tenant import are prepared once per N and serve every round. Each round
runs, one after the other (the order reversed every other round, so neither side always goes
first on a warmer or quieter machine):
1. bare: a bare aiohttp loop makes the N GraphQL shop requests, --in-flight at a time;
2. blackbox: blackbox_exporter (a child process, benchmarks/peers.py) probes one of those shop
   URLs N times, driven by `ab -n N -c IN_FLIGHT` (skipped, with a note, when the binary or
   `ab` is missing);
3. tier: a core-tier run (plan, check, evaluate, record, alert; no Prefect) checks the N shops
   with `max_in_flight_per_service` = --in-flight, on --database-url (a temporary SQLite file
   by default), with Redis as its cache when --redis-url is given.
It prints each round and the medians over the rounds (rates, CPU per check, the ratios
tier/bare and tier/blackbox as medians of the per-round ratios), peak RSS, and ends with one
JSON line that also names the Python, event loop and library versions. The bare loop and the
tier run share one event loop: uvloop when installed, as `healthmon check` and served flow runs
use it (healthmon/flows/event_loop.py); `--asyncio` runs both on asyncio's own loop
(`--uvloop`, the default now, is still accepted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import httpx
import yaml
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from benchmarks import peers
from healthmon.config import Settings
from healthmon.config.loader import parse_config
from healthmon.config.schema import HealthmonConfig
from healthmon.flows.app import build_app
from healthmon.flows.event_loop import use_uvloop
from healthmon.flows.pipeline import run_tier
from healthmon.flows.refs import TierRequest
from healthmon.monitors.result import Tier
from tests.support.servers import free_port, wait_port

QUERY = {"query": "{ shop { name myshopifyDomain plan { displayName } } }"}
PHASES = ("bare", "blackbox", "tier")
LIBRARIES = ("aiohttp", "httpx", "sqlalchemy", "psycopg", "redis", "prefect")


def cpu_s() -> float:
    """CPU seconds of this process so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def bare_loop(base: str, shops: list[tuple[str, str]], in_flight: int, version: str) -> float:
    gate = asyncio.Semaphore(in_flight)
    connector = aiohttp.TCPConnector(limit=in_flight)
    ok = 0
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(shop: str, token: str) -> None:
            nonlocal ok
            async with (
                gate,
                session.post(
                    f"{base}/shopify/{shop}/admin/api/{version}/graphql.json",
                    json=QUERY,
                    headers={"X-Shopify-Access-Token": token},
                ) as response,
            ):
                await response.read()
                ok += response.status == 200

        started = time.perf_counter()
        await asyncio.gather(*(one(s, t) for s, t in shops))
        elapsed = time.perf_counter() - started
    assert ok == len(shops), f"bare loop: {ok} of {len(shops)} answered 200"
    return elapsed


@dataclass(frozen=True)
class Bed:
    """What one N's rounds share: the sandbox and a store holding its tenants."""

    n: int
    base: str
    shops: list[tuple[str, str]]
    api_version: str
    config: HealthmonConfig
    settings: Settings


@dataclass(frozen=True)
class Sample:
    seconds: float
    per_s: float
    cpu_ms_per_check: float


def shopify_requests(bed: Bed) -> int:
    """How many Shopify requests the sandbox has answered so far."""
    stats = httpx.get(f"{bed.base}/_sandbox/stats", timeout=30).raise_for_status().json()
    return int(stats["requests"].get("shopify", 0))


# blocking calls here happen around the measured parts, never inside them
@contextmanager
def prepared(n: int, args: argparse.Namespace, tmp: Path) -> Iterator[Bed]:
    """The sandbox with N tenants, and the store migrated with them imported, for every round."""
    port, ready_from = free_port(), time.perf_counter()
    bed_dir = tmp / f"bed{n}"
    # the sandbox (and the bed it writes) live in another process, so this process's peak RSS
    # is the bare loop and the tier run, not 10,000 generated tenants
    sandbox = subprocess.Popen(
        [
            sys.executable, "-m", "healthmon.sandbox",
            "--port", str(port), "--tenants", str(n), "--bed", str(bed_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, timeout=60)
        base = f"http://127.0.0.1:{port}"
        httpx.post(
            f"{base}/_sandbox/faults", json={"service": "shopify", "kind": "latency", "ms": args.latency_ms}
        ).raise_for_status()
        config_path, tenants_path = bed_dir / "healthmon.yaml", bed_dir / "tenants.yaml"
        services = yaml.safe_load(config_path.read_text())["services"]
        shops = [
            (t["integrations"]["shopify"]["shop"], t["integrations"]["shopify"]["access_token"])
            for t in yaml.load(tenants_path.read_text(), Loader=yaml.CSafeLoader)["tenants"]
        ]
        db = args.database_url or f"sqlite:///{tmp}/bench{n}.db"
        config = parse_config(
            {
                "services": {"shopify": services["shopify"]},
                "run": {
                    "batch_size": args.batch_size,
                    "max_in_flight_per_service": args.in_flight,
                    "confirm_retries": 1,
                    **({"batches_per_service": args.batches_per_service} if args.batches_per_service else {}),
                },
            },
            env={},
        )
        secret = "benchmark-secret-key-0123456789"
        # migrations and the tenant import, as an operator runs them, in their own processes
        cli_env = {
            **os.environ,
            "HEALTHMON_DATABASE_URL": db,
            "HEALTHMON_SECRET_KEY": secret,
            "HEALTHMON_CONFIG": "",
        }
        for command in (["db", "upgrade"], ["tenants", "import", str(tenants_path)]):
            subprocess.run(
                [sys.executable, "-m", "healthmon.deployments.cli", *command],
                env=cli_env,
                check=True,
                capture_output=True,
            )
        settings = Settings(database_url=db, redis_url=args.redis_url, data_dir=tmp)
        settings.secret_key = SecretStr(secret)
        ready_s = time.perf_counter() - ready_from
        print(f"{n:>6} tenants: sandbox, migrations and import ready in {ready_s:.1f} s", flush=True)
        yield Bed(n, base, shops, services["shopify"]["api_version"], config, settings)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)


@contextmanager
def blackbox_peer(bed: Bed, tmp: Path, notes: list[str]) -> Iterator[peers.Blackbox | None]:
    """blackbox_exporter probing the first shop of the bed, or None (with a note) when it or
    `ab` is not installed."""
    missing = peers.unavailable()
    if missing is not None:
        notes.append(f"blackbox_exporter figures skipped, {missing}")
        yield None
        return
    shop, token = bed.shops[0]
    target = peers.Target(
        url=f"{bed.base}/shopify/{shop}/admin/api/{bed.api_version}/graphql.json",
        headers={"X-Shopify-Access-Token": token, "Content-Type": "application/json"},
        body=json.dumps(QUERY),
    )
    workdir = tmp / f"blackbox{bed.n}"
    workdir.mkdir()
    with peers.Blackbox.start(target, workdir) as peer:
        # fail before any round when the module is wrong, not after N failed probes
        peer.sample()
        yield peer


async def run_bare(bed: Bed, args: argparse.Namespace, peer: peers.Blackbox | None) -> Sample:
    cpu_before = cpu_s()
    seconds = await bare_loop(bed.base, bed.shops, args.in_flight, bed.api_version)
    return Sample(seconds, bed.n / seconds, 1000 * (cpu_s() - cpu_before) / bed.n)


async def run_blackbox(bed: Bed, args: argparse.Namespace, peer: peers.Blackbox | None) -> Sample:
    assert peer is not None
    served_before = shopify_requests(bed)
    drive = await asyncio.to_thread(peer.drive, bed.n, args.in_flight)
    # ab only sees the exporter's HTTP 200s, which a failed probe answers too: the upstream
    # must have been asked N times, and a probe made now must still succeed
    peer.sample()
    upstream = shopify_requests(bed) - served_before
    assert upstream == bed.n + 1, f"blackbox_exporter: the upstream saw {upstream} of {bed.n + 1} probes"
    return Sample(drive.seconds, drive.per_s, drive.cpu_ms_per_probe)


async def run_tier_once(bed: Bed, args: argparse.Namespace, peer: peers.Blackbox | None) -> Sample:
    # a fresh App each round, as each flow run of a process worker builds one
    runtime = build_app(bed.settings, bed.config)
    try:
        request = TierRequest(Tier.CORE, services=("shopify",), force=True, trigger="benchmark")
        started, cpu_before = time.perf_counter(), cpu_s()
        summary = await run_tier(runtime, request)
        seconds, cpu = time.perf_counter() - started, cpu_s() - cpu_before
        if bed.settings.redis_url:
            # RedisCache serves from memory while Redis fails: that would not be a Redis figure
            assert runtime.cache.backend == "redis", "the Redis cache fell back to memory"
    finally:
        runtime.close()
    reasons = sorted({str(r.reason) for r in summary.report.not_healthy})[:5]
    assert summary.checked == bed.n and summary.not_healthy == 0, (
        summary.checked, summary.not_healthy, reasons
    )
    return Sample(seconds, bed.n / seconds, 1000 * cpu / bed.n)


RUNNERS: dict[str, Callable[[Bed, argparse.Namespace, peers.Blackbox | None], Awaitable[Sample]]] = {
    "bare": run_bare,
    "blackbox": run_blackbox,
    "tier": run_tier_once,
}


def median(values: list[float], digits: int) -> float | None:
    return round(statistics.median(values), digits) if values else None


async def measure(n: int, args: argparse.Namespace, tmp: Path, notes: list[str]) -> dict[str, Any]:
    rounds: list[dict[str, Any]] = []
    blackbox_rss: float | None = None
    with prepared(n, args, tmp) as bed, blackbox_peer(bed, tmp, notes) as peer:
        for number in range(args.rounds):
            order = [p for p in (PHASES if number % 2 == 0 else PHASES[::-1]) if p != "blackbox" or peer]
            samples = {phase: await RUNNERS[phase](bed, args, peer) for phase in order}
            bare, tier, blackbox = samples["bare"], samples["tier"], samples.get("blackbox")
            row: dict[str, Any] = {
                "order": order,
                "bare_per_s": round(bare.per_s, 1),
                "blackbox_per_s": blackbox and round(blackbox.per_s, 1),
                "tier_per_s": round(tier.per_s, 1),
                "ratio_tier_bare": round(tier.per_s / bare.per_s, 3),
                "ratio_tier_blackbox": blackbox and round(tier.per_s / blackbox.per_s, 3),
                "bare_cpu_ms_per_check": round(bare.cpu_ms_per_check, 3),
                "blackbox_cpu_ms_per_probe": blackbox and round(blackbox.cpu_ms_per_check, 3),
                "tier_cpu_ms_per_check": round(tier.cpu_ms_per_check, 3),
            }
            rounds.append(row)
            print(
                f"{n:>6} tenants, round {number + 1} ({', '.join(order)}): bare {row['bare_per_s']}/s, "
                f"blackbox {row['blackbox_per_s']}/s, tier {row['tier_per_s']}/s; "
                f"tier/bare {row['ratio_tier_bare']}, tier/blackbox {row['ratio_tier_blackbox']}; "
                f"CPU per check bare {row['bare_cpu_ms_per_check']} ms, "
                f"tier {row['tier_cpu_ms_per_check']} ms",
                flush=True,
            )
        if peer is not None:
            blackbox_rss = peer.peak_rss_mb()

    def med(field: str, digits: int) -> float | None:
        return median([r[field] for r in rounds if r[field] is not None], digits)

    return {
        "tenants": n,
        "rounds": len(rounds),
        "bare_per_s": med("bare_per_s", 1),
        "blackbox_per_s": med("blackbox_per_s", 1),
        "tier_per_s": med("tier_per_s", 1),
        "ratio_tier_bare": med("ratio_tier_bare", 3),
        "ratio_tier_blackbox": med("ratio_tier_blackbox", 3),
        "bare_cpu_ms_per_check": med("bare_cpu_ms_per_check", 3),
        "blackbox_cpu_ms_per_probe": med("blackbox_cpu_ms_per_probe", 3),
        "tier_cpu_ms_per_check": med("tier_cpu_ms_per_check", 3),
        # this process: the bare loop and the tier run (the sandbox and the import are elsewhere)
        "peak_rss_mb": peak_rss_mb(),
        "blackbox_peak_rss_mb": blackbox_rss,
        "database": make_url(bed.settings.effective_database_url).get_backend_name(),
        "cache": "redis" if bed.settings.redis_url else "memory",
        "per_round": rounds,
    }


def versions() -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    uvloop = type(loop).__module__.startswith("uvloop")
    found: dict[str, Any] = {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "event_loop": f"uvloop {metadata.version('uvloop')}" if uvloop else "asyncio",
    }
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return {**found, **peers.versions()}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the medians are reported")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batches-per-service", type=int, default=None, help="default: the config's")
    parser.add_argument("--database-url", default=os.environ.get("HEALTHMON_BENCH_DATABASE_URL") or None)
    parser.add_argument(
        "--redis-url", default=os.environ.get("HEALTHMON_BENCH_REDIS_URL") or None, help="default: no Redis"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    notes: list[str] = []
    if args.database_url and len(args.tenants) > 1:
        # every N imports its tenants into the same store, and a tier run checks all of them
        notes.append("one --database-url for several --tenants: give the Ns in increasing order")
    figures: dict[str, Any] = {
        "latency_ms": args.latency_ms,
        "in_flight": args.in_flight,
        "batch_size": args.batch_size,
        "batches_per_service": args.batches_per_service,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "load_1m_at_start": round(os.getloadavg()[0], 2),
        "versions": versions(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.tenants:
            row = await measure(n, args, Path(tmp), notes)
            print(
                f"{n:>6} tenants, median of {row['rounds']}: bare aiohttp {row['bare_per_s']}/s, "
                f"blackbox_exporter {row['blackbox_per_s']}/s, tier run {row['tier_per_s']}/s; "
                f"tier/bare {row['ratio_tier_bare']}, tier/blackbox {row['ratio_tier_blackbox']}; "
                f"CPU per check: bare {row['bare_cpu_ms_per_check']} ms, "
                f"tier {row['tier_cpu_ms_per_check']} ms "
                f"(blackbox_exporter {row['blackbox_cpu_ms_per_probe']} ms per probe); peak RSS "
                f"{row['peak_rss_mb']} MB (blackbox_exporter {row['blackbox_peak_rss_mb']} MB)",
                flush=True,
            )
            figures[f"n{n}"] = row
    figures["notes"] = notes
    for note in notes:
        print(f"note: {note}")
    given = sys.argv[1:] + (["--asyncio"] if ASYNCIO else [])
    command = ".venv/bin/python benchmarks/tier_throughput.py " + " ".join(given)
    figures["command"] = command
    print("reproduce: " + command)
    print(json.dumps(figures))


ASYNCIO = "--asyncio" in sys.argv

if __name__ == "__main__":
    sys.argv = [a for a in sys.argv if a not in ("--asyncio", "--uvloop")]
    if not ASYNCIO:
        use_uvloop()
    asyncio.run(main())
