"""Core-tier throughput over many sandbox Shopify tenants, against a bare aiohttp loop.

    .venv/bin/python benchmarks/tier_throughput.py [--tenants 1000 10000] [--latency-ms 50]
        [--in-flight 200] [--batch-size 1000] [--database-url URL]

The sandbox runs in its own process (so it does not share this process's core). For each N:
1. a bare aiohttp loop makes the same N GraphQL shop requests at the same concurrency;
2. a core-tier run (plan, check, evaluate, record, alert; no Prefect) checks the N shops with
   `max_in_flight_per_service` = --in-flight.
It prints wall time, checks/s, the ratio tier/bare, and peak RSS of this process, and ends
with one JSON line. `--uvloop` runs both under uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import httpx
import yaml
from pydantic import SecretStr

from healthmon.config import Settings
from healthmon.config.loader import parse_config
from healthmon.flows.app import build_app
from healthmon.flows.pipeline import run_tier
from healthmon.flows.refs import TierRequest
from healthmon.monitors.result import Tier
from tests.support.servers import free_port, wait_port

QUERY = {"query": "{ shop { name myshopifyDomain plan { displayName } } }"}


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


# blocking calls here happen around the measured parts, never inside them
async def measure(n: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    port = free_port()
    bed = tmp / f"bed{n}"
    # the sandbox (and the bed it writes) live in another process, so this process's peak RSS
    # is the bare loop and the tier run, not 10,000 generated tenants
    sandbox = subprocess.Popen(
        [
            sys.executable, "-m", "healthmon.sandbox",
            "--port", str(port), "--tenants", str(n), "--bed", str(bed),
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
        config_path, tenants_path = bed / "healthmon.yaml", bed / "tenants.yaml"
        services = yaml.safe_load(config_path.read_text())["services"]
        shops = [
            (t["integrations"]["shopify"]["shop"], t["integrations"]["shopify"]["access_token"])
            for t in yaml.load(tenants_path.read_text(), Loader=yaml.CSafeLoader)["tenants"]
        ]

        cpu_before = cpu_s()
        bare_s = await bare_loop(base, shops, args.in_flight, services["shopify"]["api_version"])
        bare_cpu = cpu_s() - cpu_before

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
        settings = Settings(database_url=db, data_dir=tmp)
        settings.secret_key = SecretStr(secret)
        runtime = build_app(settings, config)
        request = TierRequest(Tier.CORE, services=("shopify",), force=True, trigger="benchmark")
        started, cpu_before = time.perf_counter(), cpu_s()
        summary = await run_tier(runtime, request)
        tier_s, tier_cpu = time.perf_counter() - started, cpu_s() - cpu_before
        reasons = sorted({str(r.reason) for r in summary.report.not_healthy})[:5]
        runtime.close()
        assert summary.checked == n and summary.not_healthy == 0, (summary.not_healthy, reasons)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    return {
        "tenants": n,
        "bare_s": round(bare_s, 2),
        "bare_per_s": round(n / bare_s, 1),
        "tier_s": round(tier_s, 2),
        "tier_per_s": round(n / tier_s, 1),
        "ratio": round((n / tier_s) / (n / bare_s), 3),
        "bare_cpu_ms_per_check": round(1000 * bare_cpu / n, 3),
        "tier_cpu_ms_per_check": round(1000 * tier_cpu / n, 3),
        "peak_rss_mb": peak_rss_mb(),
        "database": db.split(":")[0],
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batches-per-service", type=int, default=None, help="default: the config's")
    parser.add_argument("--database-url", default=os.environ.get("HEALTHMON_BENCH_DATABASE_URL") or None)
    args = parser.parse_args()
    figures: dict[str, Any] = {
        "latency_ms": args.latency_ms,
        "in_flight": args.in_flight,
        "batch_size": args.batch_size,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.tenants:
            row = await measure(n, args, Path(tmp))
            print(
                f"{n:>6} tenants: bare aiohttp {row['bare_per_s']:>7}/s ({row['bare_s']} s), "
                f"tier run {row['tier_per_s']:>7}/s ({row['tier_s']} s), ratio {row['ratio']}, "
                f"peak RSS {row['peak_rss_mb']} MB; CPU per check: bare {row['bare_cpu_ms_per_check']} ms, "
                f"tier {row['tier_cpu_ms_per_check']} ms"
            )
            figures[f"n{n}"] = row
    print("reproduce: .venv/bin/python benchmarks/tier_throughput.py " + " ".join(sys.argv[1:]))
    print(json.dumps(figures))


if __name__ == "__main__":
    if "--uvloop" in sys.argv:
        import uvloop

        sys.argv.remove("--uvloop")
        uvloop.run(main())
    else:
        asyncio.run(main())
