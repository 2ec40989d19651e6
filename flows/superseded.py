"""No replay of stale runs (issue 14): when scheduled runs of a deployment pile up late (after a
stall, a restart, a worker outage) only the newest due one checks; the older ones end at once in a
Cancelled state named "Superseded" that says by which run, and check nothing.

Two places decide, with one message: `healthmon serve`'s runner before it starts anything
(`newest_due`, deployments/runner.py), so a superseded run never costs a process; and each tier
run as it starts (`superseded`), which also covers runs a worker of `prefect deploy` picked up."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterState,
    FlowRunFilterStateName,
)
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.context import FlowRunContext

#: states of a run that will still run (Late is a Scheduled state)
ALIVE = (StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING)
#: the message Prefect's server gives a run its deployment's CANCEL_NEW concurrency limit refused
CONCURRENCY_CANCELLED = "Deployment concurrency limit reached."
#: the name of the (Cancelled) state a superseded run ends in: the Prefect UI shows this name
SUPERSEDED = "Superseded"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def superseded_state(newer: FlowRun, mine: datetime, now: datetime) -> State:
    """The state a run scheduled at `mine` ends in because `newer` is due too. The message
    names the newer run's scheduled time: `handed_over_to` reads it back."""
    assert newer.expected_start_time is not None
    message = (
        f"superseded by {newer.name} (scheduled {_when(newer.expected_start_time)}), also due: "
        f"this run was scheduled {_when(mine)}, {(now - mine).total_seconds():.0f} s ago, "
        "and checks nothing"
    )
    return State(type=StateType.CANCELLED, name=SUPERSEDED, message=message)


@dataclass(frozen=True)
class Selection:
    """What a runner should start of the scheduled runs it polled, and what ends superseded."""

    #: the runs to submit: per deployment, its newest due run and those not due yet
    start: list[FlowRun] = field(default_factory=list)
    #: (stale run, the newer due run of its deployment that supersedes it)
    stale: list[tuple[FlowRun, FlowRun]] = field(default_factory=list)


def newest_due(runs: Sequence[FlowRun], now: datetime) -> Selection:
    """Of the scheduled runs a runner polled (due by now, or within its prefetch window), per
    deployment: the newest run due by `now` starts and its older due runs are stale. Runs not
    due yet start as Prefect's runner starts them, ahead of time so that they begin on time;
    if one of them asks for the deployment's slot first, the due run is refused and that one,
    newer still, checks when it is due."""
    start: list[FlowRun] = []
    stale: list[tuple[FlowRun, FlowRun]] = []
    due: dict[object, list[FlowRun]] = {}
    for run in runs:
        at = run.expected_start_time
        if run.deployment_id is None or at is None or not run.auto_scheduled or at > now:
            start.append(run)  # by hand, not ours to judge, or not due yet
            continue
        due.setdefault(run.deployment_id, []).append(run)
    for group in due.values():
        group.sort(key=lambda r: r.expected_start_time or now)
        newest = group[-1]
        start.append(newest)
        stale.extend((r, newest) for r in group[:-1])
    return Selection(start, stale)


@dataclass(frozen=True)
class DueRuns:
    """What a scheduled tier run finds of its deployment's runs scheduled after it and due."""

    #: the newest due run that will still run (Scheduled, Late, Pending or Running), if any
    newest_alive: FlowRun | None = None
    #: due runs the deployment's concurrency limit cancelled (CANCEL_NEW) while this one started
    refused: list[FlowRun] = field(default_factory=list)


async def _due_after(run: FlowRun, now: datetime) -> DueRuns:
    """The runs of `run`'s deployment made by the scheduler, scheduled after it and by `now`."""
    assert run.deployment_id is not None and run.expected_start_time is not None
    async with get_client() as client:
        found = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[run.deployment_id]),
                # validated, so `now` becomes Prefect's own DateTime type
                expected_start_time=FlowRunFilterExpectedStartTime.model_validate(
                    {"after_": run.expected_start_time, "before_": now}
                ),
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=200,
        )
    newer = [
        r
        for r in found
        if r.id != run.id
        and r.auto_scheduled
        and r.expected_start_time is not None
        and r.expected_start_time > run.expected_start_time
    ]
    alive = [r for r in newer if r.state_type in ALIVE]
    refused = [
        r
        for r in newer
        if r.state_type is StateType.CANCELLED and r.state and r.state.message == CONCURRENCY_CANCELLED
    ]
    return DueRuns(alive[0] if alive else None, refused)


async def handed_over_to(run: FlowRun) -> bool:
    """Whether an older run of `run`'s deployment ended Superseded by `run`. Such a run checks
    whatever is due after it: one hand-over at most, or where every run starts after the next
    one is due (flow-run processes slower to start than the interval, on a loaded box) each
    would defer to the next and the tier would never check (seen in the demo)."""
    assert run.deployment_id is not None and run.expected_start_time is not None
    async with get_client() as client:
        older = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[run.deployment_id]),
                state=FlowRunFilterState(name=FlowRunFilterStateName(any_=[SUPERSEDED])),
                expected_start_time=FlowRunFilterExpectedStartTime.model_validate(
                    {"before_": run.expected_start_time}
                ),
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=200,
        )
    # the superseding message names the newer run's scheduled time, one run's per deployment
    by_me = f"(scheduled {_when(run.expected_start_time)}), also due:"
    return any(r.state is not None and by_me in (r.state.message or "") for r in older)


async def superseded(logger: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> State | None:
    """The state a stale scheduled run ends in at once, when a newer scheduled run of its
    deployment is already due: after a stall, only the newest due run checks.
    None when this run should check: started by hand, outside a deployment, the newest, or
    the one an older run deferred to (`handed_over_to`).

    If Prefect cannot be asked, the run checks: a check too many beats a tier left unchecked."""
    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    if run is None or run.deployment_id is None or not run.auto_scheduled or run.expected_start_time is None:
        return None
    now = datetime.now(UTC)
    try:
        due = await _due_after(run, now)
        handed_over = due.newest_alive is not None and await handed_over_to(run)
    except Exception as exc:  # the API answering badly must not stop the checks
        logger.warning(
            "could not read this deployment's newer runs (%s: %s); checking anyway", type(exc).__name__, exc
        )
        return None
    mine = run.expected_start_time
    newer = due.newest_alive
    if handed_over:
        logger.info(
            "this run (scheduled %s) checks although %s is due too: an older run deferred to this one",
            _when(mine),
            newer.name if newer is not None else "a newer run",
        )
        return None
    if newer is not None and newer.expected_start_time is not None:
        state = superseded_state(newer, mine, now)
        logger.info("%s", state.message)
        return state
    if due.refused:
        names = ", ".join(r.name for r in due.refused[:10]) + (
            f" and {len(due.refused) - 10} more" if len(due.refused) > 10 else ""
        )
        count = len(due.refused)
        logger.info(
            "this run (scheduled %s) checks for the %d newer due %s the deployment's concurrency "
            "limit cancelled as it started: %s",
            _when(mine),
            count,
            "run" if count == 1 else "runs",
            names,
        )
    return None
