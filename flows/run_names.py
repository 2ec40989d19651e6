"""Readable flow run names, the same whether a run is still upcoming (deployments/run_names.py
renames Prefect's random ones) or starting (each flow's `flow_run_name`).

A scheduled run is named after its scheduled time, so the name says which slot of the
schedule it is and stays the same from the moment it is scheduled to its end, however late
it starts: "core 2026-12-01 07:35Z", "deliver 07:35Z", "retention 2026-12-01". Seconds are
shown only when the time is not on a whole minute (the demo's intervals are seconds). A run
started by hand has no slot: it is named after its start time and says "(by hand)".
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect.context import FlowRunContext

#: the kinds that are not a tier (a tier's kind is its name: "critical", "core", ...)
DELIVER = "deliver"
RETENTION = "retention"
BY_HAND = " (by hand)"


def run_name(kind: str, at: datetime, by_hand: bool = False) -> str:
    """The name of a run of `kind` (a tier, DELIVER or RETENTION) scheduled for, or started
    by hand at, `at` (UTC; a naive time is taken as UTC)."""
    moment = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).replace(microsecond=0)
    clock = f"{moment:%H:%M:%S}" if moment.second else f"{moment:%H:%M}"
    if kind == RETENTION:
        stamp = f"{moment:%Y-%m-%d}"
    elif kind == DELIVER:
        stamp = f"{clock}Z"
    else:
        stamp = f"{moment:%Y-%m-%d} {clock}Z"
    return f"{kind} {stamp}" + (BY_HAND if by_hand else "")


def scheduled_by_prefect() -> bool:
    """Whether the current flow run was made by Prefect's scheduler (anything else, the UI's
    Run button, `prefect deployment run`, a direct call, was started by hand)."""
    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    return run is not None and bool(run.auto_scheduled)


def this_run_name(kind: str, by_hand: bool | None = None) -> str:
    """The current flow run's name (for a flow's `flow_run_name`): its scheduled time when
    Prefect's scheduler made it, else now, the moment it was started by hand. `by_hand`
    overrides what the run context says (a tier run's explicit `trigger` parameter)."""
    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    manual = not scheduled_by_prefect() if by_hand is None else by_hand
    scheduled = run.expected_start_time if run is not None else None
    at = scheduled if scheduled is not None and not manual else datetime.now(UTC)
    return run_name(kind, at, by_hand=manual)
