"""tier_runs: one row per tier run, for last-run tracking and the operator's record."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update

from healthmon.storage.results import MAX_CLOCK_SKEW_S, store_now
from healthmon.storage.tables import ServiceStatus, TierRun
from healthmon.storage.types import tenant_from_key


def start_run(engine: Engine, run_id: str, tier: str, trigger: str, flow_run_id: str | None = None) -> None:
    """Times are the store's clock, as for results: a worker whose clock runs ahead must not
    make a tier look fresh to the watchdog or its targets look just checked to the planner."""
    with engine.begin() as conn:
        conn.execute(
            TierRun.__table__.insert(),  # type: ignore[attr-defined]
            {
                "id": run_id,
                "tier": tier,
                "trigger": trigger,
                "state": "running",
                "started_at": store_now(conn),
                "targets": 0,
                "checked": 0,
                "skipped": 0,
                "not_healthy": 0,
                "flow_run_id": flow_run_id,
            },
        )


def finish_run(
    engine: Engine,
    run_id: str,
    *,
    state: str,
    targets: int,
    checked: int,
    skipped: int,
    not_healthy: int,
    error: str | None = None,
) -> None:
    table = TierRun.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.id == run_id)
            .values(
                state=state,
                finished_at=store_now(conn),
                targets=targets,
                checked=checked,
                skipped=skipped,
                not_healthy=not_healthy,
                error=error,
            )
        )


def last_runs(engine: Engine, tier: str, limit: int = 10) -> list[TierRun]:
    table = TierRun.__table__  # type: ignore[attr-defined]
    stmt = select(table).where(table.c.tier == tier).order_by(table.c.started_at.desc()).limit(limit)
    with engine.connect() as conn:
        return [TierRun.model_validate(r) for r in conn.execute(stmt).mappings()]


#: what a tier run records as its trigger: started by Prefect's scheduler, or by hand
#: (Prefect's Run button, `prefect deployment run`, `healthmon check`); the demo's own loop says "demo"
SCHEDULE = "schedule"
MANUAL = "manual"


def checked_by_schedule_since(
    engine: Engine, service: str, tier: str, cutoff: datetime, run_length_s: float
) -> set[str | None]:
    """Tenants (None for the platform) of a service whose latest result is not older than
    `cutoff` and came from a scheduled run of the tier. Only these may be skipped as already
    checked: a manual run's result never pushes the next scheduled check later.
    `run_length_s` bounds how long before its results a run can have started."""
    runs = TierRun.__table__  # type: ignore[attr-defined]
    status = ServiceStatus.__table__  # type: ignore[attr-defined]
    scheduled = select(runs.c.id).where(
        runs.c.tier == tier,
        runs.c.trigger == SCHEDULE,
        runs.c.started_at >= cutoff - timedelta(seconds=run_length_s),
    )
    with engine.connect() as conn:
        # a row from the future (written before results were held to the store's clock) is no
        # proof of a recent check: it is checked, and its next result repairs it
        future = store_now(conn) + timedelta(seconds=MAX_CLOCK_SKEW_S)
        stmt = select(status.c.tenant_id).where(
            status.c.service == service,
            status.c.checked_at >= cutoff,
            status.c.checked_at <= future,
            status.c.run_id.in_(scheduled),
        )
        return {tenant_from_key(key) for key in conn.execute(stmt).scalars()}


def last_completed(engine: Engine, tiers: Iterable[str]) -> dict[str, datetime]:
    """When each tier last completed a run (any trigger): what the watchdog holds against
    the tier's interval. One indexed look-up per tier (newest runs first), not a scan."""
    runs = TierRun.__table__  # type: ignore[attr-defined]
    found: dict[str, datetime] = {}
    with engine.connect() as conn:
        future = store_now(conn) + timedelta(seconds=MAX_CLOCK_SKEW_S)
        for tier in tiers:
            stmt = (
                select(runs.c.finished_at)
                .where(runs.c.tier == tier, runs.c.state == "completed", runs.c.finished_at <= future)
                .order_by(runs.c.started_at.desc())
                .limit(1)
            )
            at = conn.execute(stmt).scalar()
            if at is not None:
                found[tier] = at
    return found
