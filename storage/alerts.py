"""platform_alerts and alert_deliveries: applying lifecycle decisions, claiming and settling sends."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from healthmon.alerting.lifecycle import AlertView, Decision
from healthmon.alerting.notification import Kind, Notification, Severity
from healthmon.alerting.silences import SilenceView
from healthmon.storage.tables import AlertDelivery, PlatformAlert, Silence

ALERTS = PlatformAlert.__table__  # type: ignore[attr-defined]
DELIVERIES = AlertDelivery.__table__  # type: ignore[attr-defined]
SILENCES = Silence.__table__  # type: ignore[attr-defined]

#: severity, service, tenant -> channel names
Router = Callable[[Severity, str, str | None], list[str]]


class AlertNotFound(LookupError):
    pass


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    alert_id: int
    channel: str
    kind: Kind
    attempts: int
    payload: dict[str, Any]

    def notification(self) -> Notification:
        p = self.payload
        return Notification(
            alert_id=self.alert_id,
            delivery_id=self.id,
            kind=self.kind,
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


def _view(row: Any) -> AlertView:
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


def load_live(engine: Engine, services: Iterable[str] | None = None) -> list[AlertView]:
    stmt = select(ALERTS).where(ALERTS.c.status != "resolved")
    if services is not None:
        stmt = stmt.where(ALERTS.c.service.in_(list(services)))
    with engine.connect() as conn:
        return [_view(r) for r in conn.execute(stmt)]


def load_silences(engine: Engine, now: datetime) -> list[SilenceView]:
    stmt = select(SILENCES).where(SILENCES.c.ends_at > now, SILENCES.c.ended_at.is_(None))
    with engine.connect() as conn:
        return [
            SilenceView(r.id, r.service, r.tenant_id, r.starts_at, r.ends_at, r.recurrence, r.ended_at)
            for r in conn.execute(stmt)
        ]


def add_silence(
    engine: Engine,
    *,
    service: str | None,
    tenant_id: str | None,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    created_by: str | None,
    recurrence: dict[str, Any] | None = None,
) -> int:
    if ends_at <= starts_at:
        raise ValueError("ends_at: must be after starts_at")
    with engine.begin() as conn:
        return int(
            conn.execute(
                SILENCES.insert()
                .values(
                    service=service,
                    tenant_id=tenant_id,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    reason=reason,
                    created_by=created_by,
                    created_at=starts_at,
                    recurrence=recurrence,
                )
                .returning(SILENCES.c.id)
            ).scalar_one()
        )


def end_silence(engine: Engine, silence_id: int, now: datetime) -> bool:
    with engine.begin() as conn:
        done = conn.execute(
            update(SILENCES)
            .where(SILENCES.c.id == silence_id, SILENCES.c.ended_at.is_(None))
            .values(ended_at=now)
        )
        return done.rowcount > 0


def _payload(alert: Any, kind: Kind, dashboard_url: str | None, ref: str | None) -> dict[str, Any]:
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
        "since": (alert.first_seen).isoformat(),
        "last_seen": alert.last_seen.isoformat(),
        "count": alert.count,
        "details": details,
        "dashboard_url": dashboard_url,
        "acknowledged_by": alert.acknowledged_by,
        "tenants": details.get("tenants") or [],
        "ref": ref,
    }


def _trigger_channels(conn: Connection, alert_id: int) -> dict[str, str | None]:
    """Channels that were (or are being) told about this alert, with their refs."""
    rows = conn.execute(
        select(DELIVERIES.c.channel, DELIVERIES.c.ref, DELIVERIES.c.status)
        .where(
            DELIVERIES.c.alert_id == alert_id,
            DELIVERIES.c.kind.in_([Kind.TRIGGER.value, Kind.ESCALATE.value, Kind.RENOTIFY.value]),
            DELIVERIES.c.status != "failed",
        )
        .order_by(DELIVERIES.c.id)
    ).all()
    channels: dict[str, str | None] = {}
    for row in rows:
        channels[row.channel] = channels.get(row.channel) or row.ref
    return channels


def _queue(
    conn: Connection, alert_id: int, kind: Kind, route: Router, now: datetime, dashboard_url: str | None
) -> list[int]:
    alert = conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).one()
    if kind in (Kind.ACKNOWLEDGE, Kind.RESOLVE):
        targets = _trigger_channels(conn, alert_id)
    else:
        targets = {name: None for name in route(Severity(alert.severity), alert.service, alert.tenant_id)}
    ids = []
    for channel, ref in targets.items():
        ids.append(
            int(
                conn.execute(
                    DELIVERIES.insert()
                    .values(
                        alert_id=alert_id,
                        channel=channel,
                        kind=kind.value,
                        payload=_payload(alert, kind, dashboard_url, ref),
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                        status="pending",
                    )
                    .returning(DELIVERIES.c.id)
                ).scalar_one()
            )
        )
    if kind in (Kind.TRIGGER, Kind.ESCALATE, Kind.RENOTIFY):
        notified = alert.notified_severity
        top = (
            alert.severity
            if notified is None or Severity(alert.severity).rank > Severity(notified).rank
            else notified
        )
        conn.execute(
            update(ALERTS).where(ALERTS.c.id == alert_id).values(last_notified_at=now, notified_severity=top)
        )
    return ids


def apply_decision(
    engine: Engine, decision: Decision, route: Router, now: datetime, dashboard_url: str | None = None
) -> list[int]:
    """Write the decision in one transaction; the delivery rows exist before anything is sent.
    Returns the ids of the deliveries to send now."""
    by_signature: dict[str, int] = {}
    deliveries: list[int] = []
    with engine.begin() as conn:
        for change in decision.changes:
            values: dict[str, Any] = {
                "severity": change.severity.value,
                "title": change.title,
                "details": change.details,
                "flapping": change.flapping,
                "held": change.held,
            }
            if change.id is None:
                alert_id = int(
                    conn.execute(
                        ALERTS.insert()
                        .values(
                            signature=change.signature,
                            service=change.service,
                            tenant_id=change.tenant_id,
                            condition=change.condition,
                            status="open",
                            count=1,
                            first_seen=now,
                            last_seen=now,
                            **values,
                        )
                        .returning(ALERTS.c.id)
                    ).scalar_one()
                )
            else:
                alert_id = change.id
                if change.bump:
                    values.update(last_seen=now, count=ALERTS.c.count + 1)
                conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id).values(**values))
            by_signature[change.signature] = alert_id
        already: set[int] = set()
        for alert_id in decision.resolve:
            done = conn.execute(
                update(ALERTS)
                .where(ALERTS.c.id == alert_id, ALERTS.c.status != "resolved")
                .values(status="resolved", resolved_at=now, resolved_by="recovery", held=None)
            )
            if done.rowcount == 0:
                already.add(alert_id)  # resolved meanwhile (by hand, or another watchdog): no second notice
        for key, kind in decision.notify:
            alert_id = by_signature[key] if isinstance(key, str) else key
            if kind is Kind.RESOLVE and alert_id in already:
                continue
            deliveries += _queue(conn, alert_id, kind, route, now, dashboard_url)
    return deliveries


def _set_state(
    engine: Engine,
    alert_id: int,
    kind: Kind,
    who: str,
    now: datetime,
    route: Router,
    dashboard_url: str | None,
    note: str | None = None,
) -> list[int]:
    with engine.begin() as conn:
        alert = conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id).with_for_update()).first()
        if alert is None:
            raise AlertNotFound(alert_id)
        if alert.status == "resolved" or (kind is Kind.ACKNOWLEDGE and alert.status == "acknowledged"):
            return []
        if kind is Kind.ACKNOWLEDGE:
            values = {"status": "acknowledged", "acknowledged_by": who, "acknowledged_at": now}
        else:
            values = {"status": "resolved", "resolved_by": who, "resolved_at": now, "held": None}
        if note:
            values["note"] = note
        conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id).values(**values))
        return _queue(conn, alert_id, kind, route, now, dashboard_url) if alert.notified_severity else []


def acknowledge(
    engine: Engine,
    alert_id: int,
    who: str,
    now: datetime,
    route: Router,
    dashboard_url: str | None = None,
    note: str | None = None,
) -> list[int]:
    """Open -> acknowledged, recording who, when and their note; tells the channels that got
    the alert. Acknowledging an acknowledged or resolved alert changes nothing."""
    return _set_state(engine, alert_id, Kind.ACKNOWLEDGE, who, now, route, dashboard_url, note)


def resolve(
    engine: Engine,
    alert_id: int,
    who: str,
    now: datetime,
    route: Router,
    dashboard_url: str | None = None,
    note: str | None = None,
) -> list[int]:
    return _set_state(engine, alert_id, Kind.RESOLVE, who, now, route, dashboard_url, note)


#: kinds that tell a channel about the alert itself (PagerDuty: event_action "trigger")
OPENING_KINDS = (Kind.TRIGGER.value, Kind.ESCALATE.value, Kind.RENOTIFY.value)
#: kinds that only make sense to a channel that got one of OPENING_KINDS
FOLLOW_UP_KINDS = (Kind.ACKNOWLEDGE.value, Kind.RESOLVE.value)
NEVER_OPENED = "not sent: this channel never got the alert (its trigger failed for good)"


def claim(
    engine: Engine,
    now: datetime,
    lease_s: float,
    ids: Sequence[int] | None = None,
    ignore_backoff: bool = False,
    limit: int = 200,
    exclude: Sequence[int] = (),
) -> list[DeliveryRow]:
    """Take pending deliveries for sending: nobody else takes them until the lease ends.

    Only the head of each (alert, channel) queue is taken: a row whose alert has an earlier
    row (lower id) for the same channel still pending, leased or backing off, waits. So a
    resolve never overtakes its trigger, whatever the number of senders. Safe under
    concurrency because a row leaves `pending` only in a committed settle, and every claim
    statement sees either that commit (the next row is free) or not (it still waits)."""
    earlier = DELIVERIES.alias("earlier")
    ahead = (
        select(earlier.c.id)
        .where(
            earlier.c.alert_id == DELIVERIES.c.alert_id,
            earlier.c.channel == DELIVERIES.c.channel,
            earlier.c.id < DELIVERIES.c.id,
            earlier.c.status == "pending",
        )
        .exists()
    )
    due = [
        DELIVERIES.c.status == "pending",
        or_(DELIVERIES.c.claimed_until.is_(None), DELIVERIES.c.claimed_until < now),
        ~ahead,
    ]
    if not ignore_backoff:
        due.append(or_(DELIVERIES.c.next_attempt_at.is_(None), DELIVERIES.c.next_attempt_at <= now))
    if ids is not None:
        due.append(DELIVERIES.c.id.in_(list(ids)))
    if exclude:
        due.append(DELIVERIES.c.id.not_in(list(exclude)))
    picked = select(DELIVERIES.c.id).where(and_(*due)).order_by(DELIVERIES.c.id).limit(limit)
    if engine.dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True, of=DELIVERIES)
    stmt = (
        update(DELIVERIES)
        .where(DELIVERIES.c.id.in_(picked.scalar_subquery()))
        .values(claimed_until=now + timedelta(seconds=lease_s), attempts=DELIVERIES.c.attempts + 1)
        .returning(
            DELIVERIES.c.id,
            DELIVERIES.c.alert_id,
            DELIVERIES.c.channel,
            DELIVERIES.c.kind,
            DELIVERIES.c.attempts,
            DELIVERIES.c.payload,
        )
    )
    with engine.begin() as conn:
        rows = conn.execute(stmt).all()
    return [DeliveryRow(r.id, r.alert_id, r.channel, Kind(r.kind), r.attempts, dict(r.payload)) for r in rows]


@dataclass(frozen=True)
class Outcome:
    """How one claimed send ended: "delivered", "pending" (retry at `next_attempt_at`) or "failed"."""

    id: int
    state: str
    ref: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    #: the row's `attempts` as claimed; a settle for an older claim (its lease ended and
    #: another sender took the row) changes nothing
    attempts: int | None = None


def _skip_never_opened(conn: Connection, alert_id: int, channel: str, after_id: int) -> list[int]:
    """Pending acknowledge/resolve rows of this alert and channel with no earlier opening row
    delivered or still pending: the channel never heard of the alert, so they are not sent."""
    earlier = DELIVERIES.alias("earlier")
    opened = (
        select(earlier.c.id)
        .where(
            earlier.c.alert_id == DELIVERIES.c.alert_id,
            earlier.c.channel == DELIVERIES.c.channel,
            earlier.c.id < DELIVERIES.c.id,
            earlier.c.kind.in_(OPENING_KINDS),
            earlier.c.status.in_(["pending", "delivered"]),
        )
        .exists()
    )
    stmt = (
        update(DELIVERIES)
        .where(
            DELIVERIES.c.alert_id == alert_id,
            DELIVERIES.c.channel == channel,
            DELIVERIES.c.id > after_id,
            DELIVERIES.c.status == "pending",
            DELIVERIES.c.kind.in_(FOLLOW_UP_KINDS),
            ~opened,
        )
        .values(status="failed", claimed_until=None, last_error=NEVER_OPENED, next_attempt_at=None)
        .returning(DELIVERIES.c.id)
    )
    return [int(i) for i in conn.execute(stmt).scalars()]


def settle(engine: Engine, outcomes: Sequence[Outcome], now: datetime) -> list[int]:
    """Record how sends ended, in one transaction (the sender calls it once per finished send,
    so a sender that dies loses only the outcomes of sends still in flight). Returns the ids
    of follow-up rows marked failed because their trigger failed for good (_skip_never_opened)."""
    skipped: list[int] = []
    with engine.begin() as conn:
        for outcome in outcomes:
            values: dict[str, Any] = {"status": outcome.state, "claimed_until": None}
            if outcome.state == "delivered":
                values.update(delivered_at=now, ref=outcome.ref, last_error=None)
            else:
                values.update(last_error=outcome.error, next_attempt_at=outcome.next_attempt_at)
            mine = [DELIVERIES.c.id == outcome.id, DELIVERIES.c.status == "pending"]
            if outcome.attempts is not None:
                mine.append(DELIVERIES.c.attempts == outcome.attempts)
            row = conn.execute(
                update(DELIVERIES)
                .where(*mine)
                .values(**values)
                .returning(DELIVERIES.c.alert_id, DELIVERIES.c.channel, DELIVERIES.c.kind)
            ).first()
            if row is None:
                continue
            if outcome.state == "failed" and row.kind in OPENING_KINDS:
                skipped += _skip_never_opened(conn, row.alert_id, row.channel, outcome.id)
            # a trigger's ref (Slack message) is what later acknowledge/resolve notices update
            if outcome.state == "delivered" and outcome.ref:
                pending = conn.execute(
                    select(DELIVERIES.c.id, DELIVERIES.c.payload).where(
                        DELIVERIES.c.alert_id == row.alert_id,
                        DELIVERIES.c.channel == row.channel,
                        DELIVERIES.c.status == "pending",
                    )
                ).all()
                for other in pending:
                    if not other.payload.get("ref"):
                        conn.execute(
                            update(DELIVERIES)
                            .where(DELIVERIES.c.id == other.id)
                            .values(payload={**other.payload, "ref": outcome.ref})
                        )
    return skipped


@dataclass(frozen=True)
class PendingCount:
    """What is still waiting to be sent."""

    pending: int
    #: of those, rows a sender holds now (its lease has not ended)
    leased: int
    #: when the last of those leases ends
    leased_until: datetime | None


def count_pending(engine: Engine, now: datetime) -> PendingCount:
    held = and_(DELIVERIES.c.claimed_until.is_not(None), DELIVERIES.c.claimed_until > now)
    stmt = select(
        func.count(),
        func.count().filter(held),
        func.max(DELIVERIES.c.claimed_until).filter(held),
    ).where(DELIVERIES.c.status == "pending")
    with engine.connect() as conn:
        pending, leased, until = conn.execute(stmt).one()
    if isinstance(until, str):  # SQLite hands an aggregate back as text
        until = datetime.fromisoformat(until)
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return PendingCount(int(pending), int(leased), until)


def list_alerts(
    engine: Engine,
    status: Sequence[str] | None = None,
    limit: int = 500,
    *,
    severity: Sequence[str] | None = None,
    service: str | None = None,
    tenant_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Newest first. `since`/`until` bound when the alert was last seen / first seen, so an
    alert that was live at any moment of the window is in it."""
    stmt = select(ALERTS).order_by(ALERTS.c.id.desc()).limit(limit).offset(offset)
    if status:
        stmt = stmt.where(ALERTS.c.status.in_(list(status)))
    if severity:
        stmt = stmt.where(ALERTS.c.severity.in_(list(severity)))
    if service:
        stmt = stmt.where(ALERTS.c.service == service)
    if tenant_id:
        stmt = stmt.where(ALERTS.c.tenant_id == tenant_id)
    if since is not None:
        stmt = stmt.where(ALERTS.c.last_seen >= since)
    if until is not None:
        stmt = stmt.where(ALERTS.c.first_seen <= until)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def get_alert(engine: Engine, alert_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).first()
    return dict(row._mapping) if row is not None else None


def list_silences(engine: Engine, active_at: datetime | None = None) -> list[dict[str, Any]]:
    """Every silence, newest first; with `active_at`, only those not ended by then."""
    stmt = select(SILENCES).order_by(SILENCES.c.id.desc())
    if active_at is not None:
        stmt = stmt.where(SILENCES.c.ends_at > active_at, SILENCES.c.ended_at.is_(None))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def deliveries_of(engine: Engine, alert_id: int | None = None) -> list[dict[str, Any]]:
    stmt = select(DELIVERIES).order_by(DELIVERIES.c.id)
    if alert_id is not None:
        stmt = stmt.where(DELIVERIES.c.alert_id == alert_id)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
