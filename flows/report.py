"""The report step: the tier's current state after a run, and what this run changed, for the
Prefect UI. The not-healthy table is the tier's state in service_status (whichever run found
it), so a run that skipped every target still shows what is down."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from healthmon.monitors.result import DEFAULT_STALE_AFTER, Status, staleness
from healthmon.storage.status import LatestStatus


@dataclass(frozen=True)
class ReportRow:
    service: str
    tenant: str | None
    status: str
    latency_ms: float | None
    reason: str | None
    since: str
    checked_at: str
    stale: bool = False


@dataclass(frozen=True)
class StatusChange:
    service: str
    tenant: str | None
    previous: str
    current: str
    reason: str | None


@dataclass
class RunReport:
    #: the tier's targets that are not healthy now, and healthy ones whose result is stale
    not_healthy: list[ReportRow] = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)
    #: targets of the tier whose latest result is older than the stale limit
    stale: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "not_healthy": [asdict(r) for r in self.not_healthy],
            "changes": [asdict(c) for c in self.changes],
            "stale": self.stale,
        }


def build_report(
    rows: Iterable[LatestStatus],
    run_id: str,
    now: datetime,
    stale_after: float = DEFAULT_STALE_AFTER,
    interval_scale: float = 1.0,
) -> RunReport:
    """From the tier's latest statuses as the run left them (flows.alerts.read_run)."""
    report = RunReport()
    for row in rows:
        reason = row.details.get("reason")
        _age, stale = staleness(row.checked_at, row.tier, now, stale_after, interval_scale)
        report.stale += stale
        if row.status is not Status.HEALTHY or stale:
            report.not_healthy.append(
                ReportRow(
                    row.service,
                    row.tenant_id,
                    row.status.value,
                    None if row.latency_ms is None else round(row.latency_ms, 1),
                    None if reason is None else str(reason),
                    row.since.isoformat(),
                    row.checked_at.isoformat(),
                    stale,
                )
            )
        if row.changed_in == run_id and row.previous_status:
            report.changes.append(
                StatusChange(
                    row.service,
                    row.tenant_id,
                    row.previous_status,
                    row.status.value,
                    None if reason is None else str(reason),
                )
            )
    return report


async def publish_report(tier: str, report: RunReport, headline: str) -> None:
    """A table artifact of the tier's current state, and one Prefect event per status change."""
    from prefect.artifacts import acreate_table_artifact
    from prefect.events import emit_event

    rows = [asdict(r) for r in report.not_healthy]
    state = f"{len(rows)} not healthy or stale" if rows else "everything healthy and fresh"
    await acreate_table_artifact(
        table=rows or [{"status": "all healthy"}],
        key=f"tier-{tier}-not-healthy",
        description=f"**{tier}**: {state}. This run: {headline}",
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
