"""Silences and maintenance windows: checks still run and are recorded; notifications wait."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from healthmon.monitors.registry import MONITORS
from healthmon.monitors.tenant_settings import TENANT_ID


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


#: the longest comment and author name the silences table holds
REASON_MAX = 500
AUTHOR_MAX = 100
#: each face's name for a field: the API's body fields by default
API_FIELDS: Mapping[str, str] = {
    "service": "service",
    "tenant": "tenant",
    "everything": "everything",
    "reason": "reason",
    "created_by": "created_by",
}


@dataclass(frozen=True)
class SilenceRequest:
    """What a silence matches and who made it and why, validated; the window is the face's."""

    service: str | None
    tenant_id: str | None
    reason: str
    created_by: str

    @property
    def everything(self) -> bool:
        return self.service is None and self.tenant_id is None


class SilenceInputError(ValueError):
    """Every problem of a silence request, as (field, message) in the face's own field names."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = problems


def _text_problem(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"must be at most {limit} characters"
    if any(ord(c) < 32 and c not in "\t" for c in value):
        return "must not contain control characters"
    return None


def validate_silence(
    *,
    service: str | None,
    tenant: str | None,
    everything: bool,
    reason: str | None,
    created_by: str | None,
    tenant_exists: Callable[[str], bool] | None = None,
    fields: Mapping[str, str] = API_FIELDS,
) -> SilenceRequest:
    """The one check of a silence for the CLI, the API and the dashboard.

    A silence matches a service, a tenant or both; matching nothing in particular silences
    every service of every tenant and the platform, so that needs `everything` said outright
    (and nothing else then). It carries a comment and its author, which every list shows.
    `tenant_exists` checks the tenant against the store (None: not checked here). Raises
    SilenceInputError naming each field as `fields` spells it.
    """
    name = {**API_FIELDS, **fields}
    problems: list[tuple[str, str]] = []
    service = service.strip() if service else None
    tenant = tenant.strip() if tenant else None
    if service is not None and service not in MONITORS:
        problems.append(
            (name["service"], f"unknown service {service!r} (one of {', '.join(sorted(MONITORS))})")
        )
    if tenant is not None:
        if not TENANT_ID.fullmatch(tenant):
            problems.append((name["tenant"], "must be 1-64 lowercase letters, digits, '-' or '_'"))
        elif service is not None and service in MONITORS and not MONITORS[service].per_tenant:
            problems.append(
                (name["tenant"], f"{service} is a platform service: a tenant matcher would never match it")
            )
        elif tenant_exists is not None and not tenant_exists(tenant):
            problems.append((name["tenant"], f"no tenant {tenant!r}"))
    if everything and (service is not None or tenant is not None):
        problems.append(
            (
                name["everything"],
                f"silences everything: give it without {name['service']} and {name['tenant']}",
            )
        )
    elif not everything and service is None and tenant is None:
        problems.append(
            (
                name["service"],
                f"give {name['service']}, {name['tenant']} or both; to silence every service of every "
                f"tenant and the platform, choose {name['everything']} explicitly",
            )
        )
    comment = " ".join((reason or "").split())
    if not comment:
        problems.append((name["reason"], "required: say why, for whoever sees the silence in the list"))
    elif problem := _text_problem(comment, REASON_MAX):
        problems.append((name["reason"], problem))
    author = (created_by or "").strip()
    if not author:
        problems.append((name["created_by"], "required: who makes the silence"))
    elif problem := _text_problem(author, AUTHOR_MAX):
        problems.append((name["created_by"], problem))
    if problems:
        raise SilenceInputError(problems)
    return SilenceRequest(service, tenant, comment, author)
