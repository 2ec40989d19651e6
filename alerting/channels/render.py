"""The words every channel uses for a notification: headline, facts, short details, tenants.

Slack, email, PagerDuty and the webhook each lay a notification out in their own format, but
an on-call engineer who reads the same alert in two places must see the same headline and
the same facts, so the text is decided here once and the channels only arrange it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from healthmon.alerting.notification import Kind, Notification, Severity

#: how many detail facts a human-facing message shows
MAX_DETAILS = 8
#: how many tenant ids a message lists before "and N more"
MAX_TENANTS = 10
#: a detail string longer than this is not a "small fact" and is left out of messages
MAX_DETAIL_CHARS = 120
#: subject lines and chat headers are read at a glance; the full reason is in the body
MAX_HEADLINE_REASON = 200
MAX_REASON = 2000

SEVERITY_COLOURS: Mapping[Severity, str] = {
    Severity.P1: "#d62728",
    Severity.P2: "#ff7f0e",
    Severity.P3: "#f2c744",
}
RESOLVED_COLOUR = "#2ca02c"
ACKNOWLEDGED_COLOUR = "#9e9e9e"

# Details are facts by contract, never secrets; this is the second line of defence for a
# monitor that gets it wrong, because a leaked token in a page reaches many inboxes.
# Only the key's ending counts, so facts about a secret ("token_expires_in_days") still show.
_SECRET_KEY = re.compile(
    r"(token|secret|password|passwd|pwd|key|authorization|cookie|credentials?|dsn)$", re.IGNORECASE
)


@dataclass(frozen=True)
class TenantList:
    shown: tuple[str, ...]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.shown)

    def text(self) -> str:
        listed = ", ".join(self.shown)
        return f"{listed} and {self.more} more" if self.more else listed


@dataclass(frozen=True)
class MessageView:
    """One notification as words, ready for a channel to arrange."""

    kind: Kind
    #: "P1", "P2 ESCALATED", "RESOLVED", ...: the bracketed tag in front of the headline
    label: str
    #: "postgres unhealthy (platform): connection refused"
    summary: str
    #: "[P1] postgres unhealthy (platform): connection refused"
    headline: str
    title: str
    service: str
    #: the tenant id, or "platform" for platform services and cross-tenant rollups
    tenant: str
    #: `tenant`, plus the tenant count of a rollup ("platform, 50 tenants")
    scope: str
    severity: str
    status: str
    reason: str | None
    since: str
    last_seen: str
    count: int
    acknowledged_by: str | None
    details: tuple[tuple[str, str], ...]
    tenants: TenantList
    colour: str
    dashboard_url: str | None
    alert_id: int
    delivery_id: int
    signature: str

    @property
    def footer(self) -> str:
        return f"healthmon alert #{self.alert_id} · delivery #{self.delivery_id} · {self.signature}"


def one_line(text: str) -> str:
    """Collapse whitespace: reasons may carry newlines, which headers and subjects cannot."""
    return " ".join(text.split())


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def as_utc(moment: datetime) -> datetime:
    # Naive datetimes come from stores that drop the zone (SQLite); healthmon writes UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def human_time(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def _is_small(value: Any) -> bool:
    if isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and bool(value) and len(value) <= MAX_DETAIL_CHARS


def _text(value: bool | int | float | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return one_line(str(value))


def small_facts(details: Mapping[str, Any], limit: int = MAX_DETAILS) -> dict[str, bool | int | float | str]:
    """The first `limit` small scalar facts, values as they are (for PagerDuty's custom details);
    nested values and long strings are left to the dashboard, which shows the whole result."""
    picked: dict[str, bool | int | float | str] = {}
    for key, value in details.items():
        if len(picked) >= limit:
            break
        if not is_secret_key(str(key)) and _is_small(value):
            picked[str(key)] = value
    return picked


def short_details(details: Mapping[str, Any], limit: int = MAX_DETAILS) -> tuple[tuple[str, str], ...]:
    """`small_facts` as (key, text) pairs, for messages people read."""
    return tuple((key, _text(value)) for key, value in small_facts(details, limit).items())


def safe_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """All details minus secret-looking keys, for machine receivers that want every fact."""
    return {str(k): v for k, v in details.items() if not is_secret_key(str(k))}


def short_tenants(tenants: tuple[str, ...], limit: int = MAX_TENANTS) -> TenantList:
    return TenantList(tuple(tenants[:limit]), len(tenants))


def label(notification: Notification) -> str:
    severity = notification.severity.value.upper()
    return {
        Kind.TRIGGER: severity,
        Kind.ESCALATE: f"{severity} ESCALATED",
        Kind.RENOTIFY: f"{severity} REMINDER",
        Kind.ACKNOWLEDGE: "ACKNOWLEDGED",
        Kind.RESOLVE: "RESOLVED",
    }[notification.kind]


def colour(notification: Notification) -> str:
    if notification.kind is Kind.RESOLVE:
        return RESOLVED_COLOUR
    if notification.kind is Kind.ACKNOWLEDGE:
        return ACKNOWLEDGED_COLOUR
    return SEVERITY_COLOURS[notification.severity]


def scope(notification: Notification) -> str:
    where = notification.tenant_id or "platform"
    if notification.tenants:
        count = len(notification.tenants)
        return f"{where}, {count} tenant{'s' if count != 1 else ''}"
    return where


def summary(notification: Notification) -> str:
    """What broke, where, and why, on one line: "redis degraded (tenant-0001): slow"."""
    text = f"{notification.service} {notification.status} ({scope(notification)})"
    if notification.reason:
        text += f": {clip(one_line(notification.reason), MAX_HEADLINE_REASON)}"
    if notification.kind is Kind.ACKNOWLEDGE and notification.acknowledged_by:
        text += f", acknowledged by {one_line(notification.acknowledged_by)}"
    return one_line(text)


def headline(notification: Notification) -> str:
    return f"[{label(notification)}] {summary(notification)}"


def view(notification: Notification) -> MessageView:
    n = notification
    return MessageView(
        kind=n.kind,
        label=label(n),
        summary=summary(n),
        headline=headline(n),
        title=one_line(n.title),
        service=n.service,
        tenant=n.tenant_id or "platform",
        scope=scope(n),
        severity=n.severity.value.upper(),
        status=n.status,
        reason=clip(n.reason.strip(), MAX_REASON) if n.reason else None,
        since=human_time(n.since),
        last_seen=human_time(n.last_seen),
        count=n.count,
        acknowledged_by=n.acknowledged_by,
        details=short_details(n.details),
        tenants=short_tenants(n.tenants),
        colour=colour(n),
        dashboard_url=n.dashboard_url,
        alert_id=n.alert_id,
        delivery_id=n.delivery_id,
        signature=n.signature,
    )
