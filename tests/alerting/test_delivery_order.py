"""Delivery in order and resends bounded to what was in flight (issue 10, point 4), on real
receivers over loopback: the sandbox's PagerDuty, webhook and Slack receivers and aiosmtpd."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from healthmon.alerting.channels.email import EmailChannel
from healthmon.alerting.channels.pagerduty import PagerDutyChannel
from healthmon.alerting.channels.slack import SlackChannel
from healthmon.alerting.channels.webhook import WebhookChannel
from healthmon.alerting.delivery import DeliveryReport
from healthmon.alerting.lifecycle import AlertChange, Decision
from healthmon.alerting.notification import Channel, Kind, Severity
from healthmon.alerting.policy import AlertPolicy
from healthmon.flows.alerts import apply_decision, deliver
from healthmon.sandbox import RunningSandbox, SandboxState
from healthmon.sandbox.vendors.pagerduty import incidents, open_incidents
from healthmon.storage import alerts as store
from healthmon.storage.db import make_engine
from tests.alerting.conftest import SmtpServer, StartSmtp, channel_config
from tests.support.cli import ROOT, healthmon
from tests.support.waiting import wait_until

SERVICES = ["postgres", "redis", "stripe", "inngest", "wise", "mux"]
POLICY = AlertPolicy()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = make_engine(db_url)
    yield made
    made.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    made = make_engine(pg_url)
    yield made
    made.dispose()


@pytest.fixture
def smtp(start_smtp: StartSmtp) -> SmtpServer:
    return start_smtp()


def build(sandbox: RunningSandbox, smtp: SmtpServer, names: list[str]) -> dict[str, Channel]:
    cfg = channel_config(sandbox, smtp, names)
    made: dict[str, Channel] = {}
    if "pagerduty" in cfg:
        made["pagerduty"] = PagerDutyChannel(**cfg["pagerduty"])
    if "webhook" in cfg:
        made["webhook"] = WebhookChannel(**cfg["webhook"])
    if "email" in cfg:
        e = cfg["email"]
        made["email"] = EmailChannel(
            host=e["host"], port=e["port"], starttls=False, sender=e["from"], recipients=e["to"]
        )
    if "slack" in cfg:
        made["slack"] = SlackChannel(webhook_url=cfg["slack"]["webhook_url"])
    return made


def signature(service: str) -> str:
    return f"{service}|-|health"


def failing(service: str, reason: str, live_id: int | None = None) -> AlertChange:
    """The alert on `service` failing for `reason`: a new one, or new values for alert `live_id`."""
    return AlertChange(
        signature(service),
        service,
        None,
        "health",
        Severity.P1,
        f"{service} unhealthy (platform)",
        {"status": "unhealthy", "reason": reason},
        id=live_id,
    )


def open_alert(engine: Engine, service: str, channels: list[str], kind: Kind = Kind.TRIGGER) -> list[int]:
    """What the lifecycle decides when `service` fails: a new alert and its trigger."""
    change = failing(service, "connection refused")
    decision = Decision(changes=[change], notify=[(signature(service), kind)])
    return apply_decision(engine, decision, lambda *_: list(channels), datetime.now(UTC))


def alert_id(engine: Engine, service: str) -> int:
    (row,) = [a for a in store.list_alerts(engine) if a["service"] == service]
    return int(row["id"])


def escalate(engine: Engine, service: str, channels: list[str]) -> list[int]:
    aid = alert_id(engine, service)
    change = failing(service, "worse", aid)
    decision = Decision(changes=[change], notify=[(aid, Kind.ESCALATE)])
    return apply_decision(engine, decision, lambda *_: list(channels), datetime.now(UTC))


def resolve_alert(engine: Engine, service: str) -> list[int]:
    """What the lifecycle decides when `service` recovers: resolved, with a notice."""
    aid = alert_id(engine, service)
    decision = Decision(resolve=[aid], notify=[(aid, Kind.RESOLVE)])
    return apply_decision(engine, decision, lambda *_: [], datetime.now(UTC))


# -- what each receiver got, per alert, in arrival order ------------------------------------------

def pagerduty_log(state: SandboxState) -> dict[str, list[str]]:
    log: dict[str, list[str]] = defaultdict(list)
    for event in state.received("pagerduty"):
        log[event["body"]["dedup_key"].split("|")[0]].append(event["body"]["event_action"])
    return dict(log)


def webhook_log(state: SandboxState) -> dict[str, list[str]]:
    log: dict[str, list[str]] = defaultdict(list)
    for event in state.received("webhook"):
        log[event["body"]["service"]].append(event["body"]["kind"])
    return dict(log)


def slack_log(state: SandboxState) -> dict[str, list[str]]:
    log: dict[str, list[str]] = defaultdict(list)
    for event in state.received("slack"):
        text = event["body"]["text"]
        service = next(s for s in SERVICES if f"] {s} " in text)
        log[service].append("resolve" if text.startswith("[RESOLVED]") else "trigger")
    return dict(log)


def email_log(smtp: SmtpServer, services_by_alert: dict[int, str]) -> dict[str, list[str]]:
    log: dict[str, list[str]] = defaultdict(list)
    for envelope in smtp.inbox.envelopes:
        msg = message_from_bytes(envelope.original_content or b"")
        log[services_by_alert[int(msg["X-Healthmon-Alert-Id"])]].append(str(msg["X-Healthmon-Kind"]))
    return dict(log)


def services_by_alert(engine: Engine) -> dict[int, str]:
    return {int(a["id"]): str(a["service"]) for a in store.list_alerts(engine, limit=100)}


def statuses(engine: Engine) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for row in store.deliveries_of(engine):
        counts[row["status"]] += 1
    return dict(counts)


# -- an outage, then the channels come back --------------------------------------------------------


async def test_after_an_outage_every_channel_gets_each_trigger_before_its_resolve(
    engine: Engine, sandbox: RunningSandbox, state: SandboxState, smtp: SmtpServer
) -> None:
    names = ["pagerduty", "webhook", "email", "slack"]
    channels = build(sandbox, smtp, names)
    # Every receiver failing: PagerDuty and the webhook answer 503, Slack 500, SMTP 451.
    state.add_fault("pagerduty", "http_error", status=503)
    state.add_fault("webhook", "http_error", status=503)
    state.add_fault("slack_webhook", "http_error", status=500)
    smtp.inbox.data_reply = "451 4.3.0 try again later"

    # Six alerts open and resolve during the outage; each step tries to send at once, as
    # the alert step does, and the retry flow runs in between.
    for service in SERVICES:
        report = await deliver(engine, channels, POLICY, ids=open_alert(engine, service, names))
        assert (report.delivered, report.retrying) == (0, 4)
    await deliver(engine, channels, POLICY, ignore_backoff=True)
    for service in SERVICES:
        queued = resolve_alert(engine, service)
        assert len(queued) == 4
        # Each resolve waits behind its trigger, which is still pending: nothing is claimed.
        assert await deliver(engine, channels, POLICY, ids=queued) == DeliveryReport()
    assert statuses(engine) == {"pending": 48}
    assert state.received("pagerduty") == [] and smtp.inbox.envelopes == []

    state.clear_faults()
    smtp.inbox.data_reply = None
    report = await deliver(engine, channels, POLICY, ignore_backoff=True)

    # One call drains every queue in order: trigger, then its resolve.
    assert report == DeliveryReport(delivered=48)
    assert statuses(engine) == {"delivered": 48}
    expected = {service: ["trigger", "resolve"] for service in SERVICES}
    assert pagerduty_log(state) == expected
    assert webhook_log(state) == expected
    assert slack_log(state) == expected
    assert email_log(smtp, services_by_alert(engine)) == expected
    # PagerDuty ends with every incident resolved: no phantom page after the outage.
    assert open_incidents(state.received("pagerduty")) == []
    assert incidents(state.received("pagerduty")) == {signature(s): "resolved" for s in SERVICES}
    # 0 duplicated: each delivery reached the webhook once.
    keys = [e["headers"]["idempotency-key"] for e in state.received("webhook")]
    assert len(keys) == len(set(keys)) == 12


def test_the_sandbox_incident_model_keeps_an_early_resolve_from_closing_a_later_trigger() -> None:
    # The failure the ordering prevents, as the sandbox models PagerDuty: an early resolve is
    # dropped and the later trigger stays open.
    events = [
        {"body": {"dedup_key": "a", "event_action": "resolve"}},
        {"body": {"dedup_key": "a", "event_action": "trigger"}},
        {"body": {"dedup_key": "b", "event_action": "trigger"}},
        {"body": {"dedup_key": "b", "event_action": "acknowledge"}},
        {"body": {"dedup_key": "b", "event_action": "resolve"}},
    ]
    assert incidents(events) == {"a": "triggered", "b": "resolved"}
    assert open_incidents(events) == ["a"]


# -- several senders at once ---------------------------------------------------------------------


def _sender_thread(url: str, channels: dict[str, Channel], until_empty: bool) -> list[DeliveryReport]:
    """A sender in its own thread, event loop and engine, as a second process would be."""
    engine = make_engine(url)
    reports: list[DeliveryReport] = []
    deadline = time.monotonic() + 60  # a queue that never empties fails the test, not hangs it
    try:
        while True:
            reports.append(asyncio.run(deliver(engine, channels, POLICY)))
            if not until_empty or store.count_pending(engine, datetime.now(UTC)).pending == 0:
                return reports
            if time.monotonic() > deadline:
                return reports
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
async def test_concurrent_senders_never_deliver_a_resolve_before_its_trigger(
    backend: str,
    request: pytest.FixtureRequest,
    sandbox: RunningSandbox,
    state: SandboxState,
    smtp: SmtpServer,
) -> None:
    url = str(request.getfixturevalue("pg_url" if backend == "postgres" else "sqlite_url"))
    engine = make_engine(url)
    names = ["pagerduty", "webhook", "email"]
    for service in SERVICES:
        open_alert(engine, service, names)
    for service in SERVICES:
        resolve_alert(engine, service)
    assert statuses(engine) == {"pending": 36}
    # Answers take 5-55 ms, so sends overlap and finish in no fixed order.
    state.add_fault("pagerduty", "latency", ms=30, jitter_ms=25)
    state.add_fault("webhook", "latency", ms=30, jitter_ms=25)

    one = asyncio.to_thread(_sender_thread, url, build(sandbox, smtp, names), False)
    # The other keeps polling, as the delivery flow and alert steps do, until the queue is empty.
    other = asyncio.to_thread(_sender_thread, url, build(sandbox, smtp, names), True)
    first, second = await asyncio.gather(one, other)

    delivered = sum(r.delivered for r in first + second)
    assert delivered == 36 and all(r.failed == 0 for r in first + second)
    assert statuses(engine) == {"delivered": 36}
    expected = {service: ["trigger", "resolve"] for service in SERVICES}
    assert pagerduty_log(state) == expected
    assert webhook_log(state) == expected
    assert email_log(smtp, services_by_alert(engine)) == expected
    assert open_incidents(state.received("pagerduty")) == []
    engine.dispose()


# -- a failed head blocks nothing, and a channel never told of an alert is not told it ended ----


async def test_a_trigger_that_failed_for_good_neither_blocks_nor_leaves_a_stray_resolve(
    engine: Engine, sandbox: RunningSandbox, state: SandboxState, smtp: SmtpServer
) -> None:
    channels = build(sandbox, smtp, ["webhook", "pagerduty"])
    # The webhook is gone (410) for the first request: redis's trigger fails for good.
    state.add_fault("webhook", "http_error", status=410, times=1)
    open_alert(engine, "redis", ["webhook"])
    resolve_alert(engine, "redis")
    # stripe: the trigger fails for good too, but an escalation after it still gets through,
    # and the resolve after that is sent, since the channel now knows the alert.
    state.add_fault("pagerduty", "http_error", status=400, times=1)
    open_alert(engine, "stripe", ["pagerduty"])
    escalate(engine, "stripe", ["pagerduty"])
    resolve_alert(engine, "stripe")

    report = await deliver(engine, channels, POLICY)

    assert report == DeliveryReport(delivered=2, failed=2, skipped=1)
    rows = {(r["channel"], r["kind"]): r for r in store.deliveries_of(engine)}
    assert rows[("webhook", "trigger")]["status"] == "failed"
    assert "410" in rows[("webhook", "trigger")]["last_error"]
    assert rows[("webhook", "resolve")]["status"] == "failed"
    assert rows[("webhook", "resolve")]["last_error"] == store.NEVER_OPENED
    assert rows[("webhook", "resolve")]["attempts"] == 0  # never sent
    assert state.received("webhook") == []
    assert rows[("pagerduty", "trigger")]["status"] == "failed"
    assert [rows[("pagerduty", k)]["status"] for k in ("escalate", "resolve")] == ["delivered", "delivered"]
    assert pagerduty_log(state) == {"stripe": ["trigger", "resolve"]}  # an escalation is a trigger event
    assert open_incidents(state.received("pagerduty")) == []


# -- a sender killed mid-batch ---------------------------------------------------------------------

SENDER = """
import asyncio, sys
from healthmon.flows.alerts import deliver
from healthmon.flows.app import build_app
runtime = build_app()
alerting = runtime.alerting
asyncio.run(deliver(runtime.engine, alerting.channels, alerting.policy, lease_s=float(sys.argv[1])))
"""


def write_config(tmp_path: Path, channels: dict[str, Any]) -> Path:
    path = tmp_path / "healthmon.yaml"
    path.write_text(yaml.safe_dump({"channels": channels}))
    return path


def test_a_killed_sender_is_followed_by_resends_of_only_the_sends_in_flight(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    sandbox: RunningSandbox,
    state: SandboxState,
    smtp: SmtpServer,
) -> None:
    names = ["pagerduty", "email", "webhook"]
    services = SERVICES[:4]
    for service in services:
        open_alert(engine, service, names)
    # The webhook is slow: it takes the request and never answers.
    state.add_fault("webhook", "hang")
    config = write_config(tmp_path, channel_config(sandbox, smtp, names))
    env = {**os.environ, "HEALTHMON_DATABASE_URL": db_url, "HEALTHMON_CONFIG": str(config)}
    log = (tmp_path / "sender.log").open("wb")
    sender = subprocess.Popen([sys.executable, "-c", SENDER, "3"], cwd=ROOT, env=env, stderr=log)
    try:
        # Killed once the fast channels' sends have finished and the webhook's are in flight.
        wait_until(
            lambda: statuses(engine).get("delivered") == 8 and state.requests_for("webhook") == 4,
            60,
            "8 sends delivered and 4 webhook sends in flight",
        )
        sender.send_signal(signal.SIGKILL)
        assert sender.wait(30) == -signal.SIGKILL
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait(30)
        log.close()
    rows = store.deliveries_of(engine)
    assert {(r["channel"], r["status"]) for r in rows} == {
        ("pagerduty", "delivered"),
        ("email", "delivered"),
        ("webhook", "pending"),
    }
    assert store.count_pending(engine, datetime.now(UTC)).pending == 4

    # After the dead sender's lease, a second sender re-sends exactly the 4 rows in flight.
    wait_until(
        lambda: store.count_pending(engine, datetime.now(UTC)).leased == 0, 30, "the dead sender's lease"
    )
    state.clear_faults()
    report = asyncio.run(deliver(engine, build(sandbox, smtp, names), POLICY))

    assert report == DeliveryReport(delivered=4)
    assert len(state.received("pagerduty")) == 4
    assert len(smtp.inbox.envelopes) == 4
    assert len(state.received("webhook")) == 4
    attempts = {(r["channel"], r["attempts"]) for r in store.deliveries_of(engine)}
    assert attempts == {("pagerduty", 1), ("email", 1), ("webhook", 2)}
    assert statuses(engine) == {"delivered": 12}


# -- `healthmon alerts deliver` exit codes ---------------------------------------------------------


AlertsDeliver = Callable[[list[str]], subprocess.CompletedProcess[str]]


@pytest.fixture
def alerts_deliver(db_url: str, tmp_path: Path, sandbox: RunningSandbox, smtp: SmtpServer) -> AlertsDeliver:
    """`healthmon alerts deliver` on the test's store, its channels `names` on the receivers."""

    def run(names: list[str]) -> subprocess.CompletedProcess[str]:
        config = write_config(tmp_path, channel_config(sandbox, smtp, names))
        # wide enough that the summary line is never wrapped
        env = {"HEALTHMON_DATABASE_URL": db_url, "HEALTHMON_CONFIG": str(config), "COLUMNS": "250"}
        return healthmon("alerts", "deliver", env=env, timeout=120, cwd=ROOT)

    return run


@pytest.mark.parametrize(
    ("webhook_status", "code", "summary", "webhook_got", "after"),
    [
        pytest.param(
            None,
            0,
            "delivered 4, retrying 0, failed 0; nothing pending",
            {"redis": ["trigger", "resolve"]},
            {"delivered": 4},
            id="exits_0_when_everything_was_delivered",
        ),
        pytest.param(
            410,  # the webhook was removed
            1,
            "delivered 2, retrying 0, failed 1 (and 1 acknowledge/resolve not sent: their trigger failed); "
            "nothing pending",
            {},
            {"delivered": 2, "failed": 2},
            id="exits_1_when_a_row_failed_for_good",
        ),
    ],
)
def test_alerts_deliver_after_a_trigger_and_its_resolve(
    engine: Engine,
    state: SandboxState,
    alerts_deliver: AlertsDeliver,
    webhook_status: int | None,
    code: int,
    summary: str,
    webhook_got: dict[str, list[str]],
    after: dict[str, int],
) -> None:
    names = ["pagerduty", "webhook"]
    open_alert(engine, "redis", names)
    resolve_alert(engine, "redis")
    if webhook_status is not None:
        state.add_fault("webhook", "http_error", status=webhook_status)

    done = alerts_deliver(names)

    assert done.returncode == code, done.stderr
    assert summary in done.stderr
    assert pagerduty_log(state) == {"redis": ["trigger", "resolve"]}
    assert webhook_log(state) == webhook_got
    assert statuses(engine) == after


def test_alerts_deliver_exits_1_while_another_sender_holds_rows(
    engine: Engine, state: SandboxState, alerts_deliver: AlertsDeliver
) -> None:
    names = ["pagerduty", "webhook"]
    open_alert(engine, "redis", names)
    open_alert(engine, "stripe", names)
    # Another sender took all four rows and is still sending them.
    held = store.claim(engine, datetime.now(UTC), 600)
    assert len(held) == 4
    (lease_end,) = {r["claimed_until"] for r in store.deliveries_of(engine)}

    done = alerts_deliver(names)

    assert done.returncode == 1, done.stderr
    assert (
        f"delivered 0, retrying 0, failed 0; 4 still pending "
        f"(4 leased by another sender until {lease_end:%H:%M:%S} UTC)" in done.stderr
    )
    assert state.received("pagerduty") == [] and state.received("webhook") == []
