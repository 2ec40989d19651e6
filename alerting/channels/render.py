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
from urllib.parse import urlencode

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

#: where monitors keep a vendor's own error code in a check's details (monitors/*.py), in the
#: order a message prefers them; one per vendor, so at most one is present
VENDOR_CODE_KEYS = (
    "stripe_code",
    "vercel_code",
    "meta_error",
    "google_error",
    "tiktok_code",
    "slack_error",
    "mux_error_type",
    "rpc_code",
    "oauth_error",
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
    #: "stripe · platform · health": the signature as people read it
    signature_text: str
    #: the alert in the dashboard, and the alerted target's service detail (None without
    #: `dashboard_url`: no link rather than a wrong one)
    alert_url: str | None
    service_url: str | None
    #: when the alert opened, beside `since` (when the target started failing)
    opened: str | None

    @property
    def footer(self) -> str:
        return f"healthmon alert #{self.alert_id} · delivery #{self.delivery_id} · {self.signature_text}"


def link_texts(v: MessageView) -> list[tuple[str, str]]:
    """(url, words) of the message's links, the same in every channel: none without
    `dashboard_url`."""
    links = [
        (v.alert_url, f"Open alert #{v.alert_id}"),
        (v.service_url, f"{v.service} ({v.tenant}) in service detail"),
    ]
    return [(url, text) for url, text in links if url]


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


def tenant_label(tenant_id: str, names: Mapping[str, str]) -> str:
    """The tenant as people read it: "Acme Shop (tenant-0003)", or the id alone without a name."""
    name = names.get(tenant_id)
    return f"{one_line(name)} ({tenant_id})" if name and name != tenant_id else tenant_id


def short_tenants(
    tenants: tuple[str, ...], limit: int = MAX_TENANTS, names: Mapping[str, str] | None = None
) -> TenantList:
    shown = tuple(tenant_label(t, names or {}) for t in tenants[:limit])
    return TenantList(shown, len(tenants))


def check_facts(details: Mapping[str, Any]) -> Mapping[str, Any]:
    """The latest check's own details, as the lifecycle keeps them under `latest`."""
    latest = details.get("latest")
    return latest if isinstance(latest, Mapping) else {}


def coded_reason(reason: str | None, facts: Mapping[str, Any]) -> str | None:
    """The reason with the HTTP status and the vendor's error code in front, when the check's
    details hold them and the reason does not say them already: "HTTP 503: An unknown error
    occurred", "HTTP 402 card_declined: Your card was declined." A 2xx status is left out: an
    error inside a 200 answer is told by its code."""
    text = reason or ""
    front: list[str] = []
    status = facts.get("http_status")
    if isinstance(status, int) and not isinstance(status, bool) and not 200 <= status < 300:
        if f"HTTP {status}" not in text:
            front.append(f"HTTP {status}")
    code = next((facts[k] for k in VENDOR_CODE_KEYS if isinstance(facts.get(k), str | int)), None)
    if code is not None and not isinstance(code, bool) and str(code) and str(code) not in text:
        front.append(one_line(str(code))[:MAX_DETAIL_CHARS])
    if not front:
        return reason
    return f"{' '.join(front)}: {text}" if text.strip() else " ".join(front)


def reason_of(notification: Notification) -> str | None:
    """The reason a message shows (see `coded_reason`); the check's own words stay in details."""
    return coded_reason(notification.reason, check_facts(notification.details))


def tenant_of(notification: Notification) -> str:
    """The alerted tenant as people read it, or "platform"."""
    n = notification
    return tenant_label(n.tenant_id, n.tenant_names) if n.tenant_id else "platform"


def signature_text(notification: Notification) -> str:
    """The signature as people read it: "stripe · platform · health" for "stripe|-|health"
    (PagerDuty keeps the raw one as its dedup key)."""
    service, _, rest = notification.signature.partition("|")
    condition = rest.partition("|")[2]
    parts = [service or notification.service, tenant_of(notification), condition]
    return " · ".join(p for p in parts if p)


def alert_url(notification: Notification) -> str | None:
    """`{dashboard_url}/alerts?alert=<id>`: the Alerts page opened on this alert."""
    return alert_link(notification.dashboard_url, notification.alert_id)


def alert_link(dashboard_url: str | None, alert_id: int) -> str | None:
    """`alert_url` for any alert id (the run's summary artifact links alerts too)."""
    base = (dashboard_url or "").rstrip("/")
    return f"{base}/alerts?{urlencode({'alert': alert_id})}" if base else None


def service_url(notification: Notification) -> str | None:
    """`{dashboard_url}/service?service=<service>&tenant=<id>` (no tenant for the platform):
    service detail opened on the alerted target."""
    return service_link(notification.dashboard_url, notification.service, notification.tenant_id)


def service_link(dashboard_url: str | None, service: str, tenant_id: str | None) -> str | None:
    """`service_url` for any target."""
    base = (dashboard_url or "").rstrip("/")
    if not base:
        return None
    query = {"service": service}
    if tenant_id:
        query["tenant"] = tenant_id
    return f"{base}/service?{urlencode(query)}"


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
    where = tenant_of(notification)
    if notification.tenants:
        count = len(notification.tenants)
        return f"{where}, {count} tenant{'s' if count != 1 else ''}"
    return where


def summary(notification: Notification) -> str:
    """What broke, where, and why, on one line: "redis degraded (tenant-0001): slow"."""
    text = f"{notification.service} {notification.status} ({scope(notification)})"
    reason = reason_of(notification)
    if reason:
        text += f": {clip(one_line(reason), MAX_HEADLINE_REASON)}"
    if notification.kind is Kind.ACKNOWLEDGE and notification.acknowledged_by:
        text += f", acknowledged by {one_line(notification.acknowledged_by)}"
    return one_line(text)


def headline(notification: Notification) -> str:
    return f"[{label(notification)}] {summary(notification)}"


def view(notification: Notification) -> MessageView:
    n = notification
    reason = reason_of(n)
    return MessageView(
        kind=n.kind,
        label=label(n),
        summary=summary(n),
        headline=headline(n),
        title=one_line(n.title),
        service=n.service,
        tenant=tenant_of(n),
        scope=scope(n),
        severity=n.severity.value.upper(),
        status=n.status,
        reason=clip(reason.strip(), MAX_REASON) if reason else None,
        since=human_time(n.since),
        last_seen=human_time(n.last_seen),
        count=n.count,
        acknowledged_by=n.acknowledged_by,
        details=short_details(n.details),
        tenants=short_tenants(n.tenants, names=n.tenant_names),
        colour=colour(n),
        dashboard_url=n.dashboard_url,
        alert_id=n.alert_id,
        delivery_id=n.delivery_id,
        signature=n.signature,
        signature_text=signature_text(n),
        alert_url=alert_url(n),
        service_url=service_url(n),
        opened=human_time(n.opened_at) if n.opened_at else None,
    )
