"""tier_runs: one row per tier run, for last-run tracking and the operator's record."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from storage.tables import TierRun


def start_run(engine: Engine, run_id: str, tier: str, trigger: str, flow_run_id: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            TierRun.__table__.insert(),  # type: ignore[attr-defined]
            {
                "id": run_id,
                "tier": tier,
                "trigger": trigger,
                "state": "running",
                "started_at": datetime.now(UTC),
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
                finished_at=datetime.now(UTC),
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
