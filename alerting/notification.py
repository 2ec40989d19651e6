"""What a channel is asked to send, and how a channel answers."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class Kind(enum.StrEnum):
    TRIGGER = "trigger"  # a new alert
    ESCALATE = "escalate"  # its severity rose
    RENOTIFY = "renotify"  # still open and unacknowledged after the repeat interval
    ACKNOWLEDGE = "acknowledge"  # someone took it
    RESOLVE = "resolve"  # it recovered, or someone resolved it


class Severity(enum.StrEnum):
    P1 = "p1"
    P2 = "p2"
    P3 = "p3"

    @property
    def rank(self) -> int:
        return {"p1": 3, "p2": 2, "p3": 1}[self.value]


@dataclass(frozen=True)
class Notification:
    """Everything a message may say. Built from alert rows, which never hold a credential."""

    alert_id: int
    delivery_id: int
    kind: Kind
    severity: Severity
    #: the alert's signature: "service|tenant|condition"; PagerDuty's dedup_key
    signature: str
    service: str
    tenant_id: str | None
    title: str
    #: the latest check status of the alerted target(s): healthy, degraded, unhealthy, unknown
    status: str
    reason: str | None
    #: the first failing check of the streak that opened the alert (the alert's first_seen for
    #: alerts that do not know it, such as those queued before it was recorded)
    since: datetime
    last_seen: datetime
    count: int
    details: dict[str, Any] = field(default_factory=dict)
    dashboard_url: str | None = None
    acknowledged_by: str | None = None
    #: for a cross-tenant rollup: the tenants it covers (may be long; channels shorten it)
    tenants: tuple[str, ...] = ()
    #: what the channel returned when it sent this alert's trigger (Slack: "channel:ts"), so
    #: acknowledge and resolve can update the original message
    ref: str | None = None
    #: when the alert opened (after the checks that confirm a failure), beside `since`
    opened_at: datetime | None = None
    #: display names of the tenants that have one: the alert's tenant and a rollup's tenants
    tenant_names: dict[str, str] = field(default_factory=dict)


#: the kinds that tell a channel about an alert itself (alerting.outbox.OPENING_KINDS)
_OPENING = frozenset({Kind.TRIGGER, Kind.ESCALATE, Kind.RENOTIFY})
#: how bad a status reads, for picking a group's worst reason
_STATUS_RANK = {"unhealthy": 3, "degraded": 2, "unknown": 1}


@dataclass(frozen=True)
class GroupNotification:
    """One message for the queued notices of an alert group (one service and condition across
    tenants) to one channel: what opened, resolved and was acknowledged since the last one."""

    #: "service|condition" (alerting.lifecycle.group_key)
    group_key: str
    service: str
    condition: str
    #: each queued notice as its own notification, in queue order
    members: tuple[Notification, ...]
    #: the group's alerts not resolved, and of those the unacknowledged, when it was claimed
    live: int
    unacknowledged: int
    #: tenant id -> display name, where the tenant has one
    tenant_names: Mapping[str, str] = field(default_factory=dict)
    dashboard_url: str | None = None

    @property
    def key(self) -> str:
        """The same for the same set of queued rows, so a resend of this message carries the same
        idempotency key, Message-ID or event, and a different set never does."""
        ids = sorted(m.delivery_id for m in self.members)
        digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
        return f"{ids[0]}-{len(ids)}-{digest}"

    def of_kind(self, *kinds: Kind) -> tuple[Notification, ...]:
        return tuple(m for m in self.members if m.kind in kinds)

    @property
    def opened(self) -> tuple[Notification, ...]:
        return tuple(m for m in self.members if m.kind in _OPENING)

    @property
    def worst(self) -> Notification:
        """The member on-call should read first: of what opened (else of all), highest severity,
        then worst status; among equals the earliest queued."""
        return max(
            self.opened or self.members, key=lambda m: (m.severity.rank, _STATUS_RANK.get(m.status, 0))
        )


@dataclass(frozen=True)
class Sent:
    #: a channel-side reference to keep for later updates (Slack "channel:ts"), if any
    ref: str | None = None


class DeliveryError(Exception):
    """A send that did not go through. `retryable` False means retrying cannot help
    (a rejected payload or a removed webhook); the row is kept failed with the reason."""

    def __init__(self, reason: str, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class Channel(Protocol):
    name: str

    async def send(self, notification: Notification) -> Sent:
        """Send one notification or raise DeliveryError. Never logs or raises a credential."""
        ...

    async def send_group(self, group: GroupNotification) -> Sent:
        """Send one message for an alert group's notices, like `send`."""
        ...
