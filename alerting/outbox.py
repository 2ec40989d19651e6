"""The outbox: how a decision, an acknowledge or a resolve becomes alert rows and queued
notifications, written through the store's ports (alerting/ports.py) in one transaction.

Which channels hear of what is decided here: opening notifications (trigger, escalate,
renotify) go where the router says; acknowledge and resolve only to the channels that got an
opening notification (and not failed for good), with the reference the channel returned, so
they update the original message. The payload a row carries is encoded and decoded here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from healthmon.alerting.lifecycle import AlertState, AlertView, Decision
from healthmon.alerting.notification import Kind, Notification, Severity
from healthmon.alerting.ports import AlertLedger, AlertRow, AlertStore, ClaimedRow, SilenceRow
from healthmon.alerting.silences import SilenceView

#: severity, service, tenant -> channel names (alerting.routing.Router, or any such callable)
ChannelsFor = Callable[[Severity, str, str | None], Sequence[str]]

#: kinds that tell a channel about the alert itself (PagerDuty: event_action "trigger")
OPENING_KINDS = frozenset({Kind.TRIGGER, Kind.ESCALATE, Kind.RENOTIFY})
#: kinds that only make sense to a channel that got one of OPENING_KINDS
FOLLOW_UP_KINDS = frozenset({Kind.ACKNOWLEDGE, Kind.RESOLVE})

#: who resolved an alert whose condition went away by itself
RECOVERY = "recovery"


class AlertNotFound(LookupError):
    pass


def alert_view(row: AlertRow) -> AlertView:
    return AlertView(
        id=row.id,
        signature=row.signature,
        service=row.service,
        tenant_id=row.tenant_id,
        condition=row.condition,
        severity=Severity(row.severity),
        status=row.status,
        count=row.count,
        last_notified_at=row.last_notified_at,
        notified_severity=Severity(row.notified_severity) if row.notified_severity else None,
        flapping=bool(row.flapping),
    )


def silence_view(row: SilenceRow) -> SilenceView:
    return SilenceView(
        row.id, row.service, row.tenant_id, row.starts_at, row.ends_at, row.recurrence, row.ended_at
    )


def payload(alert: AlertRow, kind: Kind, dashboard_url: str | None, ref: str | None) -> dict[str, Any]:
    """What a delivery row carries: everything its message may say, fixed when it is queued."""
    details = dict(alert.details or {})
    return {
        "kind": kind.value,
        "severity": alert.severity,
        "signature": alert.signature,
        "service": alert.service,
        "tenant_id": alert.tenant_id,
        "title": alert.title,
        "status": details.get("status", "unhealthy"),
        "reason": details.get("reason"),
        "since": alert.first_seen.isoformat(),
        "last_seen": alert.last_seen.isoformat(),
        "count": alert.count,
        "details": details,
        "dashboard_url": dashboard_url,
        "acknowledged_by": alert.acknowledged_by,
        "tenants": details.get("tenants") or [],
        "ref": ref,
    }


def notification(row: ClaimedRow) -> Notification:
    """A claimed row's payload, as the channel is asked to send it."""
    p = row.payload
    return Notification(
        alert_id=row.alert_id,
        delivery_id=row.id,
        kind=Kind(row.kind),
        severity=Severity(p["severity"]),
        signature=p["signature"],
        service=p["service"],
        tenant_id=p.get("tenant_id"),
        title=p["title"],
        status=p.get("status", "unknown"),
        reason=p.get("reason"),
        since=datetime.fromisoformat(p["since"]),
        last_seen=datetime.fromisoformat(p["last_seen"]),
        count=int(p.get("count", 1)),
        details=dict(p.get("details") or {}),
        dashboard_url=p.get("dashboard_url"),
        acknowledged_by=p.get("acknowledged_by"),
        tenants=tuple(p.get("tenants") or ()),
        ref=p.get("ref"),
    )


def _queue(
    ledger: AlertLedger,
    alert_id: int,
    kind: Kind,
    route: ChannelsFor,
    now: datetime,
    dashboard_url: str | None,
) -> list[int]:
    # read inside the transaction, after this decision's writes: the payload says what they wrote
    alert = ledger.alert(alert_id)
    if alert is None:
        raise AlertNotFound(alert_id)
    if kind in FOLLOW_UP_KINDS:
        targets = dict(ledger.opening_channels(alert_id))
    else:
        targets = {name: None for name in route(Severity(alert.severity), alert.service, alert.tenant_id)}
    ids = [
        ledger.queue_delivery(
            alert_id=alert_id,
            channel=channel,
            kind=kind.value,
            payload=payload(alert, kind, dashboard_url, ref),
            at=now,
        )
        for channel, ref in targets.items()
    ]
    if kind in OPENING_KINDS:
        severity = Severity(alert.severity)
        notified = Severity(alert.notified_severity) if alert.notified_severity else None
        # the highest severity told so far: only a rise above it escalates
        top = severity if notified is None or severity.rank > notified.rank else notified
        ledger.mark_notified(alert_id, at=now, severity=top.value)
    return ids


def apply_decision(
    store: AlertStore, decision: Decision, route: ChannelsFor, now: datetime, dashboard_url: str | None = None
) -> list[int]:
    """Write the decision in one transaction; the delivery rows exist before anything is sent.
    Returns the ids of the deliveries to send now."""
    by_signature: dict[str, int] = {}
    deliveries: list[int] = []
    with store.transaction() as ledger:
        for change in decision.changes:
            if change.id is None:
                alert_id = ledger.insert_alert(
                    signature=change.signature,
                    service=change.service,
                    tenant_id=change.tenant_id,
                    condition=change.condition,
                    severity=change.severity.value,
                    title=change.title,
                    details=change.details,
                    flapping=change.flapping,
                    held=change.held,
                    at=now,
                )
            else:
                alert_id = change.id
                ledger.update_alert(
                    alert_id,
                    severity=change.severity.value,
                    title=change.title,
                    details=change.details,
                    flapping=change.flapping,
                    held=change.held,
                    seen_at=now if change.bump else None,
                )
            by_signature[change.signature] = alert_id
        already: set[int] = set()
        for alert_id in decision.resolve:
            if not ledger.resolve_alert(alert_id, by=RECOVERY, at=now):
                already.add(alert_id)  # resolved meanwhile (by hand, or another watchdog): no second notice
        for key, kind in decision.notify:
            alert_id = by_signature[key] if isinstance(key, str) else key
            if kind is Kind.RESOLVE and alert_id in already:
                continue
            deliveries += _queue(ledger, alert_id, kind, route, now, dashboard_url)
    return deliveries


def _set_state(
    store: AlertStore,
    alert_id: int,
    kind: Kind,
    who: str,
    now: datetime,
    route: ChannelsFor,
    dashboard_url: str | None,
    note: str | None,
) -> list[int]:
    with store.transaction() as ledger:
        alert = ledger.alert(alert_id, lock=True)
        if alert is None:
            raise AlertNotFound(alert_id)
        if alert.status == AlertState.RESOLVED or (
            kind is Kind.ACKNOWLEDGE and alert.status == AlertState.ACKNOWLEDGED
        ):
            return []
        if kind is Kind.ACKNOWLEDGE:
            changed = ledger.acknowledge_alert(alert_id, by=who, at=now, note=note)
        else:
            changed = ledger.resolve_alert(alert_id, by=who, at=now, note=note)
        # a channel that was never told of the alert is not told it ended
        if not changed or not alert.notified_severity:
            return []
        return _queue(ledger, alert_id, kind, route, now, dashboard_url)


def acknowledge(
    store: AlertStore,
    alert_id: int,
    who: str,
    now: datetime,
    route: ChannelsFor,
    dashboard_url: str | None = None,
    note: str | None = None,
) -> list[int]:
    """Open -> acknowledged, recording who, when and their note; tells the channels that got
    the alert. Acknowledging an acknowledged or resolved alert changes nothing."""
    return _set_state(store, alert_id, Kind.ACKNOWLEDGE, who, now, route, dashboard_url, note)


def resolve(
    store: AlertStore,
    alert_id: int,
    who: str,
    now: datetime,
    route: ChannelsFor,
    dashboard_url: str | None = None,
    note: str | None = None,
) -> list[int]:
    """-> resolved by hand; tells the channels that got the alert. Resolving a resolved alert
    changes nothing."""
    return _set_state(store, alert_id, Kind.RESOLVE, who, now, route, dashboard_url, note)
