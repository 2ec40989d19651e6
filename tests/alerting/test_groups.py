"""Alert groups in the outbox and the queue (issue 13, point 1): which notices a group batches,
when they are due (group_wait, group_interval), the ordering rule inside and around a group
message, stable message keys for resends, and how each channel words a group. The clock is
passed in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from healthmon.alerting import outbox
from healthmon.alerting.channels.pagerduty import group_event
from healthmon.alerting.channels.webhook import WebhookChannel
from healthmon.alerting.lifecycle import HEALTH, AlertChange, Decision, signature
from healthmon.alerting.notification import GroupNotification, Kind, Severity
from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.ports import Outcome, SendState
from healthmon.flows.alerts import apply_decision, deliver
from healthmon.sandbox import RunningSandbox, SandboxState
from healthmon.storage import alerts as store
from healthmon.storage.db import make_engine
from healthmon.storage.tables import DELIVERIES, TENANTS
from tests.alerting.conftest import MakeNotification

T0 = datetime(2026, 12, 1, 7, 31, 0, tzinfo=UTC)
POLICY = AlertPolicy(group_wait=30.0, group_interval=300.0)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = make_engine(db_url)
    yield made
    made.dispose()


def to_webhook(*_: object) -> list[str]:
    return ["webhook"]


def change(tenant: str | None, severity: Severity = Severity.P3, live_id: int | None = None) -> AlertChange:
    return AlertChange(
        signature("meta_ads", tenant, HEALTH),
        "meta_ads",
        tenant,
        HEALTH,
        severity,
        f"meta_ads degraded ({tenant or 'platform'})",
        {"status": "degraded", "reason": "access token expires in 4 days"},
        id=live_id,
    )


def open_alerts(engine: Engine, changes: list[AlertChange], at: datetime) -> list[int]:
    decision = Decision(changes=changes, notify=[(c.signature, Kind.TRIGGER) for c in changes])
    return apply_decision(engine, decision, to_webhook, at, policy=POLICY)


def alert_of(engine: Engine, tenant: str | None) -> int:
    (found,) = [a["id"] for a in store.list_alerts(engine) if a["tenant_id"] == tenant]
    return int(found)


def outbox_delivered(row_id: int, attempts: int) -> Outcome:
    return Outcome(row_id, SendState.DELIVERED, attempts=attempts)


def rows(engine: Engine) -> list[tuple[str, str | None, datetime]]:
    """(kind, group_key, due) of every delivery row, in queue order."""
    with engine.connect() as conn:
        found = conn.execute(
            select(DELIVERIES.c.kind, DELIVERIES.c.group_key, DELIVERIES.c.next_attempt_at).order_by(
                DELIVERIES.c.id
            )
        ).all()
    return [(r.kind, r.group_key, r.next_attempt_at.replace(tzinfo=UTC)) for r in found]


def test_p2_and_p3_tenant_notices_are_grouped_and_p1_escalations_and_platform_alerts_are_not(
    engine: Engine,
) -> None:
    open_alerts(
        engine, [change("t1"), change("t2", Severity.P2), change("t3", Severity.P1), change(None)], T0
    )
    sql = store.SqlAlertStore(engine)
    outbox.acknowledge(sql, alert_of(engine, "t1"), "alice", T0, to_webhook, policy=POLICY)
    escalation = Decision(
        changes=[change("t2", Severity.P1, alert_of(engine, "t2"))],
        notify=[(alert_of(engine, "t2"), Kind.ESCALATE)],
    )
    apply_decision(engine, escalation, to_webhook, T0, policy=POLICY)
    outbox.resolve(sql, alert_of(engine, "t1"), "bob", T0, to_webhook, policy=POLICY)
    group = "meta_ads|health"
    assert [(kind, key) for kind, key, _due in rows(engine)] == [
        ("trigger", group),  # t1, p3
        ("trigger", group),  # t2, p2
        ("trigger", None),  # t3, p1: never waits
        ("trigger", None),  # the platform alert: a group of one has no peers to wait for
        ("acknowledge", group),
        ("escalate", None),  # t2 rose to p1: sent at once
        ("resolve", group),
    ]


def test_the_first_notice_waits_group_wait_and_later_ones_group_interval_after_the_last_message(
    engine: Engine,
) -> None:
    open_alerts(engine, [change("t1")], T0)
    open_alerts(engine, [change("t2")], T0 + timedelta(seconds=10))  # joins the waiting t1
    first = T0 + timedelta(seconds=POLICY.group_wait)
    assert [due for _k, _g, due in rows(engine)] == [first, first]

    sql = store.SqlAlertStore(engine)
    (claimed,) = sql.claim_groups(first, 60)
    sql.settle([outbox_delivered(r.id, r.attempts) for r in claimed.rows], first)
    open_alerts(engine, [change("t3")], first + timedelta(seconds=60))
    assert rows(engine)[-1][2] == first + timedelta(seconds=POLICY.group_interval)

    # quiet for longer than the interval: the next one waits only group_wait again
    much_later = first + timedelta(hours=2)
    sql.settle(
        [outbox_delivered(r.id, r.attempts) for r in sql.claim_groups(much_later, 60)[0].rows], much_later
    )
    open_alerts(engine, [change("t4")], much_later + timedelta(minutes=10))
    assert rows(engine)[-1][2] == much_later + timedelta(minutes=10, seconds=POLICY.group_wait)


def test_a_trigger_and_its_resolve_within_the_wait_are_one_message_in_queue_order(engine: Engine) -> None:
    open_alerts(engine, [change("t1"), change("t2")], T0)
    outbox.resolve(
        store.SqlAlertStore(engine),
        alert_of(engine, "t1"),
        "bob",
        T0 + timedelta(seconds=5),
        to_webhook,
        policy=POLICY,
    )
    (group,) = store.SqlAlertStore(engine).claim_groups(T0 + timedelta(seconds=30), 60)
    message = outbox.group_notification(group)
    assert [(m.tenant_id, m.kind) for m in message.members] == [
        ("t1", Kind.TRIGGER),
        ("t2", Kind.TRIGGER),
        ("t1", Kind.RESOLVE),
    ]
    assert (message.live, message.unacknowledged) == (1, 1)


def test_a_resend_after_a_crash_carries_the_same_message_key_and_new_rows_another(engine: Engine) -> None:
    open_alerts(engine, [change("t1"), change("t2")], T0)
    sql = store.SqlAlertStore(engine)
    due = T0 + timedelta(seconds=30)
    (taken,) = sql.claim_groups(due, 60)  # the sender dies here, its lease runs out
    assert sql.claim_groups(due + timedelta(seconds=59), 60) == []
    (again,) = sql.claim_groups(due + timedelta(seconds=61), 60)
    assert [r.id for r in again.rows] == [r.id for r in taken.rows]
    assert outbox.group_notification(again).key == outbox.group_notification(taken).key
    # queued while the resend is in flight: it counts as the group's last message, so the new
    # notice waits group_interval, and the stuck rows are retried with it
    queued = due + timedelta(seconds=62)
    open_alerts(engine, [change("t3")], queued)
    assert rows(engine)[-1][2] == queued + timedelta(seconds=POLICY.group_interval)
    (bigger,) = sql.claim_groups(queued + timedelta(seconds=POLICY.group_interval), 60)
    assert len(bigger.rows) == 3
    assert outbox.group_notification(bigger).key != outbox.group_notification(taken).key


async def test_an_escalation_to_p1_does_not_wait_for_the_group_of_its_trigger(
    engine: Engine, sandbox: RunningSandbox, state: SandboxState
) -> None:
    open_alerts(engine, [change("t1"), change("t2")], T0)
    t1 = alert_of(engine, "t1")
    at = T0 + timedelta(seconds=5)
    escalation = Decision(changes=[change("t1", Severity.P1, t1)], notify=[(t1, Kind.ESCALATE)])
    ids = apply_decision(engine, escalation, to_webhook, at, policy=POLICY)
    channels = {"webhook": WebhookChannel(f"{sandbox.base_url}/webhook/healthmon")}
    report = await deliver(engine, channels, POLICY, ids=ids, now=lambda: at)
    # the trigger goes first (the ordering rule), alone, then the escalation; t2 keeps waiting
    sent = [m["body"] for m in state.received("webhook")]
    assert [(b["kind"], b.get("opened")) for b in sent] == [("group", ["t1"]), ("escalate", None)]
    assert (report.delivered, report.groups) == (2, 1)
    assert [d["status"] for d in store.deliveries_of(engine) if d["alert_id"] != t1] == ["pending"]


async def test_acknowledging_a_group_is_one_message_naming_who_with_tenant_names(
    engine: Engine, sandbox: RunningSandbox, state: SandboxState
) -> None:
    with engine.begin() as conn:
        conn.execute(
            TENANTS.insert(),
            [
                {
                    "id": "t1",
                    "name": "Acme Shop",
                    "integrations": {},
                    "credentials": {},
                    "created_at": T0,
                    "updated_at": T0,
                },
                {
                    "id": "t2",
                    "name": "t2",
                    "integrations": {},
                    "credentials": {},
                    "created_at": T0,
                    "updated_at": T0,
                },
            ],
        )
    open_alerts(engine, [change("t1"), change("t2")], T0)
    channels = {"webhook": WebhookChannel(f"{sandbox.base_url}/webhook/healthmon")}
    first = T0 + timedelta(seconds=30)
    await deliver(engine, channels, POLICY, now=lambda: first)
    sql = store.SqlAlertStore(engine)
    for tenant in ("t1", "t2"):
        outbox.acknowledge(
            sql, alert_of(engine, tenant), "alice", first + timedelta(seconds=10), to_webhook, policy=POLICY
        )
    later = first + timedelta(seconds=POLICY.group_interval)
    report = await deliver(engine, channels, POLICY, now=lambda: later)
    assert (report.delivered, report.groups) == (2, 1)
    body = state.received("webhook")[-1]["body"]
    assert (body["acknowledged"], body["live"], body["unacknowledged"]) == (["t1", "t2"], 2, 0)
    # a name that only repeats the id is no name
    assert body["tenant_names"] == {"t1": "Acme Shop"}
    assert [n["tenant_name"] for n in body["notifications"]] == ["Acme Shop", None]


def group_of(
    make_notification: MakeNotification, kinds: list[Kind], live: int, unacknowledged: int
) -> GroupNotification:
    members = tuple(
        make_notification(
            kind, delivery_id=100 + n, alert_id=n, tenant_id=f"t{n}", severity=Severity.P3, status="degraded"
        )
        for n, kind in enumerate(kinds)
    )
    return GroupNotification("meta_ads|health", "meta_ads", HEALTH, members, live, unacknowledged)


@pytest.mark.parametrize(
    ("kinds", "live", "unacknowledged", "action"),
    [
        ([Kind.TRIGGER, Kind.TRIGGER], 2, 2, "trigger"),
        ([Kind.RESOLVE], 1, 1, "trigger"),  # one of two recovered: the incident stays, updated
        ([Kind.RESOLVE, Kind.RESOLVE], 0, 0, "resolve"),  # nothing live: the incident ends
        ([Kind.ACKNOWLEDGE, Kind.ACKNOWLEDGE], 2, 0, "acknowledge"),
        ([Kind.ACKNOWLEDGE], 2, 1, "trigger"),  # someone is still unacknowledged
    ],
)
def test_pagerduty_keeps_one_incident_per_group(
    make_notification: MakeNotification, kinds: list[Kind], live: int, unacknowledged: int, action: str
) -> None:
    event = group_event(group_of(make_notification, kinds, live, unacknowledged), "R" * 32, "healthmon")
    assert (event["event_action"], event["dedup_key"]) == (action, "group|meta_ads|health")
    if action == "trigger":
        assert event["payload"]["severity"] == "warning" and event["payload"]["component"] == "meta_ads"


def test_the_message_key_depends_only_on_the_set_of_rows(make_notification: MakeNotification) -> None:
    group = group_of(make_notification, [Kind.TRIGGER, Kind.RESOLVE], 1, 1)
    shuffled = replace(group, members=tuple(reversed(group.members)), live=0)
    assert shuffled.key == group.key
    assert replace(group, members=group.members[:1]).key != group.key
