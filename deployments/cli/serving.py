"""`healthmon serve` and `healthmon watchdog`: the long-running processes. (Not serve.py:
that name is the module that builds the deployments, healthmon.deployments.serve.)"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from healthmon.deployments import exit_codes
from healthmon.deployments.cli.common import _app, _fail, _require_migrated, _with_app, err
from healthmon.monitors.result import Tier

if TYPE_CHECKING:
    import subprocess


def serve(
    prefect_port: Annotated[
        int, typer.Option(help="port for the Prefect server started when none is set")
    ] = 4200,
    interval_scale: Annotated[
        float, typer.Option(help="multiply every schedule interval (e.g. 0.1 for a quick demo)")
    ] = 1.0,
    # `healthmon demo` serves each tier on an interval of its own, and only the tiers that
    # have something to check; hidden, because an operator's schedules are the tiers' own
    tier_interval: Annotated[
        list[str] | None, typer.Option(hidden=True, help="TIER=SECONDS: serve only the tiers named")
    ] = None,
    delivery_interval: Annotated[float | None, typer.Option(hidden=True, help="seconds")] = None,
) -> None:
    """Run every tier on its schedule, the delivery retries every minute and retention daily.

    Uses PREFECT_API_URL when set; otherwise starts `prefect server` on loopback (its state
    under HEALTHMON_DATA_DIR/prefect). Retention runs once at start, so a box that was down
    catches up.
    """
    from healthmon.deployments.serve import DELIVERY_INTERVAL_S, api_healthy, start_prefect_server

    intervals = _served_intervals(interval_scale, tier_interval or [])
    if delivery_interval is not None and delivery_interval <= 0:
        _fail(exit_codes.USAGE, "--delivery-interval: must be more than 0")
    delivery_s = delivery_interval or DELIVERY_INTERVAL_S * interval_scale
    runtime = _app()
    _require_migrated(runtime)
    server = None
    halt_watchdog: Callable[[], None] | None = None
    halt_renamer: Callable[[], None] | None = None
    #: the ids of the deployments registered so far: what the stop marks stopped
    served: list[str] = []
    api = os.environ.get("PREFECT_API_URL")
    if api:
        if not api_healthy(api):
            _fail(exit_codes.USAGE, f"PREFECT_API_URL: no Prefect API answers at {api}")
    else:
        try:
            server, api = start_prefect_server(runtime.settings.data_dir / "prefect", prefect_port)
        except RuntimeError as exc:
            _fail(exit_codes.USAGE, str(exc))
        os.environ["PREFECT_API_URL"] = api
    err.print(f"Prefect API at {api}")
    err.print(f"Prefect UI: {api.removesuffix('/').removesuffix('/api')}")

    def say(line: str) -> None:
        err.print(line, highlight=False)

    try:
        from healthmon.storage.retention import apply_retention

        cfg = runtime.config.retention
        caught_up = apply_retention(runtime.engine, cfg.history_days, cfg.alerts_days)
        future = caught_up.future_rows_deleted
        err.print(
            f"retention: dropped {len(caught_up.partitions_dropped)} partitions, "
            f"deleted {caught_up.history_rows_deleted} history rows"
            + (f" ({future} dated in the future)" if future else "")
            + f" and {caught_up.alerts_deleted} alerts"
        )
        runtime.close()
        from healthmon.deployments.run_names import start_renamer
        from healthmon.deployments.serve import build_deployments, serve_deployments, start_watchdog

        # the watchdog does not wait on Prefect: it looks at the store on its own clock. Its
        # settings name the API served here, so it expects the `prefect` monitor's results too
        settings = runtime.settings.model_copy(update={"prefect_api_url": api})
        halt_watchdog = start_watchdog(settings, runtime.config, intervals)
        # upcoming runs get readable names ("core 2026-12-01 07:35Z") instead of Prefect's random ones
        halt_renamer = start_renamer()
        # Prefect's runner handles SIGTERM itself: it cancels runs in progress and returns
        serve_deployments(api, build_deployments(intervals, delivery_s), served, say)
    except KeyboardInterrupt:
        pass
    finally:
        if halt_renamer is not None:
            halt_renamer()
        _stop(api, served, halt_watchdog, server)


def _stop(
    api: str,
    served: list[str],
    halt_watchdog: Callable[[], None] | None,
    server: subprocess.Popen[bytes] | None,
) -> None:
    """Mark what was served stopped while the Prefect server still answers, then stop the rest.
    Nothing here pings the heartbeat: a stopped serve must look stopped from outside too."""
    import socket
    from datetime import UTC, datetime

    from healthmon.deployments.serve import mark_stopped, stop_server, stopped_description

    description = stopped_description(datetime.now(UTC), socket.gethostname(), os.getpid())
    err.print(mark_stopped(api, served, description), highlight=False)
    if halt_watchdog is not None:
        halt_watchdog()
    if server is not None:
        stop_server(server)


def _served_intervals(interval_scale: float, named: list[str]) -> dict[Tier, float]:
    """Every tier at its interval times `interval_scale`, or only the tiers `named` as
    TIER=SECONDS, at those."""
    from healthmon.flows.watchdog import tier_intervals

    if not named:
        return tier_intervals(interval_scale)
    intervals: dict[Tier, float] = {}
    for item in named:
        tier, _, seconds = item.partition("=")
        try:
            intervals[Tier(tier)] = float(seconds)
        except ValueError:
            known = ", ".join(t.value for t in Tier)
            _fail(exit_codes.USAGE, f"--tier-interval: {item!r} is not TIER=SECONDS (tiers: {known})")
        if intervals[Tier(tier)] <= 0:
            _fail(exit_codes.USAGE, f"--tier-interval: {item!r}: the interval must be more than 0")
    return intervals


def watchdog(
    once: Annotated[
        bool, typer.Option("--once", help="look once and exit: 0 fresh, 1 stale, 3 store unreachable")
    ] = False,
    interval_scale: Annotated[
        float, typer.Option(help="the --interval-scale that `healthmon serve` runs with")
    ] = 1.0,
) -> None:
    """Alert when a tier goes stale: no completed run, or targets without a fresh result, for
    `watchdog.stale_after` intervals. Runs outside Prefect; keep it alive where serve is not."""
    from healthmon.flows.watchdog import tier_intervals, watch_forever, watch_once

    if interval_scale <= 0:
        _fail(exit_codes.USAGE, "--interval-scale: must be more than 0")
    intervals = tier_intervals(interval_scale)
    if once:
        report = _with_app(lambda rt: asyncio.run(watch_once(rt, intervals)))
        err.print(report.line(), highlight=False)
        raise typer.Exit(exit_codes.NOT_HEALTHY if report.stale else exit_codes.OK)
    runtime = _app()
    err.print(f"watchdog: looking every {runtime.config.watchdog.check_every_s:g} s (Ctrl-C stops)")

    async def loop() -> None:
        import signal

        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await watch_forever(runtime, intervals, stop)

    try:
        asyncio.run(loop())
    finally:
        runtime.close()


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(watchdog)
