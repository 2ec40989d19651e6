"""How results become alerts: severities, streaks, repeats, flapping, rollups. Handed in by flows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from healthmon.alerting.notification import Severity
from healthmon.monitors.result import Status, Tier

#: DESIGN.md's default: critical-tier unhealthy is p1, core or integration unhealthy p2,
#: degraded, unknown and external-tier failures p3
DEFAULT_SEVERITY: Mapping[tuple[Tier, Status], Severity] = {
    (Tier.CRITICAL, Status.UNHEALTHY): Severity.P1,
    (Tier.CORE, Status.UNHEALTHY): Severity.P2,
    (Tier.INTEGRATION, Status.UNHEALTHY): Severity.P2,
}


@dataclass(frozen=True)
class AlertPolicy:
    severity: Mapping[tuple[Tier, Status], Severity] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))
    #: consecutive not-healthy results (each already confirmed by a re-check) before opening
    open_after: int = 2
    #: consecutive healthy results before an alert resolves by itself
    resolve_after: int = 2
    #: an unacknowledged alert is notified again after this long, per severity
    renotify_after_s: Mapping[Severity, float] = field(
        default_factory=lambda: {Severity.P1: 1800.0, Severity.P2: 7200.0, Severity.P3: 86400.0}
    )
    #: this many status changes within the window mark a target as flapping
    flap_changes: int = 6
    flap_window_s: float = 3600.0
    #: a per-tenant service failing for at least this share AND this many tenants in one run
    #: is one platform alert instead of one per tenant
    rollup_min_share: float = 0.2
    rollup_min_tenants: int = 3
    #: delivery retries: exponential backoff from base to cap; failed after max_attempts
    retry_base_s: float = 15.0
    retry_cap_s: float = 900.0
    max_attempts: int = 100
    #: alert groups (p2/p3 tenant alerts of one service and condition): a group's first notice
    #: waits this long to collect its peers, later ones go out at most once per interval
    group_wait: float = 30.0
    group_interval: float = 300.0

    def severity_for(self, tier: Tier, status: Status) -> Severity:
        return self.severity.get((tier, status), Severity.P3)

    def retry_delay_s(self, attempts: int) -> float:
        return float(min(self.retry_cap_s, self.retry_base_s * 2 ** max(0, attempts - 1)))
