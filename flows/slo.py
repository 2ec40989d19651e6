"""Uptime and error budgets for the faces, and burn-rate alerts for the alert step.

alerting/slo.py decides; storage/uptime.py counts up and down time in SQL; this module hands
the one the other's figures with the config's objective, the silences and the stale rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from healthmon.alerting import outbox
from healthmon.alerting.lifecycle import AlertView, Decision
from healthmon.alerting.silences import SilenceView
from healthmon.alerting.slo import (
    BURN_WINDOWS,
    UPTIME_WINDOWS,
    Objective,
    TargetBurn,
    budget_remaining,
    burn_rate,
    decide_burns,
    silenced_periods,
)
from healthmon.flows.app import App
from healthmon.monitors.result import TargetKey
from healthmon.storage.uptime import Span, Tally, silences_between, tally, total

#: the span name of the SLO's whole window in a tally
BUDGET = "budget"


def objective_of(app: App, service: str) -> Objective | None:
    """The service's SLO from the config (`services.<s>.slo`), None when it has none."""
    svc = app.config.services.get(service)
    if svc is None or svc.slo is None:
        return None
    return Objective(svc.slo.objective, svc.slo.window_days)


def _spans(now: datetime, windows: Mapping[str, float]) -> dict[str, Span]:
    return {name: (now - timedelta(seconds=seconds), now) for name, seconds in windows.items()}


def _tally(
    app: App,
    service: str,
    spans: Mapping[str, Span],
    now: datetime,
    tenant_ids: Sequence[str | None] | None = None,
    interval_scale: float = 1.0,
    silences: Iterable[SilenceView] | None = None,
) -> dict[TargetKey, dict[str, Tally]]:
    start = min(s for s, _e in spans.values())
    if silences is None:
        silences = [outbox.silence_view(r) for r in silences_between(app.engine, start, now)]
    return tally(
        app.engine,
        service,
        spans,
        now,
        app.config.watchdog.stale_after,
        silenced_periods(silences, service, start, now),
        tenant_ids,
        interval_scale,
    )


def uptime_by_target(app: App, service: str, now: datetime) -> dict[TargetKey, dict[str, float | None]]:
    """Every target's uptime (0..1, None without data) over the last 24 h, 7 d and 30 d."""
    found = _tally(app, service, _spans(now, UPTIME_WINDOWS), now)
    return {key: {name: t.uptime for name, t in per.items()} for key, per in found.items()}


def tally_over(app: App, services: Iterable[str], window: str, now: datetime) -> dict[TargetKey, Tally]:
    """Up and down time over one uptime window (a key of UPTIME_WINDOWS) for every target of
    these services: one statement per service, the silences read once."""
    spans = _spans(now, {window: UPTIME_WINDOWS[window]})
    silences = [outbox.silence_view(r) for r in silences_between(app.engine, spans[window][0], now)]
    found: dict[TargetKey, Tally] = {}
    for service in services:
        for key, per in _tally(app, service, spans, now, silences=silences).items():
            found[key] = per[window]
    return found


def uptime_over(
    app: App, services: Iterable[str], window: str, now: datetime
) -> dict[TargetKey, float | None]:
    """`tally_over` as each target's uptime (0..1, None without data)."""
    return {key: t.uptime for key, t in tally_over(app, services, window, now).items()}


@dataclass(frozen=True)
class SloReport:
    """A target's or a whole service's uptime and, with an SLO, its budget and burn rates."""

    uptime: dict[str, float | None]
    objective: Objective | None = None
    budget_remaining: float | None = None
    burn_rates: dict[str, float | None] = field(default_factory=dict)
    #: the budget left at the end of each day of the SLO window, for the burn-down chart
    burn_down: list[tuple[datetime, float]] = field(default_factory=list)


def slo_report(
    app: App, service: str, tenant_id: str | None, now: datetime, whole_service: bool = False
) -> SloReport:
    """One target (`tenant_id`, None for a platform service), or with `whole_service` every
    target of the service added up: one statement for every figure."""
    objective = objective_of(app, service)
    windows: dict[str, float] = dict(UPTIME_WINDOWS)
    days: list[str] = []
    if objective is not None:
        windows |= BURN_WINDOWS
        windows[BUDGET] = objective.window_s
    spans = _spans(now, windows)
    # the burn-down is a target's (each target has its budget); for every tenant together it
    # would cost 30 more spans over 30 days of 1,000 tenants (docs/performance.md)
    if objective is not None and not whole_service:
        start = now - timedelta(seconds=objective.window_s)
        for day in range(1, objective.window_days + 1):
            end = min(start + timedelta(days=day), now)
            days.append(f"day{day}")
            spans[days[-1]] = (start, end)
    per_target = _tally(app, service, spans, now, None if whole_service else [tenant_id])
    if whole_service:
        tallies = total(per_target, spans)
    else:
        tallies = per_target.get((service, tenant_id)) or {name: Tally() for name in spans}
    uptime = {name: tallies[name].uptime for name in UPTIME_WINDOWS}
    if objective is None:
        return SloReport(uptime)
    whole = tallies[BUDGET]
    allowed = objective.budget * whole.observed_s
    burn_down = [(spans[name][1], 1.0 - tallies[name].down_s / allowed) for name in days if allowed > 0]
    return SloReport(
        uptime,
        objective,
        budget_remaining(whole.up_s, whole.down_s, objective),
        {name: burn_rate(tallies[name].up_s, tallies[name].down_s, objective) for name in BURN_WINDOWS},
        burn_down,
    )


def slo_decision(
    app: App,
    targets: Iterable[TargetKey],
    live: Iterable[AlertView],
    silences: Sequence[SilenceView],
    now: datetime,
    interval_scale: float = 1.0,
) -> Decision:
    """The burn-rate alerts of these targets (those of services with an SLO): one statement
    per service for every target's burn rates."""
    by_service: dict[str, list[str | None]] = {}
    for service, tenant in targets:
        by_service.setdefault(service, []).append(tenant)
    burns: list[TargetBurn] = []
    spans = _spans(now, BURN_WINDOWS)
    for service, tenants in by_service.items():
        objective = objective_of(app, service)
        if objective is None:
            continue
        found = _tally(app, service, spans, now, tenants, interval_scale)
        for tenant in tenants:
            per = found.get((service, tenant), {})
            rates = {
                name: burn_rate(t.up_s, t.down_s, objective)
                for name in BURN_WINDOWS
                for t in [per.get(name, Tally())]
            }
            burns.append(TargetBurn(service, tenant, objective, rates))
    if not burns:
        return Decision()
    return decide_burns(burns, live, silences, app.alerting.policy, now)
