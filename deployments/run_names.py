"""Readable names for healthmon's upcoming flow runs.

Prefect 3.9's scheduler gives the runs it creates random names ("sapphire-falcon"), and a
flow's `flow_run_name` applies only when a run starts, so the runs an operator sees waiting in
the UI would say nothing. `rename_upcoming` gives every Scheduled (or Late) run of a
deployment tagged `healthmon` the name it will carry when it runs (flows/run_names.py:
"core 2026-12-01 07:35Z", "deliver 07:35Z", "retention 2026-12-01"); `start_renamer` does that
every few seconds in a thread of `healthmon serve`.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.objects import FlowRun

log = logging.getLogger("healthmon.run_names")

#: the tag every healthmon deployment carries (deployments/serve.py, prefect.yaml)
TAG = "healthmon"
#: how often serve's renamer looks: the scheduler makes runs every 10 s under serve
EVERY_S = 5.0
#: upcoming runs read per pass, soonest first (the API's most); the scheduler keeps up to 100
#: per deployment, so a first pass on a full server leaves the latest for the next passes
PER_PASS = 200
#: renames sent at once
IN_FLIGHT = 10


def _kinds() -> dict[str, str | None]:
    """Flow name -> run-name kind; None: the kind is the run's `tier` parameter."""
    from healthmon.flows.housekeeping import retention
    from healthmon.flows.run_names import DELIVER, RETENTION
    from healthmon.flows.tier_run import deliver_notifications, tier_check

    return {tier_check.name: None, deliver_notifications.name: DELIVER, retention.name: RETENTION}


def wanted_name(run: FlowRun, flow_name: str, kinds: dict[str, str | None]) -> str | None:
    """The name `run` should carry, or None when it is not a run healthmon names."""
    from healthmon.flows.run_names import run_name
    from healthmon.monitors.result import Tier

    if flow_name not in kinds or run.expected_start_time is None:
        return None
    kind = kinds[flow_name]
    if kind is None:
        tier = run.parameters.get("tier")
        if tier not in {t.value for t in Tier}:
            return None
        kind = str(tier)
    return run_name(kind, run.expected_start_time, by_hand=not run.auto_scheduled)


async def rename_upcoming(client: PrefectClient, tag: str = TAG, limit: int = PER_PASS) -> int:
    """Rename the upcoming (Scheduled, Late) runs of the deployments tagged `tag` whose name is
    not already the readable one; returns how many it renamed."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterTags,
        FlowFilter,
        FlowFilterId,
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    deployments = await client.read_deployments(
        deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[tag]))
    )
    if not deployments:
        return 0
    flows = await client.read_flows(
        flow_filter=FlowFilter(id=FlowFilterId(any_=list({d.flow_id for d in deployments})))
    )
    flow_names = {f.id: f.name for f in flows}
    runs = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=[d.id for d in deployments]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
        ),
        sort=FlowRunSort.EXPECTED_START_TIME_ASC,
        limit=limit,
    )
    kinds = _kinds()
    renames: list[tuple[FlowRun, str]] = []
    for run in runs:
        name = wanted_name(run, flow_names.get(run.flow_id, ""), kinds)
        if name is not None and run.name != name:
            renames.append((run, name))
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def rename(run: FlowRun, name: str) -> None:
        async with gate:
            await client.update_flow_run(run.id, name=name)

    await asyncio.gather(*(rename(run, name) for run, name in renames))
    return len(renames)


async def rename_forever(stop: asyncio.Event, every_s: float = EVERY_S, tag: str = TAG) -> None:
    """`rename_upcoming` every `every_s` until `stop` is set. A failing pass is logged (once
    until it works again, so a Prefect outage is one warning, not one every few seconds) and
    never ends the loop."""
    from prefect.client.orchestration import get_client

    failing: str | None = None
    while not stop.is_set():
        try:
            async with get_client() as client:
                renamed = await rename_upcoming(client, tag)
            if failing is not None:
                log.warning("naming upcoming flow runs works again")
                failing = None
            if renamed:
                log.info("named %d upcoming flow runs", renamed)
        except Exception as exc:  # the loop outlives any one failing pass
            error = f"{type(exc).__name__}: {exc}"
            if error != failing:
                log.warning("could not name upcoming flow runs (%s); they keep Prefect's names", error)
            failing = error
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        except TimeoutError:
            pass


def start_renamer(every_s: float = EVERY_S, tag: str = TAG) -> Callable[[], None]:
    """`rename_forever` in a thread of its own with its own event loop (like the watchdog's,
    deployments/serve.py start_watchdog). The thread runs in a copy of the caller's context,
    so it talks to the Prefect API the caller's settings name. Returns a function that stops it."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    context = contextvars.copy_context()

    def run() -> None:
        try:
            loop.run_until_complete(rename_forever(stop, every_s, tag))
        finally:
            loop.close()

    thread = threading.Thread(target=context.run, args=(run,), name="healthmon-run-names", daemon=True)
    thread.start()

    def halt() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)

    return halt
