"""The watchdog: stale tiers become `healthmon` alerts, outside Prefect's scheduler.

It reads only healthmon's own store (tier_runs, service_status) and sends through the same
outbox, routes and channels as every alert, so it keeps working when Prefect's server,
scheduler or workers do not. `healthmon watchdog` runs it on its own (the process to keep
alive on another box); `healthmon serve` runs it as a loop of its own (so does the demo, through serve).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from healthmon.alerting.watchdog import SERVICE, TierFreshness, decide_staleness
from healthmon.flows.alerts import (
    AlertTransition,
    active_silences,
    alert_event,
    applied_transitions,
    apply_decision,
    deliver,
    live_alerts,
)
from healthmon.flows.app import App
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import TIERS, TargetKey, Tier
from healthmon.storage.status import older_than
from healthmon.storage.tenants import expected_targets
from healthmon.storage.tier_runs import last_completed

log = logging.getLogger("healthmon.watchdog")

#: who the watchdog's alert events name
WATCHDOG_ACTOR = "healthmon watchdog"


def tier_intervals(interval_scale: float = 1.0) -> dict[Tier, float]:
    """Each tier's interval as served (`healthmon serve --interval-scale` shortens them all)."""
    return {tier: spec.interval_s * interval_scale for tier, spec in TIERS.items()}


@dataclass
class WatchReport:
    #: tier -> why it is stale; fresh tiers are absent
    stale: dict[str, str] = field(default_factory=dict)
    watched: list[str] = field(default_factory=list)
    #: tiers not fresh yet but within the watchdog's first limit after it started
    settling: list[str] = field(default_factory=list)
    opened: int = 0
    resolved: int = 0
    notifications: int = 0
    #: the alerts this look opened, escalated and resolved: each is logged and a Prefect event
    transitions: tuple[AlertTransition, ...] = ()

    def line(self) -> str:
        if not self.watched:
            return "watchdog: nothing to watch (no tier has a target to check)"
        if not self.stale:
            fresh = [t for t in self.watched if t not in self.settling]
            waiting = f"; waiting for a first run of {', '.join(self.settling)}" if self.settling else ""
            return f"watchdog: {', '.join(fresh) or 'no tier'} fresh{waiting}"
        return "watchdog: " + "; ".join(f"{tier} STALE: {why}" for tier, why in self.stale.items())


def freshness(
    runtime: App, intervals: Mapping[Tier, float], watching_since: datetime | None, now: datetime
) -> list[TierFreshness]:
    """Every tier with something to check, as the store sees it now."""
    stale_after = runtime.config.watchdog.stale_after
    completed = last_completed(runtime.engine, [t.value for t in intervals])
    # one read of the tenants for every tier, not one per tier
    by_tier: dict[Tier, set[TargetKey]] = {tier: set() for tier in intervals}
    for key in expected_targets(runtime.engine, runtime.scheduled_services()):
        by_tier.setdefault(MONITORS[key[0]].tier, set()).add(key)
    found = []
    for tier, interval in intervals.items():
        expected = by_tier[tier]
        limit = stale_after * interval
        old = {
            key: at
            for key, at in older_than(runtime.engine, tier.value, now - timedelta(seconds=limit)).items()
            if key in expected
        }
        found.append(
            TierFreshness(
                tier=tier,
                limit_s=limit,
                last_completed=completed.get(tier.value),
                watching_since=watching_since,
                expected=len(expected),
                stale_targets=sorted(old, key=str),
                oldest_checked_at=min(old.values()) if old else None,
            )
        )
    return found


def _decide_and_queue(
    runtime: App, intervals: Mapping[Tier, float], watching_since: datetime | None, now: datetime
) -> tuple[WatchReport, list[int]]:
    alerting = runtime.alerting
    tiers = freshness(runtime, intervals, watching_since, now)
    report = WatchReport(watched=[f.tier.value for f in tiers if f.expected])
    for fresh in tiers:
        why = fresh.reason(now)
        if why is not None:
            report.stale[fresh.tier.value] = why
        elif not fresh.fresh(now):
            report.settling.append(fresh.tier.value)
    live = live_alerts(runtime.engine, [SERVICE])
    silences = active_silences(runtime.engine, now)
    decision = decide_staleness(tiers, live, silences, alerting.policy, now)
    report.opened = sum(1 for c in decision.changes if c.id is None)
    report.resolved = len(decision.resolve)
    ids = apply_decision(runtime.engine, decision, alerting.router, now, alerting.dashboard_url)
    report.notifications = len(ids)
    if decision.changes or decision.resolve:
        report.transitions = applied_transitions(runtime.engine, decision, live)
    return report, ids


async def watch_once(
    runtime: App,
    intervals: Mapping[Tier, float],
    watching_since: datetime | None = None,
    now: datetime | None = None,
) -> WatchReport:
    """One look: open, update or resolve the stale alerts, and send what that queued.
    Raises the store's errors (OperationalError): the caller says so and tries again."""
    report, ids = await asyncio.to_thread(
        _decide_and_queue, runtime, intervals, watching_since, now or datetime.now(UTC)
    )
    # as the tier run's alert step does: an automation on `healthmon.alert.opened` sees a
    # stale tier too, whenever Prefect's API answers (the alert itself never waits for it)
    for transition in report.transitions:
        log.info("%s", transition.line())
        alert_event(transition, WATCHDOG_ACTOR)  # sends only where a Prefect API is configured
    if ids:
        alerting = runtime.alerting
        await deliver(runtime.engine, alerting.channels, alerting.policy, ids=ids)
    return report


async def watch_forever(
    runtime: App,
    intervals: Mapping[Tier, float],
    stop: asyncio.Event,
    every_s: float | None = None,
) -> None:
    """Look every `watchdog.check_every_s` until `stop` is set. A store that cannot be
    reached is said on stderr once per outage (and again when it is back); it never ends
    the loop."""
    watching_since = datetime.now(UTC)
    every = every_s if every_s is not None else runtime.config.watchdog.check_every_s
    store_down = False
    last_line = ""
    while not stop.is_set():
        try:
            report = await watch_once(runtime, intervals, watching_since)
        except (OperationalError, ProgrammingError) as exc:
            if not store_down:
                first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
                print(f"watchdog: healthmon's store cannot be reached ({first}); retrying", file=sys.stderr)
            store_down = True
        except IntegrityError:
            # another watchdog opened the same alert at the same moment: the next look sees it
            log.info("watchdog: another watchdog opened the alert first")
        else:
            if store_down:
                print("watchdog: healthmon's store answers again", file=sys.stderr)
            store_down = False
            if report.line() != last_line:
                log.log(logging.WARNING if report.stale else logging.INFO, report.line())
                last_line = report.line()
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass
