"""Runs tell the truth: manual runs check and never push a scheduled check later, the skip
window follows the served interval, a run that skipped everything still reports what is
down, the heartbeat is pinged after every completed run."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web

from healthmon.flows.pipeline import run_tier
from healthmon.flows.refs import TierRequest
from healthmon.monitors.result import Status, Tier
from healthmon.sandbox import SandboxState, start_in_thread
from healthmon.sandbox.server import RunningSandbox
from healthmon.storage import alerts as store
from healthmon.storage.status import load_latest
from healthmon.storage.tier_runs import MANUAL, SCHEDULE, last_runs
from tests.support.app import AppFactory
from tests.support.servers import free_port


@pytest.fixture(scope="module")
def vendors() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(0)) as sandbox:
        yield sandbox


@pytest.fixture
def stripe(vendors: RunningSandbox) -> Iterator[dict[str, Any]]:
    vendors.state.reset()
    key = vendors.state.platform.stripe_key
    yield {"enabled": True, "base_url": f"{vendors.base_url}/stripe", "api_key": key}
    vendors.state.reset()


async def test_a_fault_right_after_a_manual_run_is_found_by_the_next_scheduled_run(
    db_url: str, stripe: dict[str, Any], vendors: RunningSandbox, make_app: AppFactory
) -> None:
    runtime = make_app(db_url, {"services": {"stripe": stripe}})
    await run_tier(runtime, TierRequest(Tier.CORE, trigger=SCHEDULE))
    # healthmon check, or Prefect's Run button
    manual = await run_tier(runtime, TierRequest(Tier.CORE, trigger=MANUAL))
    assert (manual.checked, manual.skipped) == (1, 0)  # by hand: checked whatever the last run
    vendors.state.add_fault("stripe", "http_error", status=503)
    # the next scheduled run comes moments after the manual one: it must not skip stripe
    found = await run_tier(runtime, TierRequest(Tier.CORE, trigger=SCHEDULE))
    assert (found.checked, found.skipped) == (1, 0)
    assert load_latest(runtime.engine, ["stripe"])[("stripe", None)].status is Status.UNHEALTHY
    # the scheduled run one interval later (a scale that has its skip window behind it) confirms
    # (open_after 2) and opens the alert: within one interval of the fault, plus confirmation
    confirmed = await run_tier(runtime, TierRequest(Tier.CORE, trigger=SCHEDULE, interval_scale=0.00001))
    assert confirmed.checked == 1 and confirmed.alerts.opened == 1
    assert [a["service"] for a in store.list_alerts(runtime.engine, ["open"])] == ["stripe"]
    triggers = [r.trigger for r in reversed(last_runs(runtime.engine, "core"))]
    assert triggers == [SCHEDULE, MANUAL, SCHEDULE, SCHEDULE]


async def test_a_duplicate_scheduled_run_skips_and_says_why_and_what_is_down(
    db_url: str, stripe: dict[str, Any], vendors: RunningSandbox, make_app: AppFactory
) -> None:
    runtime = make_app(db_url, {"services": {"stripe": stripe}})
    vendors.state.add_fault("stripe", "http_error", status=503)
    await run_tier(runtime, TierRequest(Tier.CORE, trigger=SCHEDULE))
    duplicate = await run_tier(runtime, TierRequest(Tier.CORE, trigger=SCHEDULE))
    assert (duplicate.checked, duplicate.skipped) == (0, 1)
    assert duplicate.skip_reason is not None and "checked by a scheduled run" in duplicate.skip_reason
    # the report is the tier's state, whichever run found it: never "everything healthy"
    assert [(r.service, r.status) for r in duplicate.report.not_healthy] == [("stripe", "unhealthy")]
    line = duplicate.line()
    assert line.startswith("checked 0 · skipped 1 (checked by a scheduled run in the last 225 s)")
    assert "· 1 not healthy ·" in line


async def test_the_skip_window_follows_the_interval_scale(
    sqlite_url: str, stripe: dict[str, Any], make_app: AppFactory
) -> None:
    runtime = make_app(sqlite_url, {"services": {"stripe": stripe}})
    # served every 3 ms
    await run_tier(runtime, TierRequest(Tier.CORE, trigger=SCHEDULE, interval_scale=0.00001))
    again = await run_tier(runtime, TierRequest(Tier.CORE, trigger=SCHEDULE, interval_scale=0.00001))
    assert (again.checked, again.skipped) == (1, 0)  # 3 ms later: due again
    unscaled = await run_tier(runtime, TierRequest(Tier.CORE, trigger=SCHEDULE))
    assert (unscaled.checked, unscaled.skipped) == (0, 1)  # at 5 min: a duplicate


@pytest.fixture
async def heartbeat() -> AsyncIterator[tuple[str, list[str]]]:
    pings: list[str] = []

    async def ping(request: web.Request) -> web.Response:
        pings.append(request.method)
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_get("/ping/{uuid}", ping)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/ping/5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278", pings
    await runner.cleanup()


async def test_every_completed_run_pings_the_heartbeat(
    sqlite_url: str, stripe: dict[str, Any], heartbeat: tuple[str, list[str]], make_app: AppFactory
) -> None:
    url, pings = heartbeat
    runtime = make_app(sqlite_url, {"services": {"stripe": stripe}, "watchdog": {"heartbeat_url": url}})
    await run_tier(runtime, TierRequest(Tier.CORE, trigger=SCHEDULE))
    # skips everything, and still completed
    await run_tier(runtime, TierRequest(Tier.CORE, trigger=SCHEDULE))
    assert pings == ["GET", "GET"]


async def test_a_failing_heartbeat_is_logged_without_its_url_and_never_fails_the_run(
    sqlite_url: str, stripe: dict[str, Any], make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}/ping/secret-check-uuid"  # nothing listens there
    runtime = make_app(sqlite_url, {"services": {"stripe": stripe}, "watchdog": {"heartbeat_url": url}})
    with caplog.at_level(logging.WARNING, logger="healthmon.tier"):
        summary = await run_tier(runtime, TierRequest(Tier.CORE, trigger=SCHEDULE))
    assert summary.checked == 1
    assert "heartbeat ping failed" in caplog.text
    assert "secret-check-uuid" not in caplog.text
