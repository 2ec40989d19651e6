"""The outbox: how a decision, an acknowledge or a resolve becomes alert rows and queued
notifications, written through the store's ports (alerting/ports.py) in one transaction.

Which channels hear of what is decided here: opening notifications (trigger, escalate,
renotify) go where the router says; acknowledge and resolve only to the channels that got an
opening notification (and not failed for good), with the reference the channel returned, so
they update the original message. The payload a row carries is encoded and decoded here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from healthmon.alerting.lifecycle import AlertState, AlertView, Decision, group_key
from healthmon.alerting.notification import GroupNotification, Kind, Notification, Severity
from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.ports import AlertLedger, AlertRow, AlertStore, ClaimedGroup, ClaimedRow, SilenceRow
from healthmon.alerting.silences import SilenceView

#: severity, service, tenant -> channel names (alerting.routing.Router, or any such callable)
ChannelsFor = Callable[[Severity, str, str | None], Sequence[str]]

#: kinds that tell a channel about the alert itself (PagerDuty: event_action "trigger")
OPENING_KINDS = frozenset({Kind.TRIGGER, Kind.ESCALATE, Kind.RENOTIFY})
#: kinds that only make sense to a channel that got one of OPENING_KINDS
FOLLOW_UP_KINDS = frozenset({Kind.ACKNOWLEDGE, Kind.RESOLVE})

#: kinds a p2/p3 tenant alert's group batches; an escalation is news and goes out at once
GROUPED_KINDS = frozenset({Kind.TRIGGER, Kind.RENOTIFY, Kind.ACKNOWLEDGE, Kind.RESOLVE})

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
        # when the target started failing (lifecycle's `failing_since`), not when the alert
        # opened: on-call reads the outage's length from it
        "since": details.get("failing_since") or alert.first_seen.isoformat(),
        "opened_at": alert.first_seen.isoformat(),
        "tenant_names": dict(details.get("tenant_names") or {}),
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
        # rows queued before these were carried have neither
        opened_at=datetime.fromisoformat(p["opened_at"]) if p.get("opened_at") else None,
        tenant_names={str(k): str(v) for k, v in (p.get("tenant_names") or {}).items()},
    )


def group_notification(group: ClaimedGroup, dashboard_url: str | None = None) -> GroupNotification:
    """A claimed group's rows, as the channel is asked to send them in one message."""
    members = tuple(notification(row) for row in group.rows)
    first = members[0]
    return GroupNotification(
        group_key=group.group_key,
        service=first.service,
        condition=group.condition,
        members=members,
        live=group.live,
        unacknowledged=group.unacknowledged,
        tenant_names=dict(group.tenant_names),
        dashboard_url=dashboard_url if dashboard_url is not None else first.dashboard_url,
    )


def batched_in(alert: AlertRow, kind: Kind) -> str | None:
    """The group whose message carries this notice, or None when it goes out on its own: p1
    never waits, an escalation is news, and a platform alert or rollup has no peers to wait for."""
    if alert.tenant_id is None or kind not in GROUPED_KINDS or Severity(alert.severity) is Severity.P1:
        return None
    return group_key(alert.service, alert.condition)


def group_due(ledger: AlertLedger, key: str, channel: str, now: datetime, policy: AlertPolicy) -> datetime:
    """When a new notice of a group goes out on a channel: with the notices already waiting; else
    `group_interval` after the group's last message, if that is still ahead; else after
    `group_wait`, to collect the peers that fail in the same minute."""
    waiting, last_sent = ledger.group_times(key, channel, now)
    if waiting is not None:
        return waiting
    if last_sent is not None and now < last_sent + timedelta(seconds=policy.group_interval):
        return last_sent + timedelta(seconds=policy.group_interval)
    return now + timedelta(seconds=policy.group_wait)


def _queue(
    ledger: AlertLedger,
    alert_id: int,
    kind: Kind,
    route: ChannelsFor,
    now: datetime,
    dashboard_url: str | None,
    policy: AlertPolicy,
) -> list[int]:
    # read inside the transaction, after this decision's writes: the payload says what they wrote
    alert = ledger.alert(alert_id)
    if alert is None:
        raise AlertNotFound(alert_id)
    if kind in FOLLOW_UP_KINDS:
        targets = dict(ledger.opening_channels(alert_id))
    else:
        targets = {name: None for name in route(Severity(alert.severity), alert.service, alert.tenant_id)}
    group = batched_in(alert, kind)
    ids: list[int] = []
    for channel, ref in targets.items():
        if group is None:
            # the ordering rule holds this notice behind the alert's grouped ones: they go now
            ids += ledger.hurry_grouped(alert_id, channel, now)
        ids.append(
            ledger.queue_delivery(
                alert_id=alert_id,
                channel=channel,
                kind=kind.value,
                payload=payload(alert, kind, dashboard_url, ref),
                at=now,
                group_key=group,
                due=group_due(ledger, group, channel, now, policy) if group else None,
            )
        )
    if kind in OPENING_KINDS:
        severity = Severity(alert.severity)
        notified = Severity(alert.notified_severity) if alert.notified_severity else None
        # the highest severity told so far: only a rise above it escalates
        top = severity if notified is None or severity.rank > notified.rank else notified
        ledger.mark_notified(alert_id, at=now, severity=top.value)
    return ids


def apply_decision(
    store: AlertStore,
    decision: Decision,
    route: ChannelsFor,
    now: datetime,
    dashboard_url: str | None = None,
    policy: AlertPolicy | None = None,
) -> list[int]:
    """Write the decision in one transaction; the delivery rows exist before anything is sent.
    Returns the ids of the deliveries queued (grouped ones are due when their group is)."""
    grouping = policy or AlertPolicy()
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
            deliveries += _queue(ledger, alert_id, kind, route, now, dashboard_url, grouping)
    return deliveries


@dataclass(frozen=True)
class StateChange:
    """What a change by hand did: whether the alert's row changed, and the notices it queued."""

    changed: bool
    queued: list[int]


def change_state(
    store: AlertStore,
    alert_id: int,
    kind: Kind,
    who: str,
    now: datetime,
    route: ChannelsFor,
    dashboard_url: str | None = None,
    note: str | None = None,
    policy: AlertPolicy | None = None,
) -> StateChange:
    """Acknowledge (`kind` ACKNOWLEDGE) or resolve one alert in one transaction; raises
    AlertNotFound. The bulk changes read `changed` from here, not back from the row."""
    with store.transaction() as ledger:
        alert = ledger.alert(alert_id, lock=True)
        if alert is None:
            raise AlertNotFound(alert_id)
        if alert.status == AlertState.RESOLVED or (
            kind is Kind.ACKNOWLEDGE and alert.status == AlertState.ACKNOWLEDGED
        ):
            return StateChange(False, [])
        if kind is Kind.ACKNOWLEDGE:
            changed = ledger.acknowledge_alert(alert_id, by=who, at=now, note=note)
        else:
            changed = ledger.resolve_alert(alert_id, by=who, at=now, note=note)
        # a channel that was never told of the alert is not told it ended
        if not changed or not alert.notified_severity:
            return StateChange(changed, [])
        queued = _queue(ledger, alert_id, kind, route, now, dashboard_url, policy or AlertPolicy())
        return StateChange(True, queued)


def acknowledge(
    store: AlertStore,
    alert_id: int,
    who: str,
    now: datetime,
    route: ChannelsFor,
    dashboard_url: str | None = None,
    note: str | None = None,
    policy: AlertPolicy | None = None,
) -> list[int]:
    """Open -> acknowledged, recording who, when and their note; tells the channels that got
    the alert (a p2/p3 tenant alert's notice with its group's). Acknowledging an acknowledged
    or resolved alert changes nothing."""
    done = change_state(store, alert_id, Kind.ACKNOWLEDGE, who, now, route, dashboard_url, note, policy)
    return done.queued


def resolve(
    store: AlertStore,
    alert_id: int,
    who: str,
    now: datetime,
    route: ChannelsFor,
    dashboard_url: str | None = None,
    note: str | None = None,
    policy: AlertPolicy | None = None,
) -> list[int]:
    """-> resolved by hand; tells the channels that got the alert, like `acknowledge`.
    Resolving a resolved alert changes nothing."""
    return change_state(store, alert_id, Kind.RESOLVE, who, now, route, dashboard_url, note, policy).queued
