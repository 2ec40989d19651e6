"""The store interfaces alerting needs (ports). storage/alerts.py implements them; flows wires them.

alerting never imports storage: these Protocols say what it asks of a store, in primitive
types (str for kinds, severities and states; mappings for JSON), and alerting turns what
comes back into its own types (AlertView, SilenceView, Notification, Kind, Severity,
Outcome). A store satisfies them structurally; mypy checks that where flows passes it in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class SendState(enum.StrEnum):
    DELIVERED = "delivered"
    PENDING = "pending"  # sent again at `next_attempt_at`
    FAILED = "failed"  # for good: retrying cannot help, or attempts ran out


@dataclass(frozen=True)
class Outcome:
    """How one claimed send ended: alerting's type, handed to DeliveryQueue.settle."""

    id: int
    state: SendState
    ref: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    #: the row's `attempts` as claimed; a settle for an older claim (its lease ended and
    #: another sender took the row) changes nothing
    attempts: int | None = None


class AlertRow(Protocol):
    """One alert as the store holds it."""

    @property
    def id(self) -> int: ...
    @property
    def signature(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def tenant_id(self) -> str | None: ...
    @property
    def condition(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def details(self) -> Mapping[str, Any] | None: ...
    @property
    def count(self) -> int: ...
    @property
    def first_seen(self) -> datetime: ...
    @property
    def last_seen(self) -> datetime: ...
    @property
    def last_notified_at(self) -> datetime | None: ...
    @property
    def notified_severity(self) -> str | None: ...
    @property
    def flapping(self) -> bool | None: ...
    @property
    def acknowledged_by(self) -> str | None: ...


class SilenceRow(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def service(self) -> str | None: ...
    @property
    def tenant_id(self) -> str | None: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def recurrence(self) -> Mapping[str, Any] | None: ...
    @property
    def ended_at(self) -> datetime | None: ...


class ClaimedRow(Protocol):
    """A queued notification taken for sending; `payload` is what alerting.outbox encoded."""

    @property
    def id(self) -> int: ...
    @property
    def alert_id(self) -> int: ...
    @property
    def channel(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


class ClaimedGroup(Protocol):
    """The due notices of one alert group and channel, leased together to go out as one message."""

    @property
    def group_key(self) -> str: ...
    @property
    def condition(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def rows(self) -> Sequence[ClaimedRow]: ...
    @property
    def live(self) -> int: ...  # the group's alerts not resolved
    @property
    def unacknowledged(self) -> int: ...  # of those, still open
    @property
    def tenant_names(self) -> Mapping[str, str]: ...  # id -> display name, where one is set


class AlertLedger(Protocol):
    """Reads and writes inside one store transaction: a decision is written whole or not at all,
    and its delivery rows exist before anything is sent."""

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
        """A new open alert, seen once at `at`; returns its id."""
        ...

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
        """New values for a live alert; with `seen_at`, its count grows by one and it was last
        seen then."""
        ...

    def acknowledge_alert(self, alert_id: int, *, by: str, at: datetime, note: str | None) -> bool:
        """Open -> acknowledged; False when the alert was not open."""
        ...

    def resolve_alert(self, alert_id: int, *, by: str, at: datetime, note: str | None = None) -> bool:
        """-> resolved, holds cleared; False when it was resolved already."""
        ...

    def alert(self, alert_id: int, *, lock: bool = False) -> AlertRow | None:
        """The alert as written so far in this transaction; `lock` holds it until the end of the
        transaction, so changes to one alert (and the order of its delivery rows) are serial."""
        ...

    def opening_channels(self, alert_id: int) -> Mapping[str, str | None]:
        """Channels that got (or are still to get) an opening notification of this alert
        (trigger, escalate, renotify; not failed for good), with the first reference a channel
        returned for it (Slack "channel:ts"), in queue order."""
        ...

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
        """A pending notification queued at `at`, due at `due` (default `at`); with `group_key`
        it goes out with the other due notices of that group and channel. Returns its id; ids
        grow in queue order."""
        ...

    def hurry_grouped(self, alert_id: int, channel: str, at: datetime) -> list[int]:
        """Make this alert's grouped notices still waiting on this channel due at `at` (a notice
        sent on its own, queued behind them, must not wait for their group); returns their ids."""
        ...

    def group_times(
        self, group_key: str, channel: str, now: datetime
    ) -> tuple[datetime | None, datetime | None]:
        """For one group and channel: when its waiting notices (pending, not leased) are due, if
        there are any; and when it last sent (`now` while a send is in flight), if ever."""
        ...

    def mark_notified(self, alert_id: int, *, at: datetime, severity: str) -> None:
        """The alert was notified at `at`, at up to `severity`."""
        ...


class AlertStore(Protocol):
    def transaction(self) -> AbstractContextManager[AlertLedger]: ...


class DeliveryQueue(Protocol):
    """The durable outbox, as a sender sees it.

    The ordering rule: for one (alert, channel), rows are sent in the order they were queued
    (id). `claim` takes a row only when no earlier row of the same alert and channel is still
    pending (leased by a sender or backing off after a failure), so a resolve never overtakes
    its trigger, whatever the number of senders. A row leaves pending only in a committed
    `settle`."""

    def claim(
        self,
        now: datetime,
        lease_s: float,
        ids: Sequence[int] | None = None,
        ignore_backoff: bool = False,
        limit: int = 200,
        exclude: Sequence[int] = (),
    ) -> Sequence[ClaimedRow]:
        """Lease due rows sent on their own (or exactly `ids`, minus `exclude`) until
        `now + lease_s`; each claim counts one attempt. Grouped rows are `claim_groups`'."""
        ...

    def claim_groups(
        self,
        now: datetime,
        lease_s: float,
        ids: Sequence[int] | None = None,
        ignore_backoff: bool = False,
        limit: int = 200,
        exclude: Sequence[int] = (),
    ) -> Sequence[ClaimedGroup]:
        """Lease, per alert group and channel with a due row, every due row of it (of `ids`, if
        given: exactly those, minus `exclude`) at once, under the ordering rule (a row waits for
        an earlier pending row of its alert and channel unless that row is in the same lease);
        at most `limit` groups. Each claimed row counts one attempt."""
        ...

    def settle(self, outcomes: Sequence[Outcome], now: datetime) -> list[int]:
        """Record how sends ended, in one transaction; an outcome whose claim is no longer the
        row's (its lease ended and another sender took it) changes nothing. A trigger failed for
        good marks the acknowledge/resolve rows behind it that no opening row precedes as
        failed too; returns their ids. A delivered row's `ref` is copied into the payloads of
        the same alert and channel still pending, so follow-ups update the original message."""
        ...
