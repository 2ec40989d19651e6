"""The alert step of a tier run, delivery retries, and acknowledge/resolve for the entry layer.

Here alerting's functions meet storage's implementation of their ports (alerting/ports.py,
storage.alerts.SqlAlertStore): `apply_decision`, `acknowledge`, `resolve` and `deliver` take
an engine and are what every face calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from healthmon.alerting import delivery, outbox
from healthmon.alerting.delivery import DeliveryReport
from healthmon.alerting.lifecycle import AlertView, Decision, TargetState, decide
from healthmon.alerting.notification import Channel, Kind
from healthmon.alerting.outbox import AlertNotFound as AlertNotFound  # raised by acknowledge/resolve
from healthmon.alerting.outbox import ChannelsFor
from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.routing import Router
from healthmon.alerting.silences import SilenceView
from healthmon.flows.alerting_runtime import build_channels, build_policy, build_router
from healthmon.flows.app import App, get_runtime
from healthmon.monitors.result import Status, TargetKey
from healthmon.storage import alerts as store
from healthmon.storage.status import load_latest, load_run


def apply_decision(
    engine: Engine, decision: Decision, route: ChannelsFor, now: datetime, dashboard_url: str | None = None
) -> list[int]:
    """Write a lifecycle decision (alerting.outbox.apply_decision); returns the deliveries to send."""
    return outbox.apply_decision(store.SqlAlertStore(engine), decision, route, now, dashboard_url)


def acknowledge(
    engine: Engine,
    alert_id: int,
    who: str,
    now: datetime,
    route: ChannelsFor,
    dashboard_url: str | None = None,
    note: str | None = None,
) -> list[int]:
    """alerting.outbox.acknowledge on this store; raises AlertNotFound."""
    return outbox.acknowledge(store.SqlAlertStore(engine), alert_id, who, now, route, dashboard_url, note)


def resolve(
    engine: Engine,
    alert_id: int,
    who: str,
    now: datetime,
    route: ChannelsFor,
    dashboard_url: str | None = None,
    note: str | None = None,
) -> list[int]:
    """alerting.outbox.resolve on this store; raises AlertNotFound."""
    return outbox.resolve(store.SqlAlertStore(engine), alert_id, who, now, route, dashboard_url, note)


async def deliver(
    engine: Engine,
    channels: Mapping[str, Channel],
    policy: AlertPolicy,
    ids: Sequence[int] | None = None,
    ignore_backoff: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    lease_s: float = delivery.LEASE_S,
) -> DeliveryReport:
    """alerting.delivery.deliver from this store's queue."""
    return await delivery.deliver(
        store.SqlAlertStore(engine), channels, policy, ids, ignore_backoff, now=now, lease_s=lease_s
    )


def live_alerts(engine: Engine, services: Iterable[str] | None = None) -> list[AlertView]:
    return [outbox.alert_view(r) for r in store.load_live(engine, services)]


def active_silences(engine: Engine, now: datetime) -> list[SilenceView]:
    return [outbox.silence_view(r) for r in store.load_silences(engine, now)]


@dataclass(frozen=True)
class AlertSummary:
    """What one alert step did, for the run's report."""

    opened: int = 0
    resolved: int = 0
    escalated: int = 0
    notifications: int = 0


@dataclass
class Alerting:
    policy: AlertPolicy
    router: Router
    channels: dict[str, Channel]
    dashboard_url: str | None


def alerting_for(runtime: App) -> Alerting:
    """Built once per runtime and kept on it: channels hold settings, not per-run state."""
    built = runtime.extras.get("alerting")
    if not isinstance(built, Alerting):
        cfg = runtime.config
        built = runtime.extras["alerting"] = Alerting(
            build_policy(cfg.alerting),
            build_router(cfg.channels, cfg.routes),
            build_channels(cfg.channels),
            cfg.dashboard_url,
        )
    return built


def _run_states(runtime: App, run_id: str, alerted: set[TargetKey]) -> list[TargetState]:
    """The run's targets as the lifecycle sees them; details only where an alert can use
    them: targets that are not healthy, or have a live alert."""
    rows = load_run(
        runtime.engine,
        run_id,
        lambda service, tenant, status: status is not Status.HEALTHY or (service, tenant) in alerted,
    )
    return [
        TargetState(
            service=r.service,
            tenant_id=r.tenant_id,
            tier=r.tier,
            status=r.status,
            consecutive=r.consecutive,
            flips=r.flips,
            reason=r.details.get("reason"),
            details=r.details,
            since=r.since,
        )
        for r in rows
    ]


def _vendor_status(runtime: App) -> dict[str, str]:
    """What the vendors' own status pages say, for annotating alerts ("shopify status page: major")."""
    latest = load_latest(runtime.engine, ["statuspage"]).get(("statuspage", None))
    if latest is None:
        return {}
    notes: dict[str, str] = {}
    for name, page in (latest.details.get("pages") or {}).items():
        indicator = page.get("indicator") if isinstance(page, dict) else None
        if indicator and indicator not in ("none", "ok"):
            broken = ", ".join(page.get("components_not_operational") or [])
            text = f"{name} status page reports {indicator}"
            notes[name] = (
                f"{text}: {page.get('description') or broken}"
                if (page.get("description") or broken)
                else text
            )
    return notes


def _decide_and_queue(
    runtime: App, alerting: Alerting, run_id: str, now: datetime
) -> tuple[AlertSummary, list[int]]:
    live = live_alerts(runtime.engine)
    states = _run_states(runtime, run_id, {(a.service, a.tenant_id) for a in live})
    if not states:
        return AlertSummary(), []
    services = {s.service for s in states}
    decision = decide(
        states,
        [a for a in live if a.service in services],
        active_silences(runtime.engine, now),
        alerting.policy,
        now,
        _vendor_status(runtime),
    )
    ids = apply_decision(runtime.engine, decision, alerting.router, now, alerting.dashboard_url)
    summary = AlertSummary(
        opened=sum(1 for c in decision.changes if c.id is None),
        resolved=len(decision.resolve),
        escalated=sum(1 for _key, kind in decision.notify if kind is Kind.ESCALATE),
        notifications=len(ids),
    )
    return summary, ids


async def alert_step(tier: str, run_id: str) -> AlertSummary:
    """Open, update and resolve alerts for one run's results; send what is new at once."""
    runtime = get_runtime()
    alerting = alerting_for(runtime)
    summary, ids = await asyncio.to_thread(_decide_and_queue, runtime, alerting, run_id, datetime.now(UTC))
    if ids:
        await deliver(runtime.engine, alerting.channels, alerting.policy, ids=ids)
    return summary


async def deliver_pending(ignore_backoff: bool = False) -> DeliveryReport:
    runtime = get_runtime()
    alerting = alerting_for(runtime)
    return await deliver(runtime.engine, alerting.channels, alerting.policy, ignore_backoff=ignore_backoff)


async def change_alert(alert_id: int, who: str, action: Callable[..., list[int]]) -> list[int]:
    """Acknowledge or resolve (`acknowledge` / `resolve` above) and send the notices at once."""
    runtime = get_runtime()
    alerting = alerting_for(runtime)
    ids = await asyncio.to_thread(
        action, runtime.engine, alert_id, who, datetime.now(UTC), alerting.router, alerting.dashboard_url
    )
    if ids:
        await deliver(runtime.engine, alerting.channels, alerting.policy, ids=ids)
    return ids


def alert_rows(status: list[str] | None = None) -> list[dict[str, Any]]:
    return store.list_alerts(get_runtime().engine, status)
