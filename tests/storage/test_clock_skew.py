"""A clock running ahead cannot freeze a target: the store's clock is the reference for
checked_at, and a latest status already in the future is replaced by the next result."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from healthmon.flows.pipeline import run_tier
from healthmon.flows.refs import TierRequest
from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.sandbox import SandboxState, start_in_thread
from healthmon.sandbox.server import RunningSandbox
from healthmon.storage import alerts as store
from healthmon.storage.db import MAX_CLOCK_SKEW_S, make_engine, store_now
from healthmon.storage.results import record_results, run_results
from healthmon.storage.status import checked_since, load_latest
from tests.support.app import AppFactory
from tests.support.rows import plant_status


def clock(engine: Engine) -> datetime:
    with engine.connect() as conn:
        return store_now(conn)


def result(status: Status, at: datetime, service: str = "stripe", **details: object) -> CheckResult:
    return CheckResult(service, None, Tier.CORE, status, 12.5, dict(details), at)


def test_a_result_from_a_clock_ten_minutes_ahead_is_recorded_at_store_time(db_url: str) -> None:
    engine = make_engine(db_url)
    before = clock(engine)
    ahead = before + timedelta(minutes=10)
    (recorded,) = record_results(engine, [result(Status.HEALTHY, ahead, http_status=200)], "ahead")
    after = clock(engine)

    assert before <= recorded.checked_at <= after
    latest = load_latest(engine, ["stripe"])[("stripe", None)]
    (kept,) = run_results(engine, ["ahead"])
    for row in (latest.to_result(), kept):
        assert row.checked_at == recorded.checked_at
        assert row.details["http_status"] == 200
        assert row.details["reported_checked_at"] == ahead.isoformat()
        # the skew is measured against the store's clock when it recorded: 600 s less the
        # time between reading `before` and recording
        skew = row.details["clock_skew_s"]
        assert (ahead - after).total_seconds() <= skew <= 600.0
    assert latest.since == recorded.checked_at

    # within the allowed skew a result keeps its own time and says nothing
    slightly = clock(engine) + timedelta(seconds=MAX_CLOCK_SKEW_S / 5)
    (fine,) = record_results(engine, [result(Status.HEALTHY, slightly, service="mux")], "fine")
    assert fine.checked_at == slightly
    assert "clock_skew_s" not in load_latest(engine, ["mux"])[("mux", None)].details


def test_a_future_status_row_is_repaired_by_the_next_result(db_url: str) -> None:
    engine = make_engine(db_url)
    tomorrow = clock(engine) + timedelta(days=1)
    # what a worker whose clock ran a day ahead left, before the store's clock was the reference
    plant_status(
        engine, "stripe", "healthy", tomorrow, consecutive=9, flips=5, flips_since=tomorrow, since=tomorrow
    )
    # not "recently checked": the planner must not skip the target that needs repairing
    assert checked_since(engine, "stripe", clock(engine) - timedelta(minutes=5)) == set()

    now = clock(engine)
    record_results(engine, [result(Status.UNHEALTHY, now, reason="HTTP 500")], "next", flap_window_s=3600)
    latest = load_latest(engine, ["stripe"])[("stripe", None)]
    assert latest.status is Status.UNHEALTHY and latest.checked_at == now
    assert latest.since == now and latest.consecutive == 1
    # the flap window that began "tomorrow" starts again with this change
    assert latest.flips == 1
    with engine.connect() as conn:
        previous, flips_since = conn.execute(
            text("SELECT previous_status, flips_since FROM service_status WHERE service = 'stripe'")
        ).one()
    assert previous == "healthy"
    assert flips_since is not None
    assert checked_since(engine, "stripe", now - timedelta(minutes=5)) == {None}

    # the streak the alert policy counts goes on from there
    later = clock(engine)
    record_results(engine, [result(Status.UNHEALTHY, later)], "again")
    latest = load_latest(engine, ["stripe"])[("stripe", None)]
    assert (latest.status, latest.consecutive, latest.since) == (Status.UNHEALTHY, 2, now)


def test_a_future_row_with_the_same_status_is_repaired_too(db_url: str) -> None:
    engine = make_engine(db_url)
    future = clock(engine) + timedelta(hours=3)
    plant_status(engine, "stripe", "unhealthy", future, consecutive=1, since=future)
    now = clock(engine)
    record_results(engine, [result(Status.UNHEALTHY, now)], "next")
    latest = load_latest(engine, ["stripe"])[("stripe", None)]
    assert latest.checked_at == now
    # the same status goes on, but it cannot have begun after the result that shows it
    assert latest.since == now and latest.consecutive == 2


def test_a_late_writer_is_still_ignored(db_url: str) -> None:
    engine = make_engine(db_url)
    now = clock(engine)
    record_results(engine, [result(Status.UNHEALTHY, now)], "next")
    record_results(engine, [result(Status.HEALTHY, now - timedelta(minutes=1))], "again")
    latest = load_latest(engine, ["stripe"])[("stripe", None)]
    assert (latest.status, latest.checked_at, latest.consecutive) == (Status.UNHEALTHY, now, 1)

    # a result ahead by less than the allowed skew is not "from the future": it stays newest
    slightly = clock(engine) + timedelta(seconds=MAX_CLOCK_SKEW_S * 0.6)
    record_results(engine, [result(Status.DEGRADED, slightly, service="mux")], "next")
    record_results(engine, [result(Status.HEALTHY, now, service="mux")], "again")
    mux = load_latest(engine, ["mux"])[("mux", None)]
    assert (mux.status, mux.checked_at) == (Status.DEGRADED, slightly)
    assert len(run_results(engine, ["next", "again"])) == 4  # history keeps every result


@pytest.fixture(scope="module")
def vendors() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(0)) as sandbox:
        yield sandbox


async def test_a_tier_run_after_a_future_row_turns_the_target_unhealthy(
    db_url: str, vendors: RunningSandbox, make_app: AppFactory
) -> None:
    key = vendors.state.platform.stripe_key
    stripe = {"enabled": True, "base_url": f"{vendors.base_url}/stripe", "api_key": key}
    runtime = make_app(db_url, {"services": {"stripe": stripe}})
    engine = runtime.engine
    plant_status(engine, "stripe", "healthy", clock(engine) + timedelta(days=2), consecutive=40)
    vendors.state.add_fault("stripe", "http_error", status=500)
    try:
        # a scheduled run, not forced: the future row must not make the planner skip stripe
        first = await run_tier(runtime, TierRequest(Tier.CORE, services=("stripe",)))
        assert (first.targets, first.skipped, first.checked, first.not_healthy) == (1, 0, 1, 1)
        latest = load_latest(engine, ["stripe"])[("stripe", None)]
        assert (latest.status, latest.consecutive) == (Status.UNHEALTHY, 1)
        assert latest.checked_at <= clock(engine)
        await run_tier(runtime, TierRequest(Tier.CORE, services=("stripe",), force=True))
    finally:
        vendors.state.clear_faults()
    latest = load_latest(engine, ["stripe"])[("stripe", None)]
    assert (latest.status, latest.consecutive) == (Status.UNHEALTHY, 2)
    # two confirmed failures in a row: the alert the frozen row used to prevent is open
    (alert,) = store.list_alerts(engine, ["open"])
    assert (alert["service"], alert["tenant_id"]) == ("stripe", None)
