"""Readable run names (issue 14, point 2): the one naming rule, and the renamer that gives
healthmon's upcoming runs those names while Prefect's scheduler gives them random ones, on a
real Prefect API (the session harness)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId
from prefect.client.schemas.objects import FlowRun
from prefect.schedules import Interval
from prefect.states import Scheduled


def test_names_say_what_and_which_slot_seconds_only_off_the_minute() -> None:
    from healthmon.flows.run_names import DELIVER, RETENTION, run_name

    at = datetime(2026, 12, 1, 7, 35, tzinfo=UTC)
    assert run_name("core", at) == "core 2026-12-01 07:35Z"
    assert (
        run_name("critical", at + timedelta(seconds=30, microseconds=250)) == "critical 2026-12-01 07:35:30Z"
    )
    assert run_name(DELIVER, at) == "deliver 07:35Z"
    assert run_name(RETENTION, at + timedelta(hours=20)) == "retention 2026-12-02"
    assert run_name("core", at.replace(tzinfo=None), by_hand=True) == "core 2026-12-01 07:35Z (by hand)"


async def _upcoming(client: PrefectClient, deployment_id: UUID, start: datetime, count: int) -> None:
    """`count` runs of the deployment's schedule from `start`, made by Prefect's scheduler
    itself (the schedule endpoint), so they carry its random names."""
    answer = await client._client.post(
        f"/deployments/{deployment_id}/schedule",
        json={"start_time": start.isoformat(), "max_runs": count, "min_runs": count},
    )
    answer.raise_for_status()


async def _runs(client: PrefectClient, *deployment_ids: UUID) -> list[FlowRun]:
    runs = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=list(deployment_ids)))
    )
    return sorted(runs, key=lambda r: r.expected_start_time or datetime.min)


async def test_upcoming_runs_get_readable_names_once(prefect_harness: None) -> None:
    from healthmon.deployments.run_names import rename_upcoming
    from healthmon.flows.tier_run import deliver_notifications, tier_check

    tag = f"names-{uuid.uuid4().hex[:8]}"
    # a whole minute an hour ahead; the tier every 90 s, so every other slot is off the minute
    anchor = (datetime.now(UTC) + timedelta(hours=1)).replace(second=0, microsecond=0)
    tier = await tier_check.ato_deployment(
        name=f"tier-core-{tag}",
        schedule=Interval(timedelta(seconds=90), anchor_date=anchor),
        parameters={"tier": "core"},
        tags=[tag],
    )
    deliver = await deliver_notifications.ato_deployment(
        name=f"deliver-{tag}", schedule=Interval(timedelta(seconds=60), anchor_date=anchor), tags=[tag]
    )
    tier_id: UUID = await tier.aapply()
    deliver_id: UUID = await deliver.aapply()
    async with get_client() as client:
        await _upcoming(client, tier_id, anchor, 2)
        await _upcoming(client, deliver_id, anchor, 1)
        # queued by hand for later (the UI's "Run" with a start time): not a slot of the schedule
        later = anchor + timedelta(hours=1, seconds=5)
        await client.create_flow_run_from_deployment(tier_id, state=Scheduled(scheduled_time=later))
        before = {r.id: r.name for r in await _runs(client, tier_id, deliver_id)}
        renamed = await rename_upcoming(client, tag)
        after = {r.id: r for r in await _runs(client, tier_id, deliver_id)}
        again = await rename_upcoming(client, tag)

    stamp = f"{anchor:%Y-%m-%d %H:%M}"
    names = {r.name for r in after.values()}
    assert {
        f"core {stamp}Z",
        f"core {anchor + timedelta(seconds=90):%Y-%m-%d %H:%M:%S}Z",
        f"deliver {anchor:%H:%M}Z",
        f"core {later:%Y-%m-%d %H:%M:%S}Z (by hand)",
    } <= names
    # every upcoming run of the tag's deployments was renamed (the harness's own scheduler may
    # have added some), and a second pass finds nothing to do
    assert renamed == sum(1 for run_id, name in before.items() if after[run_id].name != name) >= 4
    assert again == 0


async def test_the_renamer_thread_names_new_runs_until_stopped(prefect_harness: None) -> None:
    from healthmon.deployments.run_names import start_renamer
    from healthmon.flows.housekeeping import retention

    tag = f"loop-{uuid.uuid4().hex[:8]}"
    anchor = (datetime.now(UTC) + timedelta(days=1)).replace(hour=3, minute=17, second=0, microsecond=0)
    deployment = await retention.ato_deployment(name=f"retention-{tag}", cron="17 3 * * *", tags=[tag])
    deployment_id: UUID = await deployment.aapply()
    async with get_client() as client:
        await _upcoming(client, deployment_id, anchor - timedelta(minutes=1), 1)
        halt = start_renamer(every_s=0.2, tag=tag)
        try:
            deadline = time.monotonic() + 30
            while not any(
                r.name == f"retention {anchor:%Y-%m-%d}" for r in await _runs(client, deployment_id)
            ):
                assert time.monotonic() < deadline, "the renamer never named the upcoming retention run"
                await asyncio.sleep(0.1)
        finally:
            halt()
