"""platform_alerts, alert_deliveries and silences: the SQL behind alerting's ports.

`SqlAlertStore` implements alerting.ports.AlertStore (one transaction per decision, the alert
row locked while it changes) and alerting.ports.DeliveryQueue (claim, settle), structurally:
this module never imports alerting. What to write and whom to tell is alerting's business
(alerting/outbox.py); here are the rows, the ordering rule as a query, and the reads the
faces show.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Exists,
    FromClause,
    Select,
    and_,
    func,
    or_,
    select,
    update,
)

from healthmon.storage.tables import ALERTS, DELIVERIES, SILENCES, TENANTS

#: alert states, as the SQL spells them (alerting.lifecycle.AlertState)
OPEN = "open"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
#: delivery kinds that tell a channel about the alert itself, and those that only make sense
#: after one of them (alerting.outbox.OPENING_KINDS, FOLLOW_UP_KINDS)
OPENING_KINDS = ("trigger", "escalate", "renotify")
FOLLOW_UP_KINDS = ("acknowledge", "resolve")
NEVER_OPENED = "not sent: this channel never got the alert (its trigger failed for good)"


@dataclass(frozen=True)
class AlertRecord:
    """The columns of a platform_alerts row that deciding and queueing read."""

    id: int
    signature: str
    service: str
    tenant_id: str | None
    condition: str
    severity: str
    status: str
    title: str
    details: Mapping[str, Any] | None
    count: int
    first_seen: datetime
    last_seen: datetime
    last_notified_at: datetime | None
    notified_severity: str | None
    flapping: bool | None
    acknowledged_by: str | None


_RECORD_COLUMNS = [ALERTS.c[name] for name in AlertRecord.__dataclass_fields__]


def _record(row: Any) -> AlertRecord:
    return AlertRecord(**{c.name: row._mapping[c.name] for c in _RECORD_COLUMNS})


@dataclass(frozen=True)
class SilenceRecord:
    id: int
    service: str | None
    tenant_id: str | None
    starts_at: datetime
    ends_at: datetime
    recurrence: Mapping[str, Any] | None
    ended_at: datetime | None


@dataclass(frozen=True)
class DeliveryRow:
    """A claimed alert_deliveries row."""

    id: int
    alert_id: int
    channel: str
    kind: str
    attempts: int
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class DeliveryGroup:
    """The due rows of one alert group and channel, claimed together (alerting.ports.ClaimedGroup)."""

    group_key: str
    condition: str
    channel: str
    rows: Sequence[DeliveryRow]
    live: int
    unacknowledged: int
    tenant_names: Mapping[str, str]


class SendOutcome(Protocol):
    """How one claimed send ended (alerting.ports.Outcome)."""

    @property
    def id(self) -> int: ...
    @property
    def state(self) -> str: ...  # delivered | pending | failed
    @property
    def ref(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def next_attempt_at(self) -> datetime | None: ...
    @property
    def attempts(self) -> int | None: ...


class AlertTransaction:
    """One transaction's reads and writes of alerts and their delivery rows."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert_alert(
        self,
        *,
        signature: str,
        service: str,
        tenant_id: str | None,
        condition: str,
        severity: str,
        title: str,
        details: Mapping[str, Any],
        flapping: bool,
        held: str | None,
        at: datetime,
    ) -> int:
        return int(
            self.conn.execute(
                ALERTS.insert()
                .values(
                    signature=signature,
                    service=service,
                    tenant_id=tenant_id,
                    condition=condition,
                    status=OPEN,
                    count=1,
                    first_seen=at,
                    last_seen=at,
                    severity=severity,
                    title=title,
                    details=details,
                    flapping=flapping,
                    held=held,
                )
                .returning(ALERTS.c.id)
            ).scalar_one()
        )

    def update_alert(
        self,
        alert_id: int,
        *,
        severity: str,
        title: str,
        details: Mapping[str, Any],
        flapping: bool,
        held: str | None,
        seen_at: datetime | None,
    ) -> None:
        values: dict[str, Any] = {
            "severity": severity,
            "title": title,
            "details": details,
            "flapping": flapping,
            "held": held,
        }
        if seen_at is not None:
            values.update(last_seen=seen_at, count=ALERTS.c.count + 1)
        self.conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id).values(**values))

    def acknowledge_alert(self, alert_id: int, *, by: str, at: datetime, note: str | None) -> bool:
        values: dict[str, Any] = {"status": ACKNOWLEDGED, "acknowledged_by": by, "acknowledged_at": at}
        if note:
            values["note"] = note
        done = self.conn.execute(
            update(ALERTS).where(ALERTS.c.id == alert_id, ALERTS.c.status == OPEN).values(**values)
        )
        return done.rowcount > 0

    def resolve_alert(self, alert_id: int, *, by: str, at: datetime, note: str | None = None) -> bool:
        values: dict[str, Any] = {"status": RESOLVED, "resolved_by": by, "resolved_at": at, "held": None}
        if note:
            values["note"] = note
        done = self.conn.execute(
            update(ALERTS).where(ALERTS.c.id == alert_id, ALERTS.c.status != RESOLVED).values(**values)
        )
        return done.rowcount > 0

    def alert(self, alert_id: int, *, lock: bool = False) -> AlertRecord | None:
        stmt = select(*_RECORD_COLUMNS).where(ALERTS.c.id == alert_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        return _record(row) if row is not None else None

    def opening_channels(self, alert_id: int) -> dict[str, str | None]:
        rows = self.conn.execute(
            select(DELIVERIES.c.channel, DELIVERIES.c.ref)
            .where(
                DELIVERIES.c.alert_id == alert_id,
                DELIVERIES.c.kind.in_(OPENING_KINDS),
                DELIVERIES.c.status != "failed",
            )
            .order_by(DELIVERIES.c.id)
        ).all()
        channels: dict[str, str | None] = {}
        for row in rows:
            channels[row.channel] = channels.get(row.channel) or row.ref
        return channels

    def queue_delivery(
        self,
        *,
        alert_id: int,
        channel: str,
        kind: str,
        payload: Mapping[str, Any],
        at: datetime,
        group_key: str | None = None,
        due: datetime | None = None,
    ) -> int:
        return int(
            self.conn.execute(
                DELIVERIES.insert()
                .values(
                    alert_id=alert_id,
                    channel=channel,
                    kind=kind,
                    payload=dict(payload),
                    attempts=0,
                    next_attempt_at=due or at,
                    created_at=at,
                    status="pending",
                    group_key=group_key,
                )
                .returning(DELIVERIES.c.id)
            ).scalar_one()
        )

    def hurry_grouped(self, alert_id: int, channel: str, at: datetime) -> list[int]:
        done = self.conn.execute(
            update(DELIVERIES)
            .where(
                DELIVERIES.c.alert_id == alert_id,
                DELIVERIES.c.channel == channel,
                DELIVERIES.c.group_key.is_not(None),
                DELIVERIES.c.status == "pending",
                DELIVERIES.c.next_attempt_at > at,
            )
            .values(next_attempt_at=at)
            .returning(DELIVERIES.c.id)
        )
        return [int(i) for i in done.scalars()]

    def group_times(
        self, group_key: str, channel: str, now: datetime
    ) -> tuple[datetime | None, datetime | None]:
        leased = and_(DELIVERIES.c.claimed_until.is_not(None), DELIVERIES.c.claimed_until >= now)
        pending = DELIVERIES.c.status == "pending"
        row = self.conn.execute(
            select(
                func.min(DELIVERIES.c.next_attempt_at).filter(pending, ~leased),
                func.count().filter(pending, leased),
                func.max(DELIVERIES.c.delivered_at).filter(DELIVERIES.c.status == "delivered"),
            ).where(DELIVERIES.c.group_key == group_key, DELIVERIES.c.channel == channel)
        ).one()
        waiting, in_flight, last_sent = row
        return waiting, (now if in_flight else last_sent)

    def mark_notified(self, alert_id: int, *, at: datetime, severity: str) -> None:
        self.conn.execute(
            update(ALERTS)
            .where(ALERTS.c.id == alert_id)
            .values(last_notified_at=at, notified_severity=severity)
        )


class SqlAlertStore:
    """The alert store and the delivery queue on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[AlertTransaction]:
        with self.engine.begin() as conn:
            yield AlertTransaction(conn)

    def claim(
        self,
        now: datetime,
        lease_s: float,
        ids: Sequence[int] | None = None,
        ignore_backoff: bool = False,
        limit: int = 200,
        exclude: Sequence[int] = (),
    ) -> list[DeliveryRow]:
        return claim(self.engine, now, lease_s, ids, ignore_backoff, limit, exclude)

    def claim_groups(
        self,
        now: datetime,
        lease_s: float,
        ids: Sequence[int] | None = None,
        ignore_backoff: bool = False,
        limit: int = 200,
        exclude: Sequence[int] = (),
    ) -> list[DeliveryGroup]:
        return claim_groups(self.engine, now, lease_s, ids, ignore_backoff, limit, exclude)

    def settle(self, outcomes: Sequence[SendOutcome], now: datetime) -> list[int]:
        return settle(self.engine, outcomes, now)


def load_live(engine: Engine, services: Iterable[str] | None = None) -> list[AlertRecord]:
    """Alerts not resolved (of `services`, if given)."""
    stmt = select(*_RECORD_COLUMNS).where(ALERTS.c.status != RESOLVED)
    if services is not None:
        stmt = stmt.where(ALERTS.c.service.in_(list(services)))
    with engine.connect() as conn:
        return [_record(r) for r in conn.execute(stmt)]


def load_silences(engine: Engine, now: datetime) -> list[SilenceRecord]:
    """Silences that have not ended by `now`."""
    stmt = select(SILENCES).where(SILENCES.c.ends_at > now, SILENCES.c.ended_at.is_(None))
    with engine.connect() as conn:
        return [
            SilenceRecord(r.id, r.service, r.tenant_id, r.starts_at, r.ends_at, r.recurrence, r.ended_at)
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
    due = [*_free(DELIVERIES, now, ignore_backoff, exclude, ids), DELIVERIES.c.group_key.is_(None)]
    due.append(~_ahead(earlier, earlier.c.status == "pending"))
    picked = select(DELIVERIES.c.id).where(and_(*due)).order_by(DELIVERIES.c.id).limit(limit)
    with engine.begin() as conn:
        return _lease(conn, picked, now, lease_s)


def _free(
    rows: FromClause,
    now: datetime,
    ignore_backoff: bool,
    exclude: Sequence[int],
    ids: Sequence[int] | None = None,
) -> list[ColumnElement[bool]]:
    """Pending, leased by nobody, due (unless backoff is ignored), not tried yet in this call,
    and one of `ids` if given."""
    free = [
        rows.c.status == "pending",
        or_(rows.c.claimed_until.is_(None), rows.c.claimed_until < now),
    ]
    if not ignore_backoff:
        free.append(or_(rows.c.next_attempt_at.is_(None), rows.c.next_attempt_at <= now))
    if exclude:
        free.append(rows.c.id.not_in(list(exclude)))
    if ids is not None:
        free.append(rows.c.id.in_(list(ids)))
    return free


def _ahead(earlier: FromClause, waiting: ColumnElement[bool]) -> Exists:
    """An earlier row of the same alert and channel that is `waiting`: the ordering rule."""
    return (
        select(earlier.c.id)
        .where(
            earlier.c.alert_id == DELIVERIES.c.alert_id,
            earlier.c.channel == DELIVERIES.c.channel,
            earlier.c.id < DELIVERIES.c.id,
            waiting,
        )
        .exists()
    )


def _lease(conn: Connection, picked: Select[Any], now: datetime, lease_s: float) -> list[DeliveryRow]:
    if conn.dialect.name == "postgresql":
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
    rows = sorted(conn.execute(stmt).all(), key=lambda r: int(r.id))
    return [DeliveryRow(r.id, r.alert_id, r.channel, r.kind, r.attempts, dict(r.payload)) for r in rows]


def claim_groups(
    engine: Engine,
    now: datetime,
    lease_s: float,
    ids: Sequence[int] | None = None,
    ignore_backoff: bool = False,
    limit: int = 200,
    exclude: Sequence[int] = (),
) -> list[DeliveryGroup]:
    """Per alert group and channel with a due row, lease all its due rows (of `ids`, if given:
    exactly those, as `claim`) at once.

    The ordering rule holds with one relaxation: a row does not wait for an earlier pending row
    of its alert and channel that is leased in the same claim (one message carries both, in
    queue order). What is in one claim depends on leases, which (unlike `pending`) another
    claim can change, so claims of one group and channel are serialised: on PostgreSQL by a
    transaction-level advisory lock, on SQLite by its single writer."""
    with engine.connect() as conn:
        pairs = conn.execute(
            select(DELIVERIES.c.group_key, DELIVERIES.c.channel)
            .where(*_free(DELIVERIES, now, ignore_backoff, exclude, ids), DELIVERIES.c.group_key.is_not(None))
            .group_by(DELIVERIES.c.group_key, DELIVERIES.c.channel)
            .order_by(func.min(DELIVERIES.c.id))
            .limit(limit)
        ).all()
    claimed: list[DeliveryGroup] = []
    for key, channel in pairs:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"{key}|{channel}"))))
            earlier = DELIVERIES.alias("earlier")
            free = (now, ignore_backoff, exclude, ids)
            in_claim = and_(*_free(earlier, *free), earlier.c.group_key == key, earlier.c.channel == channel)
            waits = _ahead(earlier, and_(earlier.c.status == "pending", ~in_claim))
            picked = (
                select(DELIVERIES.c.id)
                .where(*_free(DELIVERIES, *free), DELIVERIES.c.group_key == key)
                .where(DELIVERIES.c.channel == channel, ~waits)
                .order_by(DELIVERIES.c.id)
            )
            rows = _lease(conn, picked, now, lease_s)
            if rows:
                claimed.append(_group(conn, key, channel, rows))
    return claimed


def _group(conn: Connection, key: str, channel: str, rows: list[DeliveryRow]) -> DeliveryGroup:
    first = conn.execute(
        select(ALERTS.c.service, ALERTS.c.condition).where(ALERTS.c.id == rows[0].alert_id)
    ).one()
    live, unacknowledged = conn.execute(
        select(func.count(), func.count().filter(ALERTS.c.status == OPEN)).where(
            ALERTS.c.service == first.service,
            ALERTS.c.condition == first.condition,
            ALERTS.c.status != RESOLVED,
        )
    ).one()
    tenant_ids = {str(r.payload["tenant_id"]) for r in rows if r.payload.get("tenant_id")}
    names = conn.execute(
        select(TENANTS.c.id, TENANTS.c.name).where(TENANTS.c.id.in_(sorted(tenant_ids)))
    ).all()
    # a name that only repeats the id says nothing more
    shown = {str(t.id): str(t.name) for t in names if t.name and t.name != t.id}
    return DeliveryGroup(key, first.condition, channel, rows, int(live), int(unacknowledged), shown)


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


def settle(engine: Engine, outcomes: Sequence[SendOutcome], now: datetime) -> list[int]:
    """Record how sends ended, in one transaction (the sender calls it once per finished send,
    so a sender that dies loses only the outcomes of sends still in flight). Returns the ids
    of follow-up rows marked failed because their trigger failed for good (_skip_never_opened)."""
    skipped: list[int] = []
    with engine.begin() as conn:
        for outcome in outcomes:
            values: dict[str, Any] = {"status": str(outcome.state), "claimed_until": None}
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
    condition: str | None = None,
) -> list[dict[str, Any]]:
    """Newest first. `since`/`until` bound when the alert was last seen / first seen, so an
    alert that was live at any moment of the window is in it. `service` with `condition` is
    an alert group."""
    stmt = select(ALERTS).order_by(ALERTS.c.id.desc()).limit(limit).offset(offset)
    if status:
        stmt = stmt.where(ALERTS.c.status.in_(list(status)))
    if severity:
        stmt = stmt.where(ALERTS.c.severity.in_(list(severity)))
    if service:
        stmt = stmt.where(ALERTS.c.service == service)
    if tenant_id:
        stmt = stmt.where(ALERTS.c.tenant_id == tenant_id)
    if condition:
        stmt = stmt.where(ALERTS.c.condition == condition)
    if since is not None:
        stmt = stmt.where(ALERTS.c.last_seen >= since)
    if until is not None:
        stmt = stmt.where(ALERTS.c.first_seen <= until)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def alerts_by_ids(engine: Engine, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The alerts of these ids that exist, by id (a bulk change's before and after)."""
    wanted = list(ids)
    if not wanted:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(select(ALERTS).where(ALERTS.c.id.in_(wanted))).all()
    return {int(r.id): dict(r._mapping) for r in rows}


def group_ids(engine: Engine, service: str, condition: str, live_only: bool = True) -> list[int]:
    """The ids of one alert group (one service and condition across tenants), oldest first;
    with `live_only`, those not resolved."""
    stmt = (
        select(ALERTS.c.id)
        .where(ALERTS.c.service == service, ALERTS.c.condition == condition)
        .order_by(ALERTS.c.id)
    )
    if live_only:
        stmt = stmt.where(ALERTS.c.status != RESOLVED)
    with engine.connect() as conn:
        return [int(i) for i in conn.execute(stmt).scalars()]


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
