"""Deployments as code for one box (`healthmon serve`), and finding or starting a Prefect server.

Scheduled runs need a real `prefect server`: with the ephemeral API, serve registers the
deployments and never runs them (DESIGN.md, measured).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from healthmon.monitors.result import Tier

#: each tier's deployment runs at most once at a time; a run due while one runs is cancelled
#: (last-run tracking already makes a late extra run skip fresh targets)
RETENTION_CRON = "17 3 * * *"
DELIVERY_INTERVAL_S = 60


def build_deployments(
    intervals: Mapping[Tier, float] | None = None, delivery_interval_s: float = DELIVERY_INTERVAL_S
) -> list[Any]:
    """One deployment per tier in `intervals` (tier -> seconds; every tier at its own interval
    when None), the delivery retries every `delivery_interval_s` and retention daily."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Interval

    from healthmon.flows.housekeeping import retention
    from healthmon.flows.tier_run import deliver_notifications, tier_check
    from healthmon.flows.watchdog import tier_intervals
    from healthmon.monitors.result import TIERS

    served = tier_intervals() if intervals is None else intervals
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
    # anchored just ahead of now (runs are scheduled at anchor + k * interval, k >= 0, in the
    # future), so every tier runs right after start instead of one interval later: a box that
    # starts serving should show every status within a minute, not after 30
    anchor = datetime.now(UTC) + timedelta(seconds=10)
    deployments = [
        tier_check.to_deployment(
            name=f"tier-{tier.value}",
            schedule=Interval(timedelta(seconds=max(1.0, interval_s)), anchor_date=anchor),
            # the skip window of a duplicate scheduled run follows the served interval
            parameters={"tier": tier.value, "interval_scale": interval_s / TIERS[tier].interval_s},
            concurrency_limit=one_at_a_time,
            tags=["healthmon", f"tier:{tier.value}"],
            description=f"The {tier.value} tier every {interval_s:g} s",
        )
        for tier, interval_s in served.items()
    ]
    deployments.append(
        deliver_notifications.to_deployment(
            name="deliver",
            interval=timedelta(seconds=max(1.0, delivery_interval_s)),
            concurrency_limit=one_at_a_time,
            tags=["healthmon"],
        )
    )
    deployments.append(
        retention.to_deployment(
            name="retention", cron=RETENTION_CRON, concurrency_limit=one_at_a_time, tags=["healthmon"]
        )
    )
    return deployments


def start_watchdog(settings: Any, config: Any, intervals: Mapping[Tier, float]) -> Callable[[], None]:
    """The watchdog loop in a thread of its own, with its own runtime and event loop, so it
    keeps looking whatever Prefect's scheduler and runner do; `intervals` are the served ones.
    Returns a function that stops it."""
    import asyncio
    import threading

    from healthmon.flows.app import build_app
    from healthmon.flows.watchdog import watch_forever

    runtime = build_app(settings, config)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        try:
            loop.run_until_complete(watch_forever(runtime, intervals, stop))
        finally:
            loop.close()
            runtime.close()

    thread = threading.Thread(target=run, name="healthmon-watchdog", daemon=True)
    thread.start()

    def halt() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)

    return halt


def stop_server(process: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def api_healthy(url: str, timeout_s: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def prefect_server_command(
    home: Path, port: int, given: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of `prefect server start` on loopback with its state (the
    embedded SQLite database) under `home`; `given` is the environment to start from."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        # the scheduler creates due runs every 60 s by default: a fresh box waited that long
        # before its first run
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "10",
        **given,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": given.get("PREFECT_UI_ENABLED", "true"),
    }
    env.pop("PREFECT_API_URL", None)
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    return argv, env


def start_prefect_server(
    home: Path, port: int, timeout_s: float = 60.0
) -> tuple[subprocess.Popen[bytes], str]:
    """`prefect server start` on loopback, its state under `home`; returns once it answers."""
    argv, env = prefect_server_command(home, port, os.environ)
    log = (home / "server.log").open("ab")
    process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited with {process.returncode}; see {home / 'server.log'}")
        if api_healthy(url, 1.0):
            return process, url
        time.sleep(0.25)
    process.terminate()
    raise RuntimeError(f"prefect server did not answer within {timeout_s:g}s; see {home / 'server.log'}")
