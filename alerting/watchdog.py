"""healthmon watching itself, as a pure decision: how fresh each tier is in, alerts out.

A tier is stale when it has completed no run for `stale_after` of its intervals, or when a
target it should check has a latest result older than that; it is fresh again only when a run
completed within that limit and every target has a fresh result. A stale tier is one live alert
of service `healthmon` (no tenant) and condition `stale:<tier>`, with the severity an
unhealthy result of that tier would have (critical p1 by default); it resolves as soon as
the tier is fresh again. The same lifecycle rules (silences, renotify) apply as to any alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from healthmon.alerting.lifecycle import (
    AlertChange,
    AlertView,
    Decision,
    emit_change,
    recover_alert,
    signature,
)
from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.silences import SilenceView
from healthmon.monitors.result import Status, TargetKey, Tier

SERVICE = "healthmon"


def condition(tier: Tier) -> str:
    return f"stale:{tier.value}"


@dataclass(frozen=True)
class TierFreshness:
    """What the store says about one tier, read by the watchdog's caller."""

    tier: Tier
    #: a run or result older than this is stale: stale_after x the tier's (scaled) interval
    limit_s: float
    #: when the tier last completed a run, if ever
    last_completed: datetime | None
    #: when this watchdog started watching (None for a one-off look): for one limit from
    #: here it neither opens nor resolves, so a restart of serve does not page for the gap
    #: that the watchdog of the old process (or an outside one) already covered
    watching_since: datetime | None
    #: targets the tier should check, and those whose latest result is older than the limit
    expected: int
    stale_targets: Sequence[TargetKey] = ()
    oldest_checked_at: datetime | None = None

    def overdue_s(self, now: datetime) -> float | None:
        """Seconds since the last completed run (inf if none), if past the limit."""
        if self.last_completed is None:
            return float("inf")
        age = (now - self.last_completed).total_seconds()
        return age if age > self.limit_s else None

    def settling(self, now: datetime) -> bool:
        """Within one limit of the watchdog's start: what it sees may predate a restart of
        the tier runs, so it neither opens nor resolves yet."""
        return self.watching_since is not None and (now - self.watching_since).total_seconds() <= self.limit_s

    def fresh(self, now: datetime) -> bool:
        """A run completed within the limit and every target has a fresh result (a tier with
        nothing to check is fresh)."""
        return not self.expected or (self.overdue_s(now) is None and not self.stale_targets)

    def reason(self, now: datetime) -> str | None:
        """Why the tier is stale, or None when it is fresh or still settling."""
        if self.fresh(now) or self.settling(now):
            return None
        parts = []
        overdue = self.overdue_s(now)
        if overdue is not None:
            if self.last_completed is None:
                parts.append(f"no completed {self.tier.value} run yet")
            else:
                parts.append(f"no completed {self.tier.value} run for {_span(overdue)}")
        if self.stale_targets:
            age = ""
            if self.oldest_checked_at is not None:
                age = f", oldest {_span((now - self.oldest_checked_at).total_seconds())} old"
            parts.append(f"{len(self.stale_targets)} of {self.expected} targets have no fresh result{age}")
        return "; ".join(parts) + f" (limit {_span(self.limit_s)})"


def _span(seconds: float) -> str:
    if seconds == float("inf"):
        return "ever"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def decide_staleness(
    tiers: Sequence[TierFreshness],
    live: Iterable[AlertView],
    silences: Sequence[SilenceView],
    policy: AlertPolicy,
    now: datetime,
) -> Decision:
    alerts = {a.signature: a for a in live if a.service == SERVICE}
    decision = Decision()
    for fresh in tiers:
        sig = signature(SERVICE, None, condition(fresh.tier))
        existing = alerts.get(sig)
        if fresh.fresh(now):
            if existing is not None:
                recover_alert(decision, existing)
            continue
        reason = fresh.reason(now)
        if reason is None:
            continue  # settling: neither open nor resolve yet
        change = AlertChange(
            sig,
            SERVICE,
            None,
            condition(fresh.tier),
            policy.severity_for(fresh.tier, Status.UNHEALTHY),
            f"healthmon: the {fresh.tier.value} tier is stale",
            {
                "status": "stale",
                "reason": reason,
                "tier": fresh.tier.value,
                "last_completed": fresh.last_completed.isoformat() if fresh.last_completed else None,
                "limit_s": fresh.limit_s,
                "stale_targets": len(fresh.stale_targets),
                "expected_targets": fresh.expected,
                "examples": [f"{s}/{t or 'platform'}" for s, t in sorted(fresh.stale_targets, key=str)[:10]],
            },
            id=existing.id if existing else None,
        )
        emit_change(decision, change, existing, silences, policy, now)
    return decision
