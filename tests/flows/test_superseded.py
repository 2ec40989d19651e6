"""No replay of stale runs (issue 14, point 5), on a real Prefect API (the session harness):
a tier deployment whose worker stalled has three late scheduled runs; when they are executed
the way a returning runner executes them, only the newest checks anything."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
)
from prefect.client.schemas.objects import (
    ConcurrencyLimitConfig,
    ConcurrencyLimitStrategy,
    FlowRun,
    StateType,
)
from prefect.client.schemas.responses import OrchestrationResult, SetStateStatus
from prefect.flow_engine import run_flow_async
from prefect.schedules import Interval
from prefect.states import Pending
from sqlalchemy import text

from tests.support.app import AppFactory
from tests.support.prefect_logs import log_lines

#: the stalled tier's interval: long, so that no run of the schedule falls due during the test
INTERVAL = timedelta(hours=1)


async def _deployment(tag: str) -> UUID:
    """A tier deployment as `healthmon serve` builds it (deployments/serve.py build_deployments:
    one run at a time, CANCEL_NEW), its schedule anchored so that its slots lie 3.5, 2.5, 1.5
    and 0.5 hours ago (then 0.5 hours ahead)."""
    from healthmon.flows.tier_run import tier_check

    anchor = datetime.now(UTC).replace(microsecond=0) - 3 * INTERVAL - INTERVAL / 2
    deployment = await tier_check.ato_deployment(
        name=f"tier-critical-{tag}",
        schedule=Interval(INTERVAL, anchor_date=anchor),
        parameters={"tier": "critical"},
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        ),
        tags=[tag],
    )
    deployment_id: UUID = await deployment.aapply()
    return deployment_id


async def _late_runs(client: PrefectClient, deployment_id: UUID, count: int = 3) -> list[FlowRun]:
    """`count` runs of the deployment's schedule in the past (t-3i, t-2i, t-i), made by
    Prefect's scheduler itself (the schedule endpoint, as for a backfill), oldest first: what
    piles up while no worker polls."""
    deployment = await client.read_deployment(deployment_id)
    anchor = deployment.schedules[0].schedule.anchor_date  # type: ignore[union-attr]
    answer = await client._client.post(
        f"/deployments/{deployment_id}/schedule",
        json={
            "start_time": anchor.isoformat(),
            "end_time": (anchor + (count - 0.5) * INTERVAL).isoformat(),
            "max_runs": count,
        },
    )
    answer.raise_for_status()
    runs = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id]))
    )
    late = sorted(
        (r for r in runs if r.expected_start_time and r.expected_start_time < datetime.now(UTC)),
        key=lambda r: r.expected_start_time or datetime.min,
    )
    assert len(late) == count and all(r.auto_scheduled for r in late)
    return late


async def _execute(client: PrefectClient, run: FlowRun) -> FlowRun:
    """What the runner does with a run it picked up (prefect/runner/_scheduled_run_poller.py):
    propose Pending, which takes the deployment's concurrency slot, then run the flow; the flow
    runs in this process, on the App the test hosts."""
    from healthmon.flows.tier_run import tier_check

    accepted: OrchestrationResult[Any] = await client.set_flow_run_state(run.id, Pending())
    assert accepted.status is SetStateStatus.ACCEPT, accepted
    await run_flow_async(
        tier_check,
        flow_run=await client.read_flow_run(run.id),
        parameters=run.parameters,
        return_type="state",
    )
    return await client.read_flow_run(run.id)


def _stamp(run: FlowRun) -> str:
    assert run.expected_start_time is not None
    return run.expected_start_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _recorded(runtime: Any) -> tuple[int, list[tuple[str, str]]]:
    with runtime.engine.connect() as conn:
        history = conn.execute(text("SELECT count(*) FROM health_check_history")).scalar_one()
        runs = conn.execute(text("SELECT trigger, flow_run_id FROM tier_runs")).all()
    return history, [(r.trigger, r.flow_run_id) for r in runs]


def _config(pg_server_url: str, redis_url: str) -> dict[str, Any]:
    return {"services": {"postgres": {"dsn": pg_server_url}, "redis": {"url": redis_url}}}


def _ids(runs: Sequence[FlowRun]) -> list[str]:
    return [str(r.id) for r in runs]


async def test_a_returning_worker_runs_only_the_newest_late_run_the_older_ones_are_superseded(
    prefect_harness: None, sqlite_url: str, pg_server_url: str, redis_url: str, make_app: AppFactory
) -> None:
    runtime = make_app(sqlite_url, _config(pg_server_url, redis_url))
    deployment_id = await _deployment(f"stall-{uuid.uuid4().hex[:8]}")
    async with get_client() as client:
        oldest, middle, newest = await _late_runs(client, deployment_id)
        # the worker is back and works through the pile in order, one at a time
        ended = [await _execute(client, run) for run in (oldest, middle, newest)]
        lines = await log_lines(client, oldest.id, "superseded by")

    for run, state in zip((oldest, middle), ended[:2], strict=True):
        assert state.state is not None
        assert (state.state.type, state.state.name) == (StateType.CANCELLED, "Superseded")
        message = state.state.message or ""
        # names the run that checks instead, and both scheduled times
        assert message.startswith(f"superseded by {newest.name} (scheduled {_stamp(newest)}), also due: ")
        assert f"this run was scheduled {_stamp(run)}" in message and message.endswith("and checks nothing")
    assert ended[0].state is not None and ended[0].state.message in lines
    final = ended[2].state
    assert final is not None and final.is_completed()
    assert (final.message or "").startswith("checked 2 · skipped 0 · 0 not healthy")
    # only the newest checked and left a record: two results, one tier run, a scheduled one
    history, runs = _recorded(runtime)
    assert history == 2
    assert runs == [("schedule", str(newest.id))]


async def test_late_runs_submitted_at_once_leave_one_run_that_checks(
    prefect_harness: None, sqlite_url: str, pg_server_url: str, redis_url: str, make_app: AppFactory
) -> None:
    from healthmon.flows.superseded import CONCURRENCY_CANCELLED
    from healthmon.flows.tier_run import tier_check

    runtime = make_app(sqlite_url, _config(pg_server_url, redis_url))
    deployment_id = await _deployment(f"burst-{uuid.uuid4().hex[:8]}")
    async with get_client() as client:
        late = await _late_runs(client, deployment_id)
        # a returning runner submits every late run at once, oldest first: each proposes
        # Pending, and the deployment's limit (1, CANCEL_NEW) lets one through
        answers: list[OrchestrationResult[Any]] = await asyncio.gather(
            *(client.set_flow_run_state(r.id, Pending()) for r in late)
        )
        through = [r for r, a in zip(late, answers, strict=True) if a.status is SetStateStatus.ACCEPT]
        assert len(through) == 1
        (winner,) = through
        # (it is the oldest here, the first to ask; whichever it is, it checks for the newer ones)
        refused = late[late.index(winner) + 1 :]
        await run_flow_async(
            tier_check, flow_run=await client.read_flow_run(winner.id), parameters=winner.parameters
        )
        ended = {r.id: await client.read_flow_run(r.id) for r in late}
        if refused:
            lines = await log_lines(client, winner.id, "concurrency limit cancelled")
            (said,) = [line for line in lines if "concurrency limit cancelled" in line]
            assert f"checks for the {len(refused)} newer due run" in said
            assert all(r.name in said for r in refused)

    won = ended[winner.id].state
    assert won is not None and won.is_completed()
    for run in late:
        if run.id != winner.id:
            state = ended[run.id].state
            assert state is not None and state.type is StateType.CANCELLED
            assert state.message == CONCURRENCY_CANCELLED
    history, runs = _recorded(runtime)
    assert history == 2 and runs == [("schedule", str(winner.id))]


async def test_a_run_by_hand_is_never_superseded_and_is_recorded_manual(
    prefect_harness: None, sqlite_url: str, pg_server_url: str, redis_url: str, make_app: AppFactory
) -> None:
    from healthmon.flows.tier_run import tier_check

    runtime = make_app(sqlite_url, _config(pg_server_url, redis_url))
    deployment_id = await _deployment(f"hand-{uuid.uuid4().hex[:8]}")
    async with get_client() as client:
        await _late_runs(client, deployment_id, count=2)
        # the Run button / `prefect deployment run`: a run of the deployment not made by the
        # scheduler, while scheduled runs are due
        by_hand = await client.create_flow_run_from_deployment(deployment_id)
        assert not by_hand.auto_scheduled
        await client.set_flow_run_state(by_hand.id, Pending())
        await run_flow_async(
            tier_check, flow_run=await client.read_flow_run(by_hand.id), parameters=by_hand.parameters
        )
        ended = await client.read_flow_run(by_hand.id)

    assert ended.state is not None and ended.state.is_completed()
    # named after its start, not a slot of the schedule
    assert re.fullmatch(r"critical \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?Z \(by hand\)", ended.name), ended.name
    history, runs = _recorded(runtime)
    assert history == 2 and runs == [("manual", str(by_hand.id))]


async def test_the_run_an_older_one_deferred_to_checks_though_a_newer_one_is_due_by_then(
    prefect_harness: None, sqlite_url: str, pg_server_url: str, redis_url: str, make_app: AppFactory
) -> None:
    """A loaded box whose flow-run processes start later than the interval: each run, once it
    starts, finds the next one due. Deferring again and again, the tier would never check."""
    from healthmon.flows.superseded import SUPERSEDED

    runtime = make_app(sqlite_url, _config(pg_server_url, redis_url))
    deployment_id = await _deployment(f"chain-{uuid.uuid4().hex[:8]}")
    async with get_client() as client:
        oldest, deferred_to = await _late_runs(client, deployment_id, count=2)
        first = await _execute(client, oldest)
        # the next slot falls due before the run it deferred to gets to start
        (due_by_then,) = [
            r
            for r in await _late_runs(client, deployment_id, count=3)
            if r.id not in {oldest.id, deferred_to.id}
        ]
        second = await _execute(client, deferred_to)
        lines = await log_lines(client, deferred_to.id, "an older run deferred to this one")

    assert first.state is not None and first.state.name == SUPERSEDED
    assert second.state is not None and second.state.is_completed(), second.state
    assert any(due_by_then.name in line for line in lines), lines
    history, runs = _recorded(runtime)
    assert history == 2 and runs == [("schedule", str(deferred_to.id))]


async def test_serves_runner_supersedes_the_stale_runs_before_it_starts_any(
    prefect_harness: None, sqlite_url: str, pg_server_url: str, redis_url: str, make_app: AppFactory
) -> None:
    """`healthmon serve`'s runner (deployments/newest_runner.py) sorts what its poll found: the
    newest due run starts, the older due ones end Superseded without a process, and a run due
    only within the poll's prefetch window starts ahead of time, as Prefect's runner starts it."""
    from healthmon.deployments.newest_runner import supersede_stale

    runtime = make_app(sqlite_url, _config(pg_server_url, redis_url))
    deployment_id = await _deployment(f"poll-{uuid.uuid4().hex[:8]}")
    async with get_client() as client:
        oldest, middle, newest = await _late_runs(client, deployment_id)
        # due in 5 s: Prefect's runner polls runs due within the next 10 s too
        upcoming = newest.model_copy(
            update={"id": uuid.uuid4(), "expected_start_time": datetime.now(UTC) + timedelta(seconds=5)}
        )
        start = await supersede_stale(client, [oldest, middle, newest, upcoming])
        assert {r.id for r in start} == {newest.id, upcoming.id}
        stale = [await client.read_flow_run(r.id) for r in (oldest, middle)]
        ended = await _execute(client, newest)

    for run, read in zip((oldest, middle), stale, strict=True):
        assert read.state is not None
        assert (read.state.type, read.state.name) == (StateType.CANCELLED, "Superseded")
        message = read.state.message or ""
        assert message.startswith(f"superseded by {newest.name} (scheduled {_stamp(newest)}), also due: ")
        assert f"this run was scheduled {_stamp(run)}" in message and message.endswith("and checks nothing")
    # the newest checks: the runs it superseded deferred to it
    assert ended.state is not None and ended.state.is_completed(), ended.state
    history, runs = _recorded(runtime)
    assert history == 2 and runs == [("schedule", str(newest.id))]
