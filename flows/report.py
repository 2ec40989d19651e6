"""The report step: what is not healthy after a run, and what changed, for the Prefect UI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from storage.tables import ServiceStatus
from storage.types import tenant_from_key


@dataclass(frozen=True)
class ReportRow:
    service: str
    tenant: str | None
    status: str
    latency_ms: float | None
    reason: str | None
    since: str


@dataclass(frozen=True)
class StatusChange:
    service: str
    tenant: str | None
    previous: str
    current: str
    reason: str | None


@dataclass
class RunReport:
    not_healthy: list[ReportRow] = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "not_healthy": [asdict(r) for r in self.not_healthy],
            "changes": [asdict(c) for c in self.changes],
        }


def build_report(engine: Engine, run_id: str) -> RunReport:
    table = ServiceStatus.__table__  # type: ignore[attr-defined]
    stmt = select(table).where(table.c.run_id == run_id).order_by(table.c.service, table.c.tenant_id)
    report = RunReport()
    with engine.connect() as conn:
        for row in conn.execute(stmt).mappings():
            reason = (row["details"] or {}).get("reason")
            tenant = tenant_from_key(row["tenant_id"])
            if row["status"] != "healthy":
                report.not_healthy.append(
                    ReportRow(
                        row["service"],
                        tenant,
                        row["status"],
                        None if row["latency_ms"] is None else round(row["latency_ms"], 1),
                        None if reason is None else str(reason),
                        row["since"].isoformat(),
                    )
                )
            # a status that changed in this run has since == checked_at; a first check has no previous
            if row["previous_status"] and row["since"] == row["checked_at"]:
                report.changes.append(
                    StatusChange(
                        row["service"],
                        tenant,
                        row["previous_status"],
                        row["status"],
                        None if reason is None else str(reason),
                    )
                )
    return report


async def publish_report(tier: str, report: RunReport) -> None:
    """A table artifact of what is not healthy, and one Prefect event per status change."""
    from prefect.artifacts import acreate_table_artifact
    from prefect.events import emit_event

    rows = [asdict(r) for r in report.not_healthy]
    description = f"**{tier}**: {len(rows)} not healthy" if rows else f"**{tier}**: everything healthy"
    await acreate_table_artifact(
        table=rows or [{"status": "all healthy"}], key=f"tier-{tier}-not-healthy", description=description
    )
    for change in report.changes:
        emit_event(
            event=f"healthmon.status.{change.current}",
            resource={
                "prefect.resource.id": f"healthmon.{change.service}.{change.tenant or 'platform'}",
                "prefect.resource.name": f"{change.service} {change.tenant or '(platform)'}",
                "healthmon.service": change.service,
                "healthmon.tenant": change.tenant or "",
            },
            payload={
                "previous": change.previous,
                "current": change.current,
                "reason": change.reason,
                "tier": tier,
            },
        )
