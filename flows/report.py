"""The report step: the tier's current state after a run, and what this run changed, for the
Prefect UI. The not-healthy table is the tier's state in service_status (whichever run found
it), so a run that skipped every target still shows what is down.

Two keyed artifacts per tier, so that the Artifacts page always shows a tier's latest and each
run's Artifacts tab its own: `tier-<tier>-not-healthy` (a table) and `tier-<tier>-summary`
(markdown: counts, status changes, alerts opened, escalated and resolved). docs/operations.md
describes both and the events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from healthmon.alerting.channels.render import alert_link, as_utc, clip, one_line, service_link, tenant_label
from healthmon.flows.alerts import AlertSummary, AlertTransition, emit_prefect_event, related_resources
from healthmon.monitors.result import DEFAULT_STALE_AFTER, Status, staleness
from healthmon.storage.status import LatestStatus

#: a reason in the table is cut to this (the dashboard and the alert show it whole)
TABLE_REASON_CHARS = 100
#: status changes listed in the summary artifact; the rest are counted ("and 12 more")
SUMMARY_CHANGES = 50
#: alerts listed per kind (opened, escalated, resolved) in the summary artifact
SUMMARY_ALERTS = 50


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
    #: what the run checked and skipped, and what its alert step did, for the summary artifact
    checked: int = 0
    skipped: int = 0
    alerts: AlertSummary = field(default_factory=AlertSummary)
    #: display names of the tenants above that have one
    tenant_names: Mapping[str, str] = field(default_factory=dict)
    #: the dashboard the artifacts link to (no links without it)
    dashboard_url: str | None = None
    #: when the run's results were read: "today" for the artifacts' short times
    read_at: datetime | None = None

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
    *,
    checked: int = 0,
    skipped: int = 0,
    alerts: AlertSummary | None = None,
    tenant_names: Mapping[str, str] | None = None,
    dashboard_url: str | None = None,
) -> RunReport:
    """From the tier's latest statuses as the run left them (flows.alerts.read_run), with the
    run's counts and alert step for the summary."""
    report = RunReport(
        checked=checked,
        skipped=skipped,
        alerts=alerts or AlertSummary(),
        tenant_names=dict(tenant_names or {}),
        dashboard_url=dashboard_url,
        read_at=now,
    )
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


def short_time(text: str, now: datetime | None) -> str:
    """An ISO time as a table cell: "07:31:18Z" on the day of `now` (UTC), "Nov 30 07:31Z"
    earlier in its year, "2025-11-30 07:31Z" before."""
    moment = as_utc(datetime.fromisoformat(text))
    today = as_utc(now) if now is not None else moment
    if moment.date() == today.date():
        return moment.strftime("%H:%M:%SZ")
    return moment.strftime("%b %d %H:%MZ" if moment.year == today.year else "%Y-%m-%d %H:%MZ")


def _tenant(tenant_id: str | None, names: Mapping[str, str]) -> str:
    return tenant_label(tenant_id, names) if tenant_id else "platform"


def table_rows(report: RunReport) -> list[dict[str, str]]:
    """The not-healthy table as people read it: every cell short text, named columns."""
    names, now = report.tenant_names, report.read_at
    return [
        {
            "service": r.service,
            "tenant": _tenant(r.tenant, names),
            "status": r.status,
            "latency": "—" if r.latency_ms is None else f"{r.latency_ms:.1f} ms",
            "reason": clip(one_line(r.reason), TABLE_REASON_CHARS) if r.reason else "",
            "since": short_time(r.since, now),
            "checked": short_time(r.checked_at, now),
            "stale": "stale" if r.stale else "",
        }
        for r in report.not_healthy
    ]


def _cell(text: str | None, limit: int = TABLE_REASON_CHARS) -> str:
    """Text safe in a markdown table cell: one line, cut, no column breaks or HTML."""
    if not text:
        return ""
    return clip(one_line(text), limit).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _linked(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url else text


def _more(shown: int, total: int) -> list[str]:
    return ["", f"… and {total - shown} more"] if total > shown else []


def _alert_section(title: str, alerts: Sequence[AlertTransition], dashboard_url: str | None) -> list[str]:
    if not alerts:
        return []
    lines = [
        f"## {title} ({len(alerts)})",
        "",
        "| alert | severity | service | tenant | reason |",
        "|---|---|---|---|---|",
    ]
    for t in alerts[:SUMMARY_ALERTS]:
        alert = _linked(f"#{t.alert_id}", alert_link(dashboard_url, t.alert_id))
        service = _linked(t.service, service_link(dashboard_url, t.service, t.tenant_id))
        reason = t.reason or ("recovered" if t.kind == "resolved" else "")
        if t.held:
            reason = f"{reason} (held: {t.held})"
        lines.append(f"| {alert} | {t.severity.upper()} | {service} | {_cell(t.tenant)} | {_cell(reason)} |")
    return [*lines, *_more(SUMMARY_ALERTS, len(alerts)), ""]


def summary_markdown(tier: str, report: RunReport, headline: str) -> str:
    """The run's summary artifact: counts, alerts opened, escalated and resolved, and status
    changes, linked to the dashboard when it has a URL."""
    a, url, names = report.alerts, report.dashboard_url, report.tenant_names
    lines = [
        f"# {tier}: {_cell(headline, 400)}",
        "",
        "| checked | skipped | not healthy | stale | alerts opened | escalated | resolved | notifications |",
        "|---|---|---|---|---|---|---|---|",
        f"| {report.checked} | {report.skipped} | {len(report.not_healthy)} | {report.stale} "
        f"| {a.opened} | {a.escalated} | {a.resolved} | {a.notifications} |",
        "",
    ]
    for kind, title in (
        ("opened", "Alerts opened"),
        ("escalated", "Alerts escalated"),
        ("resolved", "Alerts resolved"),
    ):
        lines += _alert_section(title, [t for t in a.transitions if t.kind == kind], url)
    changes = report.changes
    if changes:
        lines += [
            f"## Status changes ({len(changes)})",
            "",
            "| service | tenant | from | to | reason |",
            "|---|---|---|---|---|",
        ]
        for c in changes[:SUMMARY_CHANGES]:
            service = _linked(c.service, service_link(url, c.service, c.tenant))
            tenant = _cell(_tenant(c.tenant, names))
            lines.append(f"| {service} | {tenant} | {c.previous} | {c.current} | {_cell(c.reason)} |")
        lines += _more(SUMMARY_CHANGES, len(changes))
    else:
        lines.append("No status changed in this run.")
    return "\n".join(lines).rstrip() + "\n"


async def publish_report(tier: str, report: RunReport, headline: str) -> None:
    """The tier's two keyed artifacts (its current state as a table, this run's summary as
    markdown) and one Prefect event per status change."""
    from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

    rows = table_rows(report)
    state = f"{len(rows)} not healthy or stale" if rows else "everything healthy and fresh"
    await acreate_table_artifact(
        table=rows or [{"status": "all healthy"}],
        key=f"tier-{tier}-not-healthy",
        description=f"**{tier}**: {state}. This run: {headline}",
    )
    await acreate_markdown_artifact(
        markdown=summary_markdown(tier, report, headline),
        key=f"tier-{tier}-summary",
        description=f"**{tier}** run: {headline}",
    )
    for change in report.changes:
        name = _tenant(change.tenant, report.tenant_names) if change.tenant else None
        related = related_resources(change.service, change.tenant, name)
        emit_prefect_event(
            f"healthmon.status.{change.current}",
            {
                "prefect.resource.id": f"healthmon.{change.service}.{change.tenant or 'platform'}",
                "prefect.resource.name": f"{change.service} {change.tenant or '(platform)'}",
                "healthmon.service": change.service,
                "healthmon.tenant": change.tenant or "",
            },
            related,
            {
                "previous": change.previous,
                "current": change.current,
                "reason": change.reason,
                "tier": tier,
            },
        )
