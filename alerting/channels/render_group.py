"""The words every channel uses for an alert group's message: one headline for what opened,
resolved and was acknowledged since the group's last message, and the tenants of each.

Like render.py for single alerts: the text is decided here once, so Slack, email, PagerDuty
and the webhook say the same about a group, and the channels only arrange it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from healthmon.alerting.channels.render import (
    ACKNOWLEDGED_COLOUR,
    MAX_HEADLINE_REASON,
    MAX_REASON,
    RESOLVED_COLOUR,
    SEVERITY_COLOURS,
    TenantList,
    clip,
    human_time,
    one_line,
    reason_of,
    tenant_label,
)
from healthmon.alerting.notification import GroupNotification, Kind, Notification

#: human-facing channels list this many tenants per section before "and N more"; 60 tenants
#: of one vendor's expiring token fit, a whole-platform outage is a rollup anyway
MAX_GROUP_TENANTS = 100


@dataclass(frozen=True)
class GroupView:
    """One group message as words, ready for a channel to arrange."""

    #: "P3", "RESOLVED", "ACKNOWLEDGED" or "UPDATE": the bracketed tag in front of the headline
    label: str
    #: "meta_ads · health: 60 opened, 60 live: access token expires in 4 days"
    summary: str
    headline: str
    service: str
    condition: str
    #: the worst severity among what opened (else among all), upper case
    severity: str
    colour: str
    #: the worst member's reason (render.reason_of), None when nothing opened
    reason: str | None
    #: when the worst member's target started failing
    since: str
    opened: TenantList
    resolved: TenantList
    acknowledged: TenantList
    acknowledged_by: tuple[str, ...]
    live: int
    unacknowledged: int
    group_key: str
    #: the same for a resend of the same rows (GroupNotification.key)
    key: str
    #: (url, words): the group on the Alerts page and the service's detail; none without
    #: `dashboard_url`
    links: tuple[tuple[str, str], ...]

    @property
    def footer(self) -> str:
        return f"healthmon alert group {self.group_key} · message {self.key}"

    def tenant_sections(self) -> list[tuple[str, TenantList]]:
        """("Opened", tenants), ("Resolved", ...), ("Acknowledged by alice", ...): those not empty."""
        by = f" by {', '.join(self.acknowledged_by)}" if self.acknowledged_by else ""
        sections = [
            ("Opened", self.opened),
            ("Resolved", self.resolved),
            (f"Acknowledged{by}", self.acknowledged),
        ]
        return [(title, tenants) for title, tenants in sections if tenants.total]


def names_of(group: GroupNotification) -> dict[str, str]:
    """Display names of the group's tenants: the store's at send time win over those a row
    carried when it was queued."""
    return {t: n for m in group.members for t, n in m.tenant_names.items()} | dict(group.tenant_names)


def _tenants(members: tuple[Notification, ...], group: GroupNotification) -> TenantList:
    names = names_of(group)
    seen = list(dict.fromkeys(m.tenant_id or "platform" for m in members))
    shown = tuple(tenant_label(t, names) for t in seen[:MAX_GROUP_TENANTS])
    return TenantList(shown, len(seen))


def _label(group: GroupNotification, resolved: int, acknowledged: int) -> str:
    if group.opened:
        return group.worst.severity.value.upper()
    if resolved and not acknowledged:
        return "RESOLVED"
    if acknowledged and not resolved:
        return "ACKNOWLEDGED"
    return "UPDATE"


def _colour(label: str, group: GroupNotification) -> str:
    if label == "RESOLVED":
        return RESOLVED_COLOUR
    if label == "ACKNOWLEDGED" or not group.opened:
        return ACKNOWLEDGED_COLOUR
    return SEVERITY_COLOURS[group.worst.severity]


def _links(group: GroupNotification) -> tuple[tuple[str, str], ...]:
    base = (group.dashboard_url or "").rstrip("/")
    if not base:
        return ()
    return (
        (
            f"{base}/alerts?{urlencode({'group': group.group_key})}",
            f"Open the group's alerts ({group.live} live)",
        ),
        (f"{base}/service?{urlencode({'service': group.service})}", f"{group.service} in service detail"),
    )


def group_view(group: GroupNotification) -> GroupView:
    opened = group.opened
    resolved = group.of_kind(Kind.RESOLVE)
    acknowledged = group.of_kind(Kind.ACKNOWLEDGE)
    label = _label(group, len(resolved), len(acknowledged))
    worst = group.worst
    reason = reason_of(worst) if opened else None
    counts = [
        f"{len(part)} {word}"
        for part, word in ((opened, "opened"), (resolved, "resolved"), (acknowledged, "acknowledged"))
        if part
    ]
    summary = f"{group.service} · {group.condition}: {', '.join(counts)}, {group.live} live"
    if reason:
        summary += f": {clip(one_line(reason), MAX_HEADLINE_REASON)}"
    summary = one_line(summary)
    return GroupView(
        label=label,
        summary=summary,
        headline=f"[{label}] {summary}",
        service=group.service,
        condition=group.condition,
        severity=worst.severity.value.upper(),
        colour=_colour(label, group),
        reason=clip(reason.strip(), MAX_REASON) if reason else None,
        since=human_time(min(m.since for m in opened or group.members)),
        opened=_tenants(opened, group),
        resolved=_tenants(resolved, group),
        acknowledged=_tenants(acknowledged, group),
        acknowledged_by=tuple(
            dict.fromkeys(one_line(m.acknowledged_by) for m in acknowledged if m.acknowledged_by)
        ),
        live=group.live,
        unacknowledged=group.unacknowledged,
        group_key=group.group_key,
        key=group.key,
        links=_links(group),
    )
