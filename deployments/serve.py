"""Deployments as code for one box (`healthmon serve`), and finding or starting a Prefect server.

Scheduled runs need a real `prefect server`: with the ephemeral API, serve registers the
deployments and never runs them (DESIGN.md, measured).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from healthmon.deployments.children import die_with_parent

if TYPE_CHECKING:
    from healthmon.monitors.result import Tier

#: each tier's deployment runs at most once at a time; a run due while one runs is cancelled
#: (last-run tracking already makes a late extra run skip fresh targets)
RETENTION_CRON = "17 3 * * *"
DELIVERY_INTERVAL_S = 60
#: a deliver run keeps looking for due notifications for its interval less this: room for its
#: process to start and end before the next run is due (a run still going then makes the
#: deployment's limit cancel the next one). The demo's 30 s interval lingers 15 s.
DELIVERY_ROOM_S = 15.0
#: how a deployment's description starts while no serve serves it
STOPPED = "Stopped: "
#: each call to the Prefect API while serve starts and stops
API_TIMEOUT_S = 5.0


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
            # each run keeps delivering for most of its interval, so a group's first message
            # leaves a few seconds after its group_wait, not up to an interval later
            parameters={"linger_s": max(0.0, delivery_interval_s - DELIVERY_ROOM_S)},
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


def serve_deployments(
    api_url: str, deployments: list[Any], registered: list[str], say: Callable[[str], None]
) -> None:
    """Register `deployments` (their ids appended to `registered` one by one, so the caller can
    mark them stopped however this ends), resume what the last stop paused, clear what a killed
    serve left, and run them until SIGTERM or Ctrl-C."""
    from prefect.exceptions import TerminationSignal

    from healthmon.deployments.leftovers import clear_leftovers
    from healthmon.deployments.newest_runner import NewestDueRunner

    earlier, stopped = asyncio.run(_earlier(api_url, deployments))
    # before registering: nothing runs them yet, and every run due by now was due while no
    # serve ran (registering schedules new ones, the first of them due right away)
    leftovers = asyncio.run(clear_leftovers(api_url, earlier)).line("serve")
    if leftovers:
        say(leftovers)
    # not Prefect's own pause on shutdown: `mark_stopped` pauses them and says why in the
    # deployments list, with timeouts that cannot hang the stop
    # only the newest due run of each deployment starts: no replay of a pile of late runs
    runner = NewestDueRunner(pause_on_shutdown=False)
    for deployment in deployments:
        registered.append(str(runner.add_deployment(deployment)))
    say(asyncio.run(_resume(api_url, dict(zip(registered, deployments, strict=True)), stopped)))
    # Ctrl-C stops as SIGTERM does (the runner handles that one itself): the runs in flight are
    # cancelled rather than left Running for the next start to mark crashed
    signal.signal(signal.SIGINT, runner.handle_sigterm)
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal):
        pass


class _RetryBusy(httpx.AsyncHTTPTransport):
    """Prefect's server answers 503 while its SQLite database is busy (seen with a loaded
    machine at serve's start and stop): ask again a few times, as Prefect's own client does."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for delay_s in (0.25, 0.5, 1.0, 2.0):
            response = await super().handle_async_request(request)
            if response.status_code not in (429, 502, 503):
                return response
            await response.aclose()
            await asyncio.sleep(delay_s)
        return await super().handle_async_request(request)


def prefect_api_client(api_url: str) -> httpx.AsyncClient:
    """A client of the Prefect REST API at `api_url` (".../api"), each call bounded."""
    return httpx.AsyncClient(base_url=api_url, timeout=API_TIMEOUT_S, transport=_RetryBusy())


async def _earlier(api_url: str, deployments: list[Any]) -> tuple[list[str], list[str]]:
    """The ids of `deployments` that an earlier serve registered, and the descriptions of those
    its stop marked "Stopped:" (before registering them again overwrites them)."""
    ids, stopped = [], []
    async with prefect_api_client(api_url) as client:
        for deployment in deployments:
            answer = await client.get(f"/deployments/name/{deployment.flow_name}/{deployment.name}")
            if answer.status_code == 404:  # served for the first time
                continue
            answer.raise_for_status()
            ids.append(answer.json()["id"])
            description = answer.json().get("description") or ""
            if description.startswith(STOPPED):
                stopped.append(description)
    return ids, stopped


async def _resume(api_url: str, served: Mapping[str, Any], stopped: list[str]) -> str:
    """Registering re-applies each deployment (unpaused, its own description) but leaves its
    runs to the server's scheduler loop (60 s by default): check the first, schedule the next
    runs now (the scheduler tops them up as usual)."""
    async with prefect_api_client(api_url) as client:
        for deployment_id, deployment in served.items():
            answer = await client.get(f"/deployments/{deployment_id}")
            answer.raise_for_status()
            current = answer.json()
            if current["paused"] or current.get("description") != deployment.description:
                fixed = {"paused": False, "description": deployment.description}
                (await client.patch(f"/deployments/{deployment_id}", json=fixed)).raise_for_status()
            scheduled = await client.post(f"/deployments/{deployment_id}/schedule", json={"max_runs": 3})
            scheduled.raise_for_status()
    line = f"serving {len(served)} deployments, their next runs scheduled"
    if stopped:
        line += f"; resumed {len(stopped)} that the last stop paused ({stopped[0].removeprefix(STOPPED)})"
    return line


def stopped_description(at: datetime, host: str, pid: int) -> str:
    """What a deployment's description says while no serve serves it (the Prefect UI's
    deployments list shows it): API clients cannot set a deployment's status to NOT_READY."""
    return (
        f"{STOPPED}healthmon serve stopped at {at.astimezone(UTC):%Y-%m-%d %H:%M}Z on {host} (pid {pid}); "
        "nothing runs until it starts again"
    )


def mark_stopped(api_url: str, deployment_ids: list[str], description: str, total_s: float = 20.0) -> str:
    """Pause the deployments this serve served (which drops their scheduled runs) with
    `description`; one line for the log of what happened. Never hangs: each call times out,
    and all of them together stop after `total_s`."""
    if not deployment_ids:
        return "stopping: no deployment was served yet"
    paused: list[str] = []

    async def pause_all() -> None:
        async with asyncio.timeout(total_s), prefect_api_client(api_url) as client:
            for deployment_id in deployment_ids:
                body = {"paused": True, "description": description}
                answer = await client.patch(f"/deployments/{deployment_id}", json=body)
                if answer.status_code != 404:  # deleted by hand meanwhile: nothing left to run
                    answer.raise_for_status()
                    paused.append(deployment_id)

    try:
        asyncio.run(pause_all())
    except (httpx.HTTPError, TimeoutError) as exc:
        if isinstance(exc, httpx.HTTPStatusError):
            why = f"HTTP {exc.response.status_code}"
        else:
            why = f"{type(exc).__name__}: {exc}" if str(exc) else f"no answer within {total_s:g} s"
        return (
            f"stopping: paused {len(paused)} deployments; the Prefect API at {api_url} did not answer "
            f"({why}), so {len(deployment_ids) - len(paused)} still look Ready in the Prefect UI "
            "(until it marks them Not Ready, 60 s after their last poll) and nothing runs them"
        )
    return f"stopping: paused {len(paused)} deployments"


def start_watchdog(settings: Any, config: Any, intervals: Mapping[Tier, float]) -> Callable[[], None]:
    """The watchdog loop in a thread of its own, with its own runtime and event loop, so it
    keeps looking whatever Prefect's scheduler and runner do; `intervals` are the served ones.
    Returns a function that stops it."""
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
    """Stop the Prefect server this process started, after handing it the log lines and events
    Prefect still holds: sent to a stopped server, they held the exit for about two minutes of
    retries (measured), each worker's wait here is at most 5 s."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    EventsWorker.drain_all(timeout=5)
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
    # a session of its own: Ctrl-C in a terminal reaches serve alone, which marks its
    # deployments stopped on this server before it stops it; and it dies with its parent
    process = subprocess.Popen(
        argv,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent(),
    )
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
