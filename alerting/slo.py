"""Error budgets and the SRE workbook's multi-window burn-rate alerts, as a pure decision.

An SLO of `objective` percent over `window_days` allows (100 - objective) % of the observed time
to be down: that is the error budget. A burn rate is how fast a window spends it: the window's
down share divided by the budget (1 = the budget lasts exactly the SLO window). Two alert
conditions per target, each a live alert of its own through the normal lifecycle:

- `slo:fast` (p1, a page): 14.4x over 1 h confirmed over 5 min (2 % of a 30-day budget in an
  hour), or 6x over 6 h confirmed over 30 min (5 % in six hours);
- `slo:slow` (p3): 1x over 3 d confirmed over 6 h (10 % in three days).

The short window makes an alert resolve soon after the burn stops: a condition resolves when
none of its rules fires any more. A window without observed time (everything silenced, stale
or unknown) is no data: it never fires, and a condition whose windows all lack data neither
opens nor resolves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from healthmon.alerting.lifecycle import (
    AlertChange,
    AlertView,
    Decision,
    emit_change,
    recover_alert,
    signature,
)
from healthmon.alerting.notification import Severity
from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.silences import SilenceView

FAST = "slo:fast"
SLOW = "slo:slow"
CONDITIONS = (FAST, SLOW)
#: the burn-rate windows every face shows, name -> seconds
BURN_WINDOWS: Mapping[str, float] = {"5m": 300.0, "30m": 1800.0, "1h": 3600.0, "6h": 21600.0, "3d": 259200.0}
#: the uptime windows every face shows, name -> seconds
UPTIME_WINDOWS: Mapping[str, float] = {"24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}


@dataclass(frozen=True)
class Objective:
    """`services.<s>.slo`: the share of time a target should be up, in percent, and over how long."""

    objective: float
    window_days: int = 30

    @property
    def budget(self) -> float:
        """The share of time that may be down (0.001 for 99.9)."""
        return 1.0 - self.objective / 100.0

    @property
    def window_s(self) -> float:
        return self.window_days * 86400.0


def burn_rate(up_s: float, down_s: float, objective: Objective) -> float | None:
    """How many times faster than sustainable a window spends the budget; None without data."""
    observed = up_s + down_s
    if observed <= 0:
        return None
    return (down_s / observed) / objective.budget


def budget_remaining(up_s: float, down_s: float, objective: Objective) -> float | None:
    """Share of the SLO window's budget left (1 = untouched, 0 = spent, below 0 = overspent)."""
    rate = burn_rate(up_s, down_s, objective)
    return None if rate is None else 1.0 - rate


@dataclass(frozen=True)
class BurnRule:
    condition: str
    severity: Severity
    long: str
    short: str
    factor: float

    def fires(self, rates: Mapping[str, float | None]) -> bool:
        long, short = rates.get(self.long), rates.get(self.short)
        return long is not None and short is not None and long >= self.factor and short >= self.factor

    def knows(self, rates: Mapping[str, float | None]) -> bool:
        """Whether both windows have data, so that not firing means the burn stopped."""
        return rates.get(self.long) is not None and rates.get(self.short) is not None


RULES: tuple[BurnRule, ...] = (
    BurnRule(FAST, Severity.P1, "1h", "5m", 14.4),
    BurnRule(FAST, Severity.P1, "6h", "30m", 6.0),
    BurnRule(SLOW, Severity.P3, "3d", "6h", 1.0),
)


@dataclass(frozen=True)
class TargetBurn:
    """One target's burn rates (keys of BURN_WINDOWS) against its service's objective."""

    service: str
    tenant_id: str | None
    objective: Objective
    rates: Mapping[str, float | None]


def _rate_text(rate: float | None) -> str:
    return "no data" if rate is None else f"{rate:.1f}x"


def _change(burn: TargetBurn, rule: BurnRule, existing: AlertView | None, now: datetime) -> AlertChange:
    where = f"tenant {burn.tenant_id}" if burn.tenant_id else "platform"
    speed = "fast" if rule.condition == FAST else "slowly"
    reason = (
        f"burning its error budget {_rate_text(burn.rates.get(rule.long))} over {rule.long} and "
        f"{_rate_text(burn.rates.get(rule.short))} over {rule.short} (alert at {rule.factor:g}x; "
        f"SLO {burn.objective.objective:g} % over {burn.objective.window_days} d)"
    )
    details: dict[str, Any] = {
        "status": "burning",
        "reason": reason,
        "since": now.isoformat(),
        "objective": burn.objective.objective,
        "window_days": burn.objective.window_days,
        "burn_rates": {k: None if v is None else round(v, 2) for k, v in burn.rates.items()},
        "rule": {"long": rule.long, "short": rule.short, "factor": rule.factor},
    }
    return AlertChange(
        signature(burn.service, burn.tenant_id, rule.condition),
        burn.service,
        burn.tenant_id,
        rule.condition,
        rule.severity,
        f"{burn.service} spending its error budget {speed} ({where})",
        details,
        id=existing.id if existing else None,
    )


def decide_burns(
    burns: Iterable[TargetBurn],
    live: Iterable[AlertView],
    silences: Sequence[SilenceView],
    policy: AlertPolicy,
    now: datetime,
) -> Decision:
    """Open, repeat or resolve each target's `slo:fast` and `slo:slow` alert from its burn rates."""
    alerts = {a.signature: a for a in live if a.condition in CONDITIONS}
    decision = Decision()
    for burn in burns:
        for condition in CONDITIONS:
            rules = [r for r in RULES if r.condition == condition]
            existing = alerts.get(signature(burn.service, burn.tenant_id, condition))
            firing = next((r for r in rules if r.fires(burn.rates)), None)
            if firing is not None:
                emit_change(decision, _change(burn, firing, existing, now), existing, silences, policy, now)
            elif existing is not None and any(r.knows(burn.rates) for r in rules):
                recover_alert(decision, existing)
    return decision


def silenced_periods(
    silences: Iterable[SilenceView], service: str, start: datetime, end: datetime
) -> list[tuple[str | None, datetime, datetime]]:
    """When silences held `service`'s alerts between `start` and `end`, as (tenant or None for
    every target, from, to): the time uptime counts as no data. Recurring windows are expanded
    day by day (UTC), as `SilenceView.active` judges them."""
    found: list[tuple[str | None, datetime, datetime]] = []
    for silence in silences:
        if silence.service not in (None, service):
            continue
        stop = min(silence.ends_at, silence.ended_at or silence.ends_at, end)
        begin = max(silence.starts_at, start)
        if begin >= stop:
            continue
        if not silence.recurrence:
            found.append((silence.tenant_id, begin, stop))
            continue
        rule = silence.recurrence
        hours, minutes = (int(p) for p in str(rule["start"]).split(":"))
        duration = timedelta(minutes=float(rule["duration_min"]))
        weekdays = set(rule.get("weekdays") or range(7))
        # a window that opened the day before `begin` may still be open at it
        day = (begin - timedelta(days=1)).astimezone(UTC).date()
        while day <= stop.astimezone(UTC).date():
            if day.weekday() in weekdays:
                opens = datetime.combine(day, time(hours, minutes), tzinfo=UTC)
                lo, hi = max(opens, begin), min(opens + duration, stop)
                if lo < hi:
                    found.append((silence.tenant_id, lo, hi))
            day += timedelta(days=1)
    return found
