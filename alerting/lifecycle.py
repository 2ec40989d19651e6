"""The alert lifecycle as a pure decision: this run's states and the live alerts in,
row changes and notifications out. alerting/outbox.py applies the decision through the
store's ports.

open -> acknowledged -> resolved (or open -> resolved on recovery). One live alert per
signature "service|tenant|condition": repeats update it instead of paging again.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from healthmon.alerting.notification import Kind, Severity
from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.silences import SilenceView, holding_silence
from healthmon.monitors.result import Status, Tier

HEALTH = "health"
ROLLUP = "rollup"


class AlertState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


def signature(service: str, tenant_id: str | None, condition: str) -> str:
    return f"{service}|{tenant_id or '-'}|{condition}"


def group_key(service: str, condition: str) -> str:
    """The alert group: one service and condition across tenants (the signature without its
    tenant), e.g. "meta_ads|health"."""
    return f"{service}|{condition}"


@dataclass(frozen=True)
class TargetState:
    service: str
    tenant_id: str | None
    tier: Tier
    status: Status
    consecutive: int
    flips: int
    reason: str | None
    details: Mapping[str, Any]
    since: datetime


@dataclass(frozen=True)
class AlertView:
    id: int
    signature: str
    service: str
    tenant_id: str | None
    condition: str
    severity: Severity
    status: str  # a live AlertState: open | acknowledged
    count: int
    last_notified_at: datetime | None
    notified_severity: Severity | None
    flapping: bool


@dataclass
class AlertChange:
    """A new alert (id None) or new values for a live one."""

    signature: str
    service: str
    tenant_id: str | None
    condition: str
    severity: Severity
    title: str
    details: dict[str, Any]
    flapping: bool = False
    held: str | None = None
    id: int | None = None
    bump: bool = True  # count and last_seen move: the condition was seen again


@dataclass
class Decision:
    changes: list[AlertChange] = field(default_factory=list)
    #: (alert id or signature of a new alert, what to send)
    notify: list[tuple[int | str, Kind]] = field(default_factory=list)
    #: alert ids resolving by recovery; those with a notice appear in notify as RESOLVE too
    resolve: list[int] = field(default_factory=list)


def _title(state: TargetState) -> str:
    where = f"tenant {state.tenant_id}" if state.tenant_id else "platform"
    return f"{state.service} {state.status.value} ({where})"


def _details(state: TargetState) -> dict[str, Any]:
    facts = {k: v for k, v in state.details.items() if isinstance(v, str | int | float | bool) or v is None}
    return {
        "status": state.status.value,
        "reason": state.reason,
        "since": state.since.isoformat(),
        # the first failing check of this status's streak; the alert step keeps an earlier one
        # while the alert stays live (degraded -> unhealthy is one outage, not two)
        "failing_since": state.since.isoformat(),
        "latest": dict(list(facts.items())[:20]),
    }


def _rollups(states: Sequence[TargetState], policy: AlertPolicy) -> dict[str, list[TargetState]]:
    """Per-tenant services failing for enough tenants in this run: service -> failing states."""
    by_service: dict[str, list[TargetState]] = defaultdict(list)
    for state in states:
        if state.tenant_id is not None:
            by_service[state.service].append(state)
    found: dict[str, list[TargetState]] = {}
    for service, group in by_service.items():
        bad = [s for s in group if s.status is not Status.HEALTHY]
        if len(bad) >= policy.rollup_min_tenants and len(bad) >= policy.rollup_min_share * len(group):
            found[service] = bad
    return found


def emit_change(
    decision: Decision,
    change: AlertChange,
    existing: AlertView | None,
    silences: Sequence[SilenceView],
    policy: AlertPolicy,
    now: datetime,
) -> None:
    """Record a live condition and what it sends: a trigger when new (or released from a
    hold), an escalation above what was notified, a repeat after the renotify interval."""
    silence = holding_silence(silences, change.service, change.tenant_id, now)
    if silence is not None:
        change.held = f"silence:{silence.id}"
    decision.changes.append(change)
    if change.held:
        return
    key: int | str = existing.id if existing else change.signature
    if existing is None or existing.notified_severity is None:
        decision.notify.append((key, Kind.TRIGGER))
    elif change.severity.rank > existing.notified_severity.rank:
        decision.notify.append((key, Kind.ESCALATE))
    elif existing.status == AlertState.OPEN and existing.last_notified_at is not None:
        repeat = policy.renotify_after_s.get(change.severity, 86400.0)
        if now - existing.last_notified_at >= timedelta(seconds=repeat):
            decision.notify.append((key, Kind.RENOTIFY))


def recover_alert(decision: Decision, existing: AlertView) -> None:
    """The condition is gone: resolve, with a notice only where the alert was notified."""
    decision.resolve.append(existing.id)
    if existing.notified_severity is not None:
        decision.notify.append((existing.id, Kind.RESOLVE))


def decide(
    states: Sequence[TargetState],
    live: Iterable[AlertView],
    silences: Sequence[SilenceView],
    policy: AlertPolicy,
    now: datetime,
    vendor_status: Mapping[str, str] | None = None,
    tenants_checked: Mapping[str, int] | None = None,
) -> Decision:
    vendor_status = vendor_status or {}
    alerts = {a.signature: a for a in live}
    decision = Decision()
    rollups = _rollups(states, policy)

    def emit(change: AlertChange, existing: AlertView | None) -> None:
        if change.service in vendor_status:
            change.details["vendor_status"] = vendor_status[change.service]
        emit_change(decision, change, existing, silences, policy, now)

    def recover(existing: AlertView) -> None:
        recover_alert(decision, existing)

    # cross-tenant rollups: one platform alert per failing vendor
    for service, bad in rollups.items():
        sig = signature(service, None, ROLLUP)
        total = (tenants_checked or {}).get(service) or len([s for s in states if s.service == service])
        worst = max((policy.severity_for(s.tier, s.status) for s in bad), key=lambda sev: sev.rank)
        names = sorted(str(s.tenant_id) for s in bad)
        emit(
            AlertChange(
                sig,
                service,
                None,
                ROLLUP,
                worst,
                f"{service} failing for {len(bad)} of {total} tenants",
                {
                    "tenants": names,
                    "failing": len(bad),
                    "checked": total,
                    "reasons": sorted({s.reason for s in bad if s.reason})[:5],
                },
                id=alerts[sig].id if sig in alerts else None,
            ),
            alerts.get(sig),
        )
    for alert in alerts.values():
        if (
            alert.condition == ROLLUP
            and alert.service not in rollups
            and any(s.service == alert.service for s in states)
        ):
            recover(alert)

    for state in states:
        sig = signature(state.service, state.tenant_id, HEALTH)
        existing = alerts.get(sig)
        flapping = state.flips >= policy.flap_changes
        covered = state.tenant_id is not None and state.service in rollups
        if state.status is Status.HEALTHY:
            if existing is not None and not flapping and state.consecutive >= policy.resolve_after:
                recover(existing)
            elif existing is not None and flapping and not existing.flapping:
                decision.changes.append(_flap_mark(existing, state))
            continue
        if existing is None and (covered or (state.consecutive < policy.open_after and not flapping)):
            continue  # not yet (or the rollup speaks for it)
        change = AlertChange(
            sig,
            state.service,
            state.tenant_id,
            HEALTH,
            policy.severity_for(state.tier, state.status),
            _title(state),
            _details(state),
            flapping=flapping,
            id=existing.id if existing else None,
        )
        if covered:
            change.held = "rollup"
            decision.changes.append(change)
            continue
        emit(change, existing)
    return decision


def _flap_mark(existing: AlertView, state: TargetState) -> AlertChange:
    return AlertChange(
        existing.signature,
        existing.service,
        existing.tenant_id,
        existing.condition,
        existing.severity,
        _title(state),
        _details(state),
        flapping=True,
        id=existing.id,
        bump=False,
    )
