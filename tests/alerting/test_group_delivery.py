"""Alert groups delivered (issue 13, point 1): 60 tenants failing on the same p3 condition
within a minute are one message per channel, on real receivers over loopback (the sandbox's
Slack webhook and generic webhook, aiosmtpd for email); a p1 at the same moment goes out at
once; a later change of the group waits for group_interval. The clock is passed in (`now`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import Engine

from healthmon.alerting.channels.email import EmailChannel
from healthmon.alerting.channels.slack import SlackChannel
from healthmon.alerting.channels.webhook import WebhookChannel
from healthmon.alerting.delivery import DeliveryReport
from healthmon.alerting.lifecycle import HEALTH, AlertChange, Decision, signature
from healthmon.alerting.notification import Channel, Kind, Severity
from healthmon.alerting.policy import AlertPolicy
from healthmon.flows.alerts import apply_decision, deliver, deliver_pending, send_now
from healthmon.sandbox import RunningSandbox, SandboxState
from healthmon.storage import alerts as store
from healthmon.storage.db import make_engine
from tests.alerting.conftest import SmtpServer, StartSmtp, channel_config
from tests.support.alert_groups import tenants
from tests.support.app import AppFactory
from tests.support.waiting import wait_until

T0 = datetime(2026, 12, 1, 7, 31, 0, tzinfo=UTC)
POLICY = AlertPolicy()  # group_wait 30 s, group_interval 300 s
CHANNELS = ["slack", "webhook", "email"]
REASON = "access token expires in 4 days"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = make_engine(db_url)
    yield made
    made.dispose()


@dataclass
class Receivers:
    state: SandboxState
    smtp: SmtpServer
    channels: dict[str, Channel]

    def slack(self) -> list[dict[str, Any]]:
        return [m["body"] for m in self.state.received("slack")]

    def webhook(self) -> list[dict[str, Any]]:
        return list(self.state.received("webhook"))

    def emails(self) -> list[EmailMessage]:
        return [
            message_from_bytes(e.original_content or b"", _class=EmailMessage, policy=policy.default)
            for e in self.smtp.inbox.envelopes
        ]

    def counts(self) -> dict[str, int]:
        return {"slack": len(self.slack()), "webhook": len(self.webhook()), "email": len(self.emails())}


@pytest.fixture
def receivers(sandbox: RunningSandbox, state: SandboxState, start_smtp: StartSmtp) -> Receivers:
    smtp = start_smtp()
    cfg = channel_config(sandbox, smtp, CHANNELS)
    e = cfg["email"]
    channels: dict[str, Channel] = {
        "slack": SlackChannel(webhook_url=cfg["slack"]["webhook_url"]),
        "webhook": WebhookChannel(**cfg["webhook"]),
        "email": EmailChannel(
            host=e["host"], port=e["port"], starttls=False, sender=e["from"], recipients=e["to"]
        ),
    }
    return Receivers(state, smtp, channels)


def every_channel(*_: object) -> list[str]:
    return list(CHANNELS)


def failing(service: str, tenant: str | None, severity: Severity, status: str = "degraded") -> AlertChange:
    return AlertChange(
        signature(service, tenant, HEALTH),
        service,
        tenant,
        HEALTH,
        severity,
        f"{service} {status} ({tenant or 'platform'})",
        {"status": status, "reason": REASON if tenant else "connection refused"},
    )


def opened(engine: Engine, changes: list[AlertChange], at: datetime) -> list[int]:
    decision = Decision(changes=changes, notify=[(c.signature, Kind.TRIGGER) for c in changes])
    return apply_decision(engine, decision, every_channel, at, policy=POLICY)


def recovered(engine: Engine, tenant_ids: list[str], at: datetime) -> list[int]:
    ids = {a["tenant_id"]: int(a["id"]) for a in store.list_alerts(engine, ["open"], 1000)}
    gone = [ids[t] for t in tenant_ids]
    decision = Decision(resolve=gone, notify=[(i, Kind.RESOLVE) for i in gone])
    return apply_decision(engine, decision, every_channel, at, policy=POLICY)


async def deliver_at(
    engine: Engine, receivers: Receivers, at: datetime, ids: list[int] | None = None
) -> DeliveryReport:
    clock: Callable[[], datetime] = lambda: at  # noqa: E731  # the test's clock stands still
    return await deliver(engine, receivers.channels, POLICY, ids=ids, now=clock)


async def test_sixty_tenants_are_one_message_per_channel_and_a_p1_is_not_delayed(
    engine: Engine, receivers: Receivers
) -> None:
    first, second = tenants(60)[:30], tenants(60)[30:]
    page = failing("postgres", None, Severity.P1, "unhealthy")
    queued = opened(engine, [page, *(failing("meta_ads", t, Severity.P3) for t in first)], T0)
    # what a tier run does at once: the p1 goes out, the group waits for its peers
    await deliver_at(engine, receivers, T0, queued)
    assert receivers.counts() == {"slack": 1, "webhook": 1, "email": 1}
    assert receivers.webhook()[0]["body"]["service"] == "postgres"

    # the other 30 fail 20 s later, within the group's wait: they join the same message
    await deliver_at(
        engine,
        receivers,
        T0 + timedelta(seconds=20),
        opened(engine, [failing("meta_ads", t, Severity.P3) for t in second], T0 + timedelta(seconds=20)),
    )
    assert (await deliver_at(engine, receivers, T0 + timedelta(seconds=29))).delivered == 0
    assert receivers.counts() == {"slack": 1, "webhook": 1, "email": 1}

    report = await deliver_at(engine, receivers, T0 + timedelta(seconds=30))
    assert (report.delivered, report.groups, report.retrying, report.failed) == (180, 3, 0, 0)
    assert receivers.counts() == {"slack": 2, "webhook": 2, "email": 2}

    hook = receivers.webhook()[1]
    body = hook["body"]
    assert (body["kind"], body["group"], body["severity"]) == ("group", "meta_ads|health", "p3")
    assert body["opened"] == tenants(60) and body["resolved"] == [] and body["live"] == 60
    assert [n["kind"] for n in body["notifications"]] == ["trigger"] * 60
    assert hook["headers"]["idempotency-key"].startswith("healthmon-group-")
    assert REASON in body["reason"]

    slack = receivers.slack()[1]
    assert "meta_ads · health: 60 opened, 60 live" in slack["text"] and slack["text"].startswith("[P3]")
    listed = " ".join(str(b.get("text", {}).get("text", "")) for b in slack["attachments"][0]["blocks"])
    assert "*Opened (60)*" in listed and all(t in listed for t in tenants(60))

    mail = receivers.emails()[1]
    assert (
        mail["Subject"].startswith("[P3] meta_ads · health: 60 opened")
        and mail["X-Healthmon-Kind"] == "group"
    )
    text = mail.get_body(("plain",))
    assert text is not None and "Opened (60):" in text.get_content()
    assert all(t in text.get_content() for t in tenants(60))
    assert all(d["status"] == "delivered" for d in store.deliveries_of(engine))


async def test_a_second_change_within_group_interval_waits_for_it(
    engine: Engine, receivers: Receivers
) -> None:
    opened(engine, [failing("meta_ads", t, Severity.P3) for t in tenants(10)], T0)
    await deliver_at(engine, receivers, T0 + timedelta(seconds=30))
    assert receivers.counts() == {"slack": 1, "webhook": 1, "email": 1}

    # 1 min after the group's message, 4 tenants recover and 1 more fails: both wait for the
    # interval (300 s after the last message), then go out together
    sent_at = T0 + timedelta(seconds=30)
    recovered(engine, tenants(4), T0 + timedelta(seconds=90))
    opened(engine, [failing("meta_ads", "late", Severity.P3)], T0 + timedelta(seconds=95))
    assert (await deliver_at(engine, receivers, T0 + timedelta(seconds=96))).delivered == 0
    due = sent_at + timedelta(seconds=POLICY.group_interval)
    assert (await deliver_at(engine, receivers, due - timedelta(seconds=1))).delivered == 0
    assert receivers.counts() == {"slack": 1, "webhook": 1, "email": 1}

    report = await deliver_at(engine, receivers, due)
    assert (report.delivered, report.groups) == (15, 3)
    assert receivers.counts() == {"slack": 2, "webhook": 2, "email": 2}
    body = receivers.webhook()[1]["body"]
    assert (body["opened"], body["resolved"], body["live"]) == (["late"], tenants(4), 7)
    assert "1 opened, 4 resolved, 7 live" in receivers.slack()[1]["text"]


def test_the_delivery_pass_sends_a_group_once_its_wait_is_over(
    sandbox: RunningSandbox, state: SandboxState, receivers: Receivers, sqlite_url: str, make_app: AppFactory
) -> None:
    """End to end through the App, as a tier run's alert step and the deliver flow do it, with a
    real clock: group_wait 5 s from the config (1 s passed before the alert step's send on a
    loaded box), waited on with a deadline."""
    config = {
        "channels": channel_config(sandbox, receivers.smtp, ["webhook"]),
        "routes": [{"severity": ["p1", "p2", "p3"], "channels": ["webhook"]}],
        "alerting": {"group_wait": 5},
    }
    app = make_app(sqlite_url, config)
    changes = [failing("meta_ads", t, Severity.P3) for t in tenants(60)]
    decision = Decision(changes=changes, notify=[(c.signature, Kind.TRIGGER) for c in changes])
    alerting = app.alerting
    ids = apply_decision(app.engine, decision, alerting.router, datetime.now(UTC), policy=alerting.policy)
    assert asyncio.run(send_now(app, ids)).delivered == 0  # the alert step: the group waits

    def group_sent() -> list[dict[str, Any]]:
        asyncio.run(deliver_pending(app))
        return [m["body"] for m in state.received("webhook")]

    (body,) = wait_until(group_sent, 30, "the group's message")
    assert (body["kind"], body["opened"]) == ("group", tenants(60))


async def test_a_served_deliver_run_lingers_and_sends_a_group_that_falls_due_meanwhile(
    prefect_harness: None,
    sandbox: RunningSandbox,
    state: SandboxState,
    receivers: Receivers,
    sqlite_url: str,
    make_app: AppFactory,
) -> None:
    """Served, each deliver run keeps looking for `linger_s` (deployments/serve.py), so a group
    opened while it runs goes out about group_wait later, not at the next run. The group opens
    only once the run is seen running on the Prefect API, so its first pass cannot be what sent it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import State, StateType

    from healthmon.flows.tier_run import deliver_notifications

    config = {
        "channels": channel_config(sandbox, receivers.smtp, ["webhook"]),
        "routes": [{"severity": ["p1", "p2", "p3"], "channels": ["webhook"]}],
        "alerting": {"group_wait": 0.5},
    }
    app = make_app(sqlite_url, config)
    async def deliver() -> State[Any]:
        return await deliver_notifications(linger_s=6, poll_s=0.2, return_state=True)

    run = asyncio.create_task(deliver())
    running = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING])))
    by_name = FlowFilter(name=FlowFilterName(any_=["deliver-notifications"]))
    async with get_client() as client:
        deadline = asyncio.get_running_loop().time() + 60
        while not await client.read_flow_runs(flow_filter=by_name, flow_run_filter=running):
            assert not run.done() and asyncio.get_running_loop().time() < deadline, "deliver run never ran"
            await asyncio.sleep(0.1)
    changes = [failing("meta_ads", t, Severity.P3) for t in tenants(3)]
    decision = Decision(changes=changes, notify=[(c.signature, Kind.TRIGGER) for c in changes])
    alerting = app.alerting
    apply_decision(app.engine, decision, alerting.router, datetime.now(UTC), policy=alerting.policy)
    final = await run
    assert final.is_completed() and final.message == "3 sent · 0 retrying · 0 gave up"
    (body,) = [m["body"] for m in state.received("webhook")]
    assert (body["kind"], body["opened"]) == ("group", tenants(3))
