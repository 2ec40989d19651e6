"""Silences and maintenance windows: checks still run and are recorded; notifications wait."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any


@dataclass(frozen=True)
class SilenceView:
    id: int
    service: str | None
    tenant_id: str | None
    starts_at: datetime
    ends_at: datetime
    #: recurring: {"weekdays": [0-6, Monday=0], "start": "HH:MM" (UTC), "duration_min": N};
    #: starts_at/ends_at then bound the period in which the window recurs
    recurrence: Mapping[str, Any] | None = None
    ended_at: datetime | None = None

    def matches(self, service: str, tenant_id: str | None) -> bool:
        return (self.service is None or self.service == service) and (
            self.tenant_id is None or self.tenant_id == tenant_id
        )

    def active(self, now: datetime) -> bool:
        if self.ended_at is not None and self.ended_at <= now:
            return False
        if not (self.starts_at <= now < self.ends_at):
            return False
        if not self.recurrence:
            return True
        return _in_window(self.recurrence, now)


def _in_window(rule: Mapping[str, Any], now: datetime) -> bool:
    hours, minutes = (int(p) for p in str(rule["start"]).split(":"))
    duration = timedelta(minutes=float(rule["duration_min"]))
    weekdays = set(rule.get("weekdays") or range(7))
    now = now.astimezone(UTC)
    # a window that started yesterday may still be open after midnight
    for back in (0, 1):
        day = (now - timedelta(days=back)).date()
        if day.weekday() not in weekdays:
            continue
        start = datetime.combine(day, time(hours, minutes), tzinfo=UTC)
        if start <= now < start + duration:
            return True
    return False


def validate_recurrence(rule: Mapping[str, Any]) -> None:
    """ValueError naming the key for a malformed recurring window."""
    try:
        hours, minutes = (int(p) for p in str(rule["start"]).split(":"))
    except (KeyError, ValueError):
        raise ValueError("recurrence.start: must be HH:MM (UTC)") from None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError("recurrence.start: must be HH:MM (UTC)")
    duration = rule.get("duration_min")
    if not isinstance(duration, int | float) or not 0 < duration <= 7 * 24 * 60:
        raise ValueError("recurrence.duration_min: must be between 1 and 10080 minutes")
    days = rule.get("weekdays", list(range(7)))
    if not isinstance(days, list) or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
        raise ValueError("recurrence.weekdays: must be a list of 0 (Monday) to 6 (Sunday)")


def holding_silence(
    silences: Iterable[SilenceView], service: str, tenant_id: str | None, now: datetime
) -> SilenceView | None:
    for silence in silences:
        if silence.matches(service, tenant_id) and silence.active(now):
            return silence
    return None
