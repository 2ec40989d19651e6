"""Breach -> alert -> notifications on real local receivers: the sandbox's Slack webhook,
PagerDuty and webhook receivers, and an SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller

from healthmon.flows.alerts import acknowledge, change_alert, deliver_pending, resolve
from healthmon.flows.pipeline import execute_tier
from healthmon.flows.tenant_input import read_tenants_file
from healthmon.sandbox import SandboxState, start_in_thread, write_bed
from healthmon.sandbox.server import RunningSandbox
from healthmon.storage import alerts as store
from healthmon.storage.tenants import upsert_tenants
from tests.support.app import AppFactory
from tests.support.servers import free_port


@dataclass
class Inbox:
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="module")
def receivers() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(60)) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def _reset(receivers: RunningSandbox) -> Iterator[None]:
    receivers.state.reset()
    yield
    receivers.state.reset()


def channels(sandbox: RunningSandbox, smtp_port: int) -> dict[str, Any]:
    root = sandbox.base_url
    return {
        "slack": {"webhook_url": f"{root}/slack/services/T000/B000/XXXX"},
        "email": {
            "host": "127.0.0.1",
            "port": smtp_port,
            "starttls": False,
            "from": "healthmon@test",
            "to": ["oncall@test"],
        },
        "pagerduty": {
            "routing_key": sandbox.state.platform.pagerduty_routing_key,
            "events_url": f"{root}/pagerduty/v2/enqueue",
        },
        "webhook": {"url": f"{root}/webhook/healthmon"},
    }


def config(pg: str, redis_url: str, sandbox: RunningSandbox, smtp_port: int) -> dict[str, Any]:
    return {
        "services": {"postgres": {"dsn": pg}, "redis": {"url": redis_url}},
        "channels": channels(sandbox, smtp_port),
        "run": {"confirm_retries": 0},
    }


def counts(sandbox: RunningSandbox, inbox: Inbox) -> dict[str, int]:
    return {
        "slack": len(sandbox.state.received("slack")),
        "email": len(inbox.messages),
        "pagerduty": len(sandbox.state.received("pagerduty")),
        "webhook": len(sandbox.state.received("webhook")),
    }


DOWN = "postgresql://postgres@127.0.0.1:1/postgres"


async def test_breach_on_three_runs_pages_once_then_ack_and_recovery(
    sqlite_url: str,
    pg_server_url: str,
    redis_url: str,
    receivers: RunningSandbox,
    smtp: tuple[Inbox, int],
    make_app: AppFactory,
) -> None:
    inbox, port = smtp
    runtime = make_app(sqlite_url, config(DOWN, redis_url, receivers, port))
    for _ in range(3):
        await execute_tier("critical", force=True)
    assert counts(receivers, inbox) == {"slack": 1, "email": 1, "pagerduty": 1, "webhook": 1}
    (live,) = store.list_alerts(runtime.engine, ["open"])
    assert (live["severity"], live["count"], live["service"]) == ("p1", 2, "postgres")
    (trigger,) = receivers.state.received("pagerduty")
    assert (
        trigger["body"]["event_action"] == "trigger" and trigger["body"]["dedup_key"] == "postgres|-|health"
    )

    await change_alert(live["id"], "alice", acknowledge)
    pd = receivers.state.received("pagerduty")
    assert [e["body"]["event_action"] for e in pd] == ["trigger", "acknowledge"]
    (acked,) = store.list_alerts(runtime.engine, ["acknowledged"])
    assert acked["acknowledged_by"] == "alice" and acked["acknowledged_at"] is not None

    make_app(sqlite_url, config(pg_server_url, redis_url, receivers, port))
    for _ in range(3):
        await execute_tier("critical", force=True)
    (resolved,) = store.list_alerts(runtime.engine, ["resolved"])
    assert resolved["resolved_by"] == "recovery"
    assert [e["body"]["event_action"] for e in receivers.state.received("pagerduty")] == [
        "trigger",
        "acknowledge",
        "resolve",
    ]
    # per channel: the trigger, the acknowledgement, and exactly one resolved notice
    assert counts(receivers, inbox) == {"slack": 3, "email": 3, "pagerduty": 3, "webhook": 3}
    kinds = sorted((d["channel"], d["kind"]) for d in store.deliveries_of(runtime.engine))
    assert kinds == sorted(
        (c, k)
        for c in ("email", "pagerduty", "slack", "webhook")
        for k in ("trigger", "acknowledge", "resolve")
    )
    assert all(d["status"] == "delivered" for d in store.deliveries_of(runtime.engine))


async def test_a_slack_outage_delays_delivery_and_loses_nothing(
    sqlite_url: str,
    redis_url: str,
    receivers: RunningSandbox,
    smtp: tuple[Inbox, int],
    make_app: AppFactory,
) -> None:
    inbox, port = smtp
    runtime = make_app(sqlite_url, config(DOWN, redis_url, receivers, port))
    receivers.state.add_fault("slack_webhook", "http_error", status=503)
    for _ in range(4):  # opens on run 2; Slack is down for runs 2, 3 and 4
        await execute_tier("critical", force=True)
        await deliver_pending(ignore_backoff=True)
    assert counts(receivers, inbox) == {"slack": 0, "email": 1, "pagerduty": 1, "webhook": 1}
    (pending,) = [d for d in store.deliveries_of(runtime.engine) if d["channel"] == "slack"]
    assert pending["status"] == "pending" and pending["attempts"] == 4 and "503" in pending["last_error"]

    receivers.state.clear_faults("slack_webhook")
    report = await deliver_pending(ignore_backoff=True)
    assert report.delivered == 1
    assert (await deliver_pending(ignore_backoff=True)).delivered == 0
    assert counts(receivers, inbox) == {"slack": 1, "email": 1, "pagerduty": 1, "webhook": 1}


async def test_escalation_notifies_at_once(
    sqlite_url: str,
    redis_url: str,
    pg_server_url: str,
    receivers: RunningSandbox,
    smtp: tuple[Inbox, int],
    make_app: AppFactory,
) -> None:
    inbox, port = smtp
    slow = config(pg_server_url, redis_url, receivers, port)
    slow["services"]["postgres"]["thresholds"] = {"connections_used_pct": {"degraded": 0.0001}}
    runtime = make_app(sqlite_url, slow)
    for _ in range(2):
        await execute_tier("critical", force=True)
    (degraded,) = store.list_alerts(runtime.engine, ["open"])
    assert degraded["severity"] == "p3"
    assert (
        counts(receivers, inbox)["slack"] == 1 and counts(receivers, inbox)["pagerduty"] == 0
    )  # p3: slack only
    make_app(sqlite_url, config(DOWN, redis_url, receivers, port))
    await execute_tier("critical", force=True)
    (escalated,) = store.list_alerts(runtime.engine, ["open"])
    assert escalated["id"] == degraded["id"] and escalated["severity"] == "p1"
    assert counts(receivers, inbox) == {"slack": 2, "email": 1, "pagerduty": 1, "webhook": 1}
    kinds = [d["kind"] for d in store.deliveries_of(runtime.engine)]
    assert kinds.count("escalate") == 4


async def test_silence_holds_then_releases(
    sqlite_url: str,
    redis_url: str,
    receivers: RunningSandbox,
    smtp: tuple[Inbox, int],
    make_app: AppFactory,
) -> None:
    inbox, port = smtp
    runtime = make_app(sqlite_url, config(DOWN, redis_url, receivers, port))
    now = datetime.now(UTC)
    silence = store.add_silence(
        runtime.engine,
        service="postgres",
        tenant_id=None,
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
        reason="db maintenance",
        created_by="ops",
    )
    for _ in range(3):
        await execute_tier("critical", force=True)
    (held,) = store.list_alerts(runtime.engine, ["open"])
    assert held["held"] == f"silence:{silence}"
    assert counts(receivers, inbox) == {"slack": 0, "email": 0, "pagerduty": 0, "webhook": 0}
    assert store.end_silence(runtime.engine, silence, datetime.now(UTC))
    await execute_tier("critical", force=True)
    assert counts(receivers, inbox) == {"slack": 1, "email": 1, "pagerduty": 1, "webhook": 1}


async def test_fifty_failing_tenants_are_one_alert(
    sqlite_url: str,
    receivers: RunningSandbox,
    smtp: tuple[Inbox, int],
    make_app: AppFactory,
    tmp_path: Path,
) -> None:
    inbox, port = smtp
    config_path, tenants_path = write_bed(tmp_path, receivers.base_url, receivers.state)
    services = yaml.safe_load(config_path.read_text())["services"]
    cfg = {
        "services": {"shopify": services["shopify"]},
        "channels": channels(receivers, port),
        "run": {"confirm_retries": 0},
    }
    runtime = make_app(sqlite_url, cfg)
    assert runtime.cipher is not None
    upsert_tenants(runtime.engine, runtime.cipher, read_tenants_file(tenants_path, env={}))
    for n in range(1, 51):
        receivers.state.add_fault("shopify", "revoked", tenant=f"tenant-{n:04d}")
    for _ in range(3):
        await execute_tier("core", services=["shopify"], force=True)
    live = store.list_alerts(runtime.engine, ["open"])
    assert [a["condition"] for a in live] == ["rollup"]
    assert live[0]["title"] == "shopify failing for 50 of 60 tenants"
    assert len(live[0]["details"]["tenants"]) == 50
    assert counts(receivers, inbox) == {"slack": 1, "email": 1, "pagerduty": 0, "webhook": 0}  # p2 routes


async def test_renotify_after_the_interval(
    sqlite_url: str,
    redis_url: str,
    receivers: RunningSandbox,
    smtp: tuple[Inbox, int],
    make_app: AppFactory,
) -> None:
    from sqlalchemy import text

    inbox, port = smtp
    runtime = make_app(sqlite_url, config(DOWN, redis_url, receivers, port))
    for _ in range(3):
        await execute_tier("critical", force=True)
    assert counts(receivers, inbox)["slack"] == 1
    # the p1 repeat interval (30 min) has passed: move the last notification back in time
    with runtime.engine.begin() as conn:
        conn.execute(
            text("UPDATE platform_alerts SET last_notified_at = :t"),
            {"t": (datetime.now(UTC) - timedelta(minutes=31)).replace(tzinfo=None)},
        )
    await execute_tier("critical", force=True)
    assert counts(receivers, inbox) == {"slack": 2, "email": 2, "pagerduty": 2, "webhook": 2}
    kinds = [d["kind"] for d in store.deliveries_of(runtime.engine)]
    assert kinds.count("renotify") == 4
    await execute_tier("critical", force=True)  # and not again right after
    assert counts(receivers, inbox)["slack"] == 2


async def test_slack_bot_updates_the_original_message_on_ack_and_resolve(
    sqlite_url: str, redis_url: str, receivers: RunningSandbox, make_app: AppFactory
) -> None:
    slack = {
        "bot_token": receivers.state.platform.slack_bot_token,
        "channel": "#oncall",
        "base_url": f"{receivers.base_url}/slack/api/",
    }
    cfg = {
        "services": {"postgres": {"dsn": DOWN}},
        "channels": {"slack": slack},
        "run": {"confirm_retries": 0},
    }
    runtime = make_app(sqlite_url, cfg)
    for _ in range(2):
        await execute_tier("critical", force=True)
    (posted,) = [m["body"] for m in receivers.state.received("slack")]
    assert posted["method"] == "chat.postMessage"
    (live,) = store.list_alerts(runtime.engine, ["open"])
    await change_alert(live["id"], "carol", acknowledge)
    await change_alert(live["id"], "carol", resolve)
    updates = [m["body"] for m in receivers.state.received("slack") if m["body"]["method"] == "chat.update"]
    assert len(updates) == 2 and all(u["ts"] == posted["ts"] for u in updates)
