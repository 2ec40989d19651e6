"""The alert step of a tier run, delivery retries, and acknowledge/resolve for the entry layer.

Here alerting's functions meet storage's implementation of their ports (alerting/ports.py,
storage.alerts.SqlAlertStore): `apply_decision` and `deliver` take an engine; `acknowledge`,
`resolve` and `send_now` take the App and are the one way the CLI, the API and the dashboard
change an alert. Each alert a run opens, escalates or resolves, and each change by hand, is
also a Prefect event `healthmon.alert.<kind>` (docs/operations.md, "Prefect events").
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine

from healthmon.alerting import delivery, outbox
from healthmon.alerting.channels.render import clip, one_line, tenant_label
from healthmon.alerting.delivery import DeliveryReport
from healthmon.alerting.lifecycle import (
    ROLLUP,
    AlertChange,
    AlertView,
    Decision,
    TargetState,
    decide,
    group_key,
)
from healthmon.alerting.notification import Channel, Kind
from healthmon.alerting.outbox import RECOVERY, ChannelsFor
from healthmon.alerting.outbox import AlertNotFound as AlertNotFound  # raised by acknowledge/resolve
from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.silences import SilenceView
from healthmon.flows.app import App
from healthmon.flows.refs import RunRef
from healthmon.flows.slo import slo_decision
from healthmon.monitors.result import Status, staleness
from healthmon.storage import alerts as store
from healthmon.storage.status import LatestStatus, load_latest, load_tier
from healthmon.storage.tenants import display_names

log = logging.getLogger("healthmon.alerts")

#: a Prefect event's text fields are cut to this: events are small (Prefect refuses large ones)
EVENT_TEXT_CHARS = 500
#: alert changes logged one a line per run; a rollup over 1,000 tenants opens 1,000 held
#: tenant alerts, which the run's summary artifact and events list, not its log
MAX_TRANSITION_LINES = 50
#: who the alert step's events name: the run itself, or recovery (alerting.outbox.RECOVERY)
RUN_ACTOR = "healthmon"


def in_prefect_run() -> bool:
    """Inside a Prefect flow or task run (never true where Prefect was not even imported)."""
    if "prefect" not in sys.modules:
        return False
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def prefect_api_configured() -> bool:
    """A Prefect API to send events to: PREFECT_API_URL in the environment, or in the settings
    of a process that already uses Prefect (its profile, a test harness)."""
    if "prefect" in sys.modules:
        from prefect.settings import PREFECT_API_URL

        return bool(PREFECT_API_URL.value())
    return bool(os.environ.get("PREFECT_API_URL"))


def events_wanted() -> bool:
    """Whether to emit Prefect events here: inside a run (which reports to its API anyway), or
    with an API configured. Without one, Prefect's emit_event starts a throwaway local server
    (measured ~21 s): an acknowledge never pays that."""
    return in_prefect_run() or prefect_api_configured()


def emit_prefect_event(
    event: str, resource: dict[str, str], related: list[dict[str, str]], payload: dict[str, Any]
) -> bool:
    """One Prefect event, queued for Prefect's events worker (sent in the background, flushed
    at exit); False when none was queued. Never raises: an event must not fail an acknowledge
    or a run, so a failure is logged instead."""
    if not events_wanted():
        return False
    try:
        from prefect.events import emit_event

        return emit_event(event=event, resource=resource, related=related, payload=payload) is not None
    except Exception as exc:  # whatever Prefect raises, the change stands
        log.warning("Prefect event %s not sent: %s", event, type(exc).__name__)
        return False


def related_resources(service: str, tenant_id: str | None, tenant_name: str | None) -> list[dict[str, str]]:
    """The related resources of a healthmon event: its service and, for a tenant's, the tenant
    (named by its display name), so that an automation can match on either."""
    related = [
        {
            "prefect.resource.id": f"healthmon.service.{service}",
            "prefect.resource.role": "service",
            "prefect.resource.name": service,
        }
    ]
    if tenant_id:
        related.append(
            {
                "prefect.resource.id": f"healthmon.tenant.{tenant_id}",
                "prefect.resource.role": "tenant",
                "prefect.resource.name": tenant_name or tenant_id,
            }
        )
    return related


def alert_event(transition: AlertTransition, who: str, note: str | None = None) -> bool:
    """`healthmon.alert.<kind>` for one alert: the alert as the resource, its service and
    tenant as related resources, so an automation can match on either."""
    t = transition
    related = related_resources(t.service, t.tenant_id, t.tenant)
    return emit_prefect_event(
        f"healthmon.alert.{t.kind}",
        {
            "prefect.resource.id": f"healthmon.alert.{t.alert_id}",
            "prefect.resource.name": f"#{t.alert_id} {t.service} · {t.tenant} · {t.condition}",
            # labels an automation's `match` can select on (Prefect triggers cannot read a payload)
            "healthmon.severity": t.severity,
            "healthmon.service": t.service,
            "healthmon.tenant": t.tenant_id or "",
        },
        related,
        {
            "severity": t.severity,
            "service": t.service,
            "tenant_id": t.tenant_id,
            "condition": t.condition,
            "group": t.group,
            "reason": clip(one_line(t.reason), EVENT_TEXT_CHARS) if t.reason else None,
            "held": t.held,
            "who": who,
            "note": clip(one_line(note), EVENT_TEXT_CHARS) if note else None,
        },
    )


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
    done = outbox.change_state(
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
    # read back only when an event can go out: without a Prefect API this costs nothing
    if done.changed and events_wanted():
        row = store.get_alert(app.engine, alert_id)
        if row is not None:
            changed: TransitionKind = "acknowledged" if kind is Kind.ACKNOWLEDGE else "resolved"
            alert_event(_row_transition(row, changed), who, note)
    return done


def _row_transition(row: Mapping[str, Any], kind: TransitionKind) -> AlertTransition:
    details = row.get("details") or {}
    tenant = row.get("tenant_id")
    return AlertTransition(
        alert_id=int(row["id"]),
        kind=kind,
        severity=str(row["severity"]),
        service=str(row["service"]),
        tenant_id=tenant,
        condition=str(row["condition"]),
        reason=details.get("reason") or row.get("title"),
        tenant_name=(details.get("tenant_names") or {}).get(tenant) if tenant else None,
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


TransitionKind = Literal["opened", "escalated", "resolved", "acknowledged"]


@dataclass(frozen=True)
class AlertTransition:
    """One alert's change of state: what the run's summary artifact, its log and the Prefect
    event say of it. Ids and words only (alert rows never hold a credential)."""

    alert_id: int
    kind: TransitionKind
    severity: str
    service: str
    tenant_id: str | None
    condition: str
    #: the check's reason (a rollup's title); None for a recovery
    reason: str | None
    #: the tenant's display name, where it has one
    tenant_name: str | None = None
    #: why it sends nothing now: "silence:<id>", or "rollup" for a tenant alert its platform
    #: rollup speaks for (alerting.lifecycle)
    held: str | None = None

    @property
    def tenant(self) -> str:
        """As people read it: "Acme Shop (tenant-0001)", the id alone without a name, or "platform"."""
        if not self.tenant_id:
            return "platform"
        return tenant_label(self.tenant_id, {self.tenant_id: self.tenant_name} if self.tenant_name else {})

    @property
    def group(self) -> str:
        return group_key(self.service, self.condition)

    def line(self) -> str:
        """For the run's log: "alert #12 opened: p2 shopify · Acme Shop (tenant-0001) · health: …"."""
        held = f" (held: {self.held})" if self.held else ""
        why = one_line(self.reason) if self.reason else "recovered"
        return (
            f"alert #{self.alert_id} {self.kind}{held}: {self.severity} {self.service} · {self.tenant} · "
            f"{self.condition}: {clip(why, EVENT_TEXT_CHARS)}"
        )


@dataclass(frozen=True)
class AlertSummary:
    """What one alert step did, for the run's report."""

    opened: int = 0
    resolved: int = 0
    escalated: int = 0
    notifications: int = 0
    #: each alert opened, escalated and resolved, in that order
    transitions: tuple[AlertTransition, ...] = ()


@dataclass(frozen=True)
class RunState:
    """A run's results as the alert and report steps see them, read once after its checks:
    the tier's latest statuses (details where an alert or the report uses them) and the
    live alerts."""

    run: RunRef
    rows: list[LatestStatus]
    live: list[AlertView]
    read_at: datetime
    #: display names of the tenants of the rows read with details (those the report shows)
    tenant_names: Mapping[str, str] = field(default_factory=dict)

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

    rows = load_tier(app.engine, run.tier, wants_details)
    names = display_names(app.engine, [r.tenant_id for r in rows if r.details])
    return RunState(run, rows, live, now, names)


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
        transitions=applied_transitions(app.engine, decision, state.live),
    )
    return summary, ids


def applied_transitions(
    engine: Engine, decision: Decision, live: Sequence[AlertView]
) -> tuple[AlertTransition, ...]:
    """The alerts an applied decision opened, escalated and resolved. A new alert's id is
    known only once written: read back by signature (one query, only when one opened)."""
    opened = [c for c in decision.changes if c.id is None]
    new_ids = {a.signature: a.id for a in live_alerts(engine, {c.service for c in opened})} if opened else {}
    by_id = {c.id: c for c in decision.changes if c.id is not None}
    escalated = [by_id[key] for key, kind in decision.notify if kind is Kind.ESCALATE and key in by_id]
    views = {a.id: a for a in live}
    resolved = [views[i] for i in dict.fromkeys(decision.resolve) if i in views]
    names = display_names(engine, [c.tenant_id for c in opened + escalated] + [a.tenant_id for a in resolved])

    def of_change(change: AlertChange, alert_id: int, kind: TransitionKind) -> AlertTransition:
        return AlertTransition(
            alert_id,
            kind,
            change.severity.value,
            change.service,
            change.tenant_id,
            change.condition,
            change.details.get("reason") or change.title,
            names.get(change.tenant_id) if change.tenant_id else None,
            change.held,
        )

    found = [of_change(c, new_ids[c.signature], "opened") for c in opened if c.signature in new_ids]
    found += [of_change(c, c.id, "escalated") for c in escalated if c.id is not None]
    found += [
        AlertTransition(
            a.id,
            "resolved",
            a.severity.value,
            a.service,
            a.tenant_id,
            a.condition,
            None,
            names.get(a.tenant_id) if a.tenant_id else None,
        )
        for a in resolved
    ]
    return tuple(found)


def _step_log() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's own logger inside a Prefect run (its lines are the run's logs in the UI);
    healthmon's elsewhere."""
    if in_prefect_run():
        from prefect import get_run_logger

        return get_run_logger()
    return log


async def alert_run(app: App, run: RunRef) -> Alerted:
    """The alert step: read the run's results, open, update and resolve alerts for them, and
    send what is new at once. Each alert opened, escalated or resolved is logged (the run's
    log, inside Prefect) and is a Prefect event."""
    state = await asyncio.to_thread(read_run, app, run, datetime.now(UTC))
    summary, ids = await asyncio.to_thread(_decide_and_queue, app, state)
    step_log = _step_log()
    for transition in summary.transitions[:MAX_TRANSITION_LINES]:
        step_log.info("%s", transition.line())
    if len(summary.transitions) > MAX_TRANSITION_LINES:
        step_log.info("... and %d more alert changes", len(summary.transitions) - MAX_TRANSITION_LINES)
    # every one is an event, though: an automation must not miss the 51st tenant
    for transition in summary.transitions:
        alert_event(transition, RECOVERY if transition.kind == "resolved" else RUN_ACTOR)
    await send_now(app, ids)
    return Alerted(summary, state)


async def deliver_pending(app: App, ignore_backoff: bool = False) -> DeliveryReport:
    """Retry what is queued, with backoff (the deliver flow, `healthmon alerts deliver`)."""
    alerting = app.alerting
    return await deliver(app.engine, alerting.channels, alerting.policy, ignore_backoff=ignore_backoff)
