"""tier_runs: one row per tier run, for last-run tracking and the operator's record."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update

from healthmon.storage.db import MAX_CLOCK_SKEW_S, store_now
from healthmon.storage.tables import TIER_RUNS, TierRun


def start_run(engine: Engine, run_id: str, tier: str, trigger: str, flow_run_id: str | None = None) -> None:
    """Times are the store's clock, as for results: a worker whose clock runs ahead must not
    make a tier look fresh to the watchdog or its targets look just checked to the planner."""
    with engine.begin() as conn:
        conn.execute(
            TIER_RUNS.insert(),
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
    table = TIER_RUNS
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
    table = TIER_RUNS
    stmt = select(table).where(table.c.tier == tier).order_by(table.c.started_at.desc()).limit(limit)
    with engine.connect() as conn:
        return [TierRun.model_validate(r) for r in conn.execute(stmt).mappings()]


#: what a tier run records as its trigger: started by Prefect's scheduler, or by hand
#: (Prefect's Run button, `prefect deployment run`, `healthmon check`); the demo's runs are served
#: by `healthmon serve`, so they are scheduled runs too
SCHEDULE = "schedule"
MANUAL = "manual"


def last_completed(engine: Engine, tiers: Iterable[str]) -> dict[str, datetime]:
    """When each tier last completed a run (any trigger): what the watchdog holds against
    the tier's interval. One indexed look-up per tier (newest runs first), not a scan."""
    runs = TIER_RUNS
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
