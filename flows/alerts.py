"""The alert step of a tier run, delivery retries, and acknowledge/resolve for the entry layer.

Here alerting's functions meet storage's implementation of their ports (alerting/ports.py,
storage.alerts.SqlAlertStore): `apply_decision` and `deliver` take an engine; `acknowledge`,
`resolve` and `send_now` take the App and are the one way the CLI, the API and the dashboard
change an alert.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from healthmon.alerting import delivery, outbox
from healthmon.alerting.delivery import DeliveryReport
from healthmon.alerting.lifecycle import AlertView, Decision, TargetState, decide
from healthmon.alerting.notification import Channel, Kind
from healthmon.alerting.outbox import AlertNotFound as AlertNotFound  # raised by acknowledge/resolve
from healthmon.alerting.outbox import ChannelsFor
from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.silences import SilenceView
from healthmon.flows.app import App
from healthmon.flows.refs import RunRef
from healthmon.monitors.result import Status, staleness
from healthmon.storage import alerts as store
from healthmon.storage.status import LatestStatus, load_latest, load_tier


def apply_decision(
    engine: Engine, decision: Decision, route: ChannelsFor, now: datetime, dashboard_url: str | None = None
) -> list[int]:
    """Write a lifecycle decision (alerting.outbox.apply_decision); returns the deliveries to send."""
    return outbox.apply_decision(store.SqlAlertStore(engine), decision, route, now, dashboard_url)


def acknowledge(
    app: App, alert_id: int, who: str, note: str | None = None, now: datetime | None = None
) -> list[int]:
    """Open -> acknowledged (alerting.outbox.acknowledge), for the CLI, the API and the
    dashboard alike; returns the notices queued for `send_now`. Raises AlertNotFound."""
    return _by_hand(outbox.acknowledge, app, alert_id, who, note, now)


def resolve(
    app: App, alert_id: int, who: str, note: str | None = None, now: datetime | None = None
) -> list[int]:
    """-> resolved by hand (alerting.outbox.resolve), like `acknowledge`."""
    return _by_hand(outbox.resolve, app, alert_id, who, note, now)


def _by_hand(
    change: Callable[..., list[int]],
    app: App,
    alert_id: int,
    who: str,
    note: str | None,
    now: datetime | None,
) -> list[int]:
    alerting = app.alerting
    at = now or datetime.now(UTC)
    return change(
        store.SqlAlertStore(app.engine), alert_id, who, at, alerting.router, alerting.dashboard_url, note
    )


async def send_now(app: App, ids: Sequence[int]) -> DeliveryReport:
    """Send these queued notices at once; what fails stays queued for the delivery flow."""
    if not ids:
        return DeliveryReport()
    return await deliver(app.engine, app.alerting.channels, app.alerting.policy, ids=list(ids))


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


@dataclass(frozen=True)
class RunState:
    """A run's results as the alert and report steps see them, read once after its checks:
    the tier's latest statuses (details where an alert or the report uses them) and the
    live alerts."""

    run: RunRef
    rows: list[LatestStatus]
    live: list[AlertView]
    read_at: datetime

    def target_states(self) -> list[TargetState]:
        """The targets this run checked, as the lifecycle sees them."""
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
            for r in self.rows
            if r.run_id == self.run.run_id
        ]


@dataclass(frozen=True)
class Alerted:
    """What the alert step did, and the run's results it read (the report is made from them)."""

    summary: AlertSummary
    state: RunState


def read_run(app: App, run: RunRef, now: datetime) -> RunState:
    live = live_alerts(app.engine)
    alerted = {(a.service, a.tenant_id) for a in live}
    stale_after = app.config.watchdog.stale_after

    def wants_details(row: LatestStatus) -> bool:
        return (
            row.status is not Status.HEALTHY
            or (row.service, row.tenant_id) in alerted
            or row.changed_in == run.run_id
            or staleness(row.checked_at, row.tier, now, stale_after, run.interval_scale)[1]
        )

    return RunState(run, load_tier(app.engine, run.tier, wants_details), live, now)


def _vendor_status(app: App) -> dict[str, str]:
    """What the vendors' own status pages say, for annotating alerts ("shopify status page: major")."""
    latest = load_latest(app.engine, ["statuspage"]).get(("statuspage", None))
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


def _decide_and_queue(app: App, state: RunState) -> tuple[AlertSummary, list[int]]:
    states = state.target_states()
    if not states:
        return AlertSummary(), []
    services = {s.service for s in states}
    alerting = app.alerting
    decision = decide(
        states,
        [a for a in state.live if a.service in services],
        active_silences(app.engine, state.read_at),
        alerting.policy,
        state.read_at,
        _vendor_status(app),
    )
    ids = apply_decision(app.engine, decision, alerting.router, state.read_at, alerting.dashboard_url)
    summary = AlertSummary(
        opened=sum(1 for c in decision.changes if c.id is None),
        resolved=len(decision.resolve),
        escalated=sum(1 for _key, kind in decision.notify if kind is Kind.ESCALATE),
        notifications=len(ids),
    )
    return summary, ids


async def alert_run(app: App, run: RunRef) -> Alerted:
    """The alert step: read the run's results, open, update and resolve alerts for them, and
    send what is new at once."""
    state = await asyncio.to_thread(read_run, app, run, datetime.now(UTC))
    summary, ids = await asyncio.to_thread(_decide_and_queue, app, state)
    await send_now(app, ids)
    return Alerted(summary, state)


async def deliver_pending(app: App, ignore_backoff: bool = False) -> DeliveryReport:
    """Retry what is queued, with backoff (the deliver flow, `healthmon alerts deliver`)."""
    alerting = app.alerting
    return await deliver(app.engine, alerting.channels, alerting.policy, ignore_backoff=ignore_backoff)
