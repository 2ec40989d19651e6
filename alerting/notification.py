"""What a channel is asked to send, and how a channel answers."""

from __future__ import annotations

import enum
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
