"""The alert step of a tier run, delivery retries, and acknowledge/resolve for the entry layer.

Here alerting's functions meet storage's implementation of their ports (alerting/ports.py,
storage.alerts.SqlAlertStore): `apply_decision` and `deliver` take an engine; `acknowledge`,
`resolve` and `send_now` take the App and are the one way the CLI, the API and the dashboard
change an alert.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from healthmon.alerting import delivery, outbox
from healthmon.alerting.delivery import DeliveryReport
from healthmon.alerting.lifecycle import ROLLUP, AlertChange, AlertView, Decision, TargetState, decide
from healthmon.alerting.notification import Channel, Kind
from healthmon.alerting.outbox import AlertNotFound as AlertNotFound  # raised by acknowledge/resolve
from healthmon.alerting.outbox import ChannelsFor
from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.silences import SilenceView
from healthmon.flows.app import App
from healthmon.flows.refs import RunRef
from healthmon.flows.slo import slo_decision
from healthmon.monitors.result import Status, staleness
from healthmon.storage import alerts as store
from healthmon.storage.status import LatestStatus, load_latest, load_tier
from healthmon.storage.tenants import display_names


def apply_decision(
    engine: Engine,
    decision: Decision,
    route: ChannelsFor,
    now: datetime,
    dashboard_url: str | None = None,
    policy: AlertPolicy | None = None,
) -> list[int]:
    """Write a lifecycle decision (alerting.outbox.apply_decision); returns the deliveries to
    send (an alert group's are due when the group is: `policy`'s group_wait, group_interval)."""
    return outbox.apply_decision(store.SqlAlertStore(engine), decision, route, now, dashboard_url, policy)


def acknowledge(
    app: App, alert_id: int, who: str, note: str | None = None, now: datetime | None = None
) -> list[int]:
    """Open -> acknowledged (alerting.outbox.acknowledge), for the CLI, the API and the
    dashboard alike; returns the notices queued for `send_now`. Raises AlertNotFound."""
    return _by_hand(Kind.ACKNOWLEDGE, app, alert_id, who, note, now).queued


def resolve(
    app: App, alert_id: int, who: str, note: str | None = None, now: datetime | None = None
) -> list[int]:
    """-> resolved by hand (alerting.outbox.resolve), like `acknowledge`."""
    return _by_hand(Kind.RESOLVE, app, alert_id, who, note, now).queued


def _by_hand(
    kind: Kind, app: App, alert_id: int, who: str, note: str | None, now: datetime | None
) -> outbox.StateChange:
    alerting = app.alerting
    return outbox.change_state(
        store.SqlAlertStore(app.engine),
        alert_id,
        kind,
        who,
        now or datetime.now(UTC),
        alerting.router,
        alerting.dashboard_url,
        note,
        alerting.policy,
    )


#: at most this many alerts in one bulk change (a group of every tenant fits; a runaway
#: request does not hold the store for minutes)
MAX_BULK = 1000
#: a group key as `lifecycle.group_key` writes it: "service|condition"
_GROUP_KEY = re.compile(r"^([a-z][a-z0-9_]{0,39})\|([A-Za-z0-9_.:-]{1,80})$")


def parse_group(key: str) -> tuple[str, str]:
    """(service, condition) of a group key; ValueError saying what is wrong."""
    found = _GROUP_KEY.match(key)
    if found is None:
        raise ValueError(
            "must be service|condition, e.g. meta_ads|health (lowercase service, a condition of "
            "letters, digits, '_', '.', ':' or '-')"
        )
    return found.group(1), found.group(2)


def group_members(app: App, key: str, live_only: bool = True) -> list[int]:
    """The ids of a group's alerts (live ones by default), oldest first. Raises ValueError for
    a malformed key; a group that matches nothing has no members."""
    return store.group_ids(app.engine, *parse_group(key), live_only=live_only)


def targets(app: App, ids: Iterable[int] = (), group: str | None = None) -> list[int]:
    """What a bulk change names: a group's live alerts (possibly none), or these ids (each
    once), every one of which must exist: a mistyped id must not pass as "not found" beside
    59 changes. Raises AlertNotFound(missing ids, sorted) before anything changes, and
    ValueError for a malformed group key."""
    if group is not None:
        return group_members(app, group)
    wanted = list(dict.fromkeys(ids))
    missing = sorted(set(wanted) - set(store.alerts_by_ids(app.engine, wanted)))
    if missing:
        raise AlertNotFound(*missing)
    return wanted


def id_list(ids: Sequence[int], most: int = 20) -> str:
    """"3, 5, 8" for a message; a long list is cut after `most`."""
    shown = ", ".join(str(i) for i in ids[:most])
    return f"{shown} and {len(ids) - most} more" if len(ids) > most else shown


@dataclass(frozen=True)
class BulkChange:
    """What one bulk acknowledge or resolve did, per alert id (each id once, in the order given)."""

    changed: list[int]
    #: found, and already in the state asked for (or resolved, for an acknowledge)
    unchanged: list[int]
    not_found: list[int]
    #: the notices queued, for `send_now`
    notices: list[int]


def acknowledge_many(
    app: App, ids: Iterable[int], who: str, note: str | None = None, now: datetime | None = None
) -> BulkChange:
    """`acknowledge` for each alert, one transaction per alert (the outbox's rules hold per
    alert); a resolved one is unchanged, not an error."""
    return _many(Kind.ACKNOWLEDGE, app, ids, who, note, now)


def resolve_many(
    app: App, ids: Iterable[int], who: str, note: str | None = None, now: datetime | None = None
) -> BulkChange:
    """`resolve` for each alert, like `acknowledge_many`."""
    return _many(Kind.RESOLVE, app, ids, who, note, now)


def _many(
    kind: Kind,
    app: App,
    ids: Iterable[int],
    who: str,
    note: str | None,
    now: datetime | None,
) -> BulkChange:
    at = now or datetime.now(UTC)
    changed: list[int] = []
    unchanged: list[int] = []
    not_found: list[int] = []
    notices: list[int] = []
    for alert_id in dict.fromkeys(ids):
        try:
            done = _by_hand(kind, app, alert_id, who, note, at)
        except AlertNotFound:
            not_found.append(alert_id)
            continue
        (changed if done.changed else unchanged).append(alert_id)
        notices += done.queued
    return BulkChange(changed=changed, unchanged=unchanged, not_found=not_found, notices=notices)


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


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    # SQLite hands back naive times; healthmon writes UTC
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def annotate(engine: Engine, decision: Decision, states: Sequence[TargetState]) -> None:
    """What messages say that the pure lifecycle cannot know, added to the alerts' details:
    tenants' display names (`tenant_names`, one query for the run's alerted tenants) and when
    the failure began (`failing_since`): a rollup's earliest failing tenant, and for an alert
    that stays live the moment it first recorded, so an escalation does not restart it."""
    if not decision.changes:
        return

    def tenants_of(change: AlertChange) -> list[str]:
        return [str(t) for t in [change.tenant_id, *(change.details.get("tenants") or ())] if t]

    names = display_names(engine, [t for c in decision.changes for t in tenants_of(c)])
    before = store.alerts_by_ids(engine, [c.id for c in decision.changes if c.id is not None])
    first_failing: dict[str, datetime] = {}
    for s in states:
        if s.tenant_id is not None and s.status is not Status.HEALTHY:
            since = _moment(s.since.isoformat())
            first_failing[s.service] = min(since, first_failing.get(s.service, since))
    for change in decision.changes:
        found = {t: names[t] for t in tenants_of(change) if t in names}
        if found:
            change.details["tenant_names"] = found
        if change.condition == ROLLUP and change.service in first_failing:
            change.details.setdefault("failing_since", first_failing[change.service].isoformat())
        stored = before.get(change.id) if change.id is not None else None
        kept = ((stored or {}).get("details") or {}).get("failing_since")
        new = change.details.get("failing_since")
        if kept and new and _moment(kept) < _moment(new):
            change.details["failing_since"] = kept


def _decide_and_queue(app: App, state: RunState) -> tuple[AlertSummary, list[int]]:
    states = state.target_states()
    if not states:
        return AlertSummary(), []
    services = {s.service for s in states}
    alerting = app.alerting
    live = [a for a in state.live if a.service in services]
    silences = active_silences(app.engine, state.read_at)
    decision = decide(states, live, silences, alerting.policy, state.read_at, _vendor_status(app))
    # burn-rate alerts of services with an SLO, applied in the same transaction
    targets = [(s.service, s.tenant_id) for s in states]
    burns = slo_decision(app, targets, live, silences, state.read_at, state.run.interval_scale)
    decision.changes += burns.changes
    decision.notify += burns.notify
    decision.resolve += burns.resolve
    annotate(app.engine, decision, states)
    ids = apply_decision(
        app.engine, decision, alerting.router, state.read_at, alerting.dashboard_url, alerting.policy
    )
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
