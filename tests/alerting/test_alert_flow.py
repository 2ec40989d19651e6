"""Breach -> alert -> notifications on real local receivers: the sandbox's Slack webhook,
PagerDuty and webhook receivers, and an SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from healthmon.flows.alerts import acknowledge, deliver_pending, resolve, send_now
from healthmon.flows.app import App
from healthmon.flows.pipeline import run_tier
from healthmon.flows.refs import TierRequest
from healthmon.flows.tenant_input import read_tenants_file
from healthmon.monitors.result import Tier
from healthmon.sandbox import SandboxState, start_in_thread, write_bed
from healthmon.sandbox.server import RunningSandbox
from healthmon.storage import alerts as store
from healthmon.storage.tenants import upsert_tenants
from tests.alerting.conftest import SmtpServer, StartSmtp, channel_config
from tests.support.app import AppFactory
from tests.support.sandbox_state import fresh_state


@pytest.fixture(scope="module")
def receivers() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(60)) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def _reset(receivers: RunningSandbox) -> Iterator[SandboxState]:
    yield from fresh_state(receivers)


@dataclass
class Bed:
    """One test's receivers, SMTP server and store: the config an App is built from, and what
    each channel has received."""

    receivers: RunningSandbox
    smtp: SmtpServer
    sqlite_url: str
    redis_url: str
    make_app: AppFactory

    def config(self, pg: str) -> dict[str, Any]:
        return {
            "services": {"postgres": {"dsn": pg}, "redis": {"url": self.redis_url}},
            "channels": channel_config(self.receivers, self.smtp),
            "run": {"confirm_retries": 0},
        }

    def app(self, config: dict[str, Any]) -> App:
        return self.make_app(self.sqlite_url, config)

    def counts(self) -> dict[str, int]:
        return {
            "slack": len(self.receivers.state.received("slack")),
            "email": len(self.smtp.inbox.envelopes),
            "pagerduty": len(self.receivers.state.received("pagerduty")),
            "webhook": len(self.receivers.state.received("webhook")),
        }


@pytest.fixture
def bed(
    receivers: RunningSandbox, start_smtp: StartSmtp, sqlite_url: str, redis_url: str, make_app: AppFactory
) -> Bed:
    return Bed(receivers, start_smtp(), sqlite_url, redis_url, make_app)


DOWN = "postgresql://postgres@127.0.0.1:1/postgres"


async def test_breach_on_three_runs_pages_once_then_ack_and_recovery(
    pg_server_url: str, receivers: RunningSandbox, bed: Bed
) -> None:
    runtime = bed.app(bed.config(DOWN))
    for _ in range(3):
        await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    assert bed.counts() == {"slack": 1, "email": 1, "pagerduty": 1, "webhook": 1}
    (live,) = store.list_alerts(runtime.engine, ["open"])
    assert (live["severity"], live["count"], live["service"]) == ("p1", 2, "postgres")
    (trigger,) = receivers.state.received("pagerduty")
    assert (
        trigger["body"]["event_action"] == "trigger" and trigger["body"]["dedup_key"] == "postgres|-|health"
    )

    await send_now(runtime, acknowledge(runtime, live["id"], "alice"))
    pd = receivers.state.received("pagerduty")
    assert [e["body"]["event_action"] for e in pd] == ["trigger", "acknowledge"]
    (acked,) = store.list_alerts(runtime.engine, ["acknowledged"])
    assert acked["acknowledged_by"] == "alice" and acked["acknowledged_at"] is not None

    runtime = bed.app(bed.config(pg_server_url))
    for _ in range(3):
        await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    (resolved,) = store.list_alerts(runtime.engine, ["resolved"])
    assert resolved["resolved_by"] == "recovery"
    assert [e["body"]["event_action"] for e in receivers.state.received("pagerduty")] == [
        "trigger",
        "acknowledge",
        "resolve",
    ]
    # per channel: the trigger, the acknowledgement, and exactly one resolved notice
    assert bed.counts() == {"slack": 3, "email": 3, "pagerduty": 3, "webhook": 3}
    kinds = sorted((d["channel"], d["kind"]) for d in store.deliveries_of(runtime.engine))
    assert kinds == sorted(
        (c, k)
        for c in ("email", "pagerduty", "slack", "webhook")
        for k in ("trigger", "acknowledge", "resolve")
    )
    assert all(d["status"] == "delivered" for d in store.deliveries_of(runtime.engine))


async def test_a_slack_outage_delays_delivery_and_loses_nothing(receivers: RunningSandbox, bed: Bed) -> None:
    runtime = bed.app(bed.config(DOWN))
    receivers.state.add_fault("slack_webhook", "http_error", status=503)
    for _ in range(4):  # opens on run 2; Slack is down for runs 2, 3 and 4
        await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
        await deliver_pending(runtime, ignore_backoff=True)
    assert bed.counts() == {"slack": 0, "email": 1, "pagerduty": 1, "webhook": 1}
    (pending,) = [d for d in store.deliveries_of(runtime.engine) if d["channel"] == "slack"]
    assert pending["status"] == "pending" and pending["attempts"] == 4 and "503" in pending["last_error"]

    receivers.state.clear_faults("slack_webhook")
    report = await deliver_pending(runtime, ignore_backoff=True)
    assert report.delivered == 1
    assert (await deliver_pending(runtime, ignore_backoff=True)).delivered == 0
    assert bed.counts() == {"slack": 1, "email": 1, "pagerduty": 1, "webhook": 1}


async def test_escalation_notifies_at_once(pg_server_url: str, bed: Bed) -> None:
    slow = bed.config(pg_server_url)
    slow["services"]["postgres"]["thresholds"] = {"connections_used_pct": {"degraded": 0.0001}}
    runtime = bed.app(slow)
    for _ in range(2):
        await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    (degraded,) = store.list_alerts(runtime.engine, ["open"])
    assert degraded["severity"] == "p3"
    assert (
        bed.counts()["slack"] == 1 and bed.counts()["pagerduty"] == 0
    )  # p3: slack only
    runtime = bed.app(bed.config(DOWN))
    await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    (escalated,) = store.list_alerts(runtime.engine, ["open"])
    assert escalated["id"] == degraded["id"] and escalated["severity"] == "p1"
    assert bed.counts() == {"slack": 2, "email": 1, "pagerduty": 1, "webhook": 1}
    kinds = [d["kind"] for d in store.deliveries_of(runtime.engine)]
    assert kinds.count("escalate") == 4


async def test_silence_holds_then_releases(bed: Bed) -> None:
    runtime = bed.app(bed.config(DOWN))
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
        await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    (held,) = store.list_alerts(runtime.engine, ["open"])
    assert held["held"] == f"silence:{silence}"
    assert bed.counts() == {"slack": 0, "email": 0, "pagerduty": 0, "webhook": 0}
    assert store.end_silence(runtime.engine, silence, datetime.now(UTC))
    await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    assert bed.counts() == {"slack": 1, "email": 1, "pagerduty": 1, "webhook": 1}


async def test_fifty_failing_tenants_are_one_alert(
    receivers: RunningSandbox, tmp_path: Path, bed: Bed
) -> None:
    config_path, tenants_path = write_bed(tmp_path, receivers.base_url, receivers.state)
    services = yaml.safe_load(config_path.read_text())["services"]
    cfg = {
        "services": {"shopify": services["shopify"]},
        "channels": channel_config(receivers, bed.smtp),
        "run": {"confirm_retries": 0},
    }
    runtime = bed.app(cfg)
    assert runtime.cipher is not None
    upsert_tenants(runtime.engine, runtime.cipher, read_tenants_file(tenants_path, env={}))
    for n in range(1, 51):
        receivers.state.add_fault("shopify", "revoked", tenant=f"tenant-{n:04d}")
    for _ in range(3):
        await run_tier(runtime, TierRequest(Tier.CORE, services=("shopify",), force=True))
    live = store.list_alerts(runtime.engine, ["open"])
    assert [a["condition"] for a in live] == ["rollup"]
    assert live[0]["title"] == "shopify failing for 50 of 60 tenants"
    assert len(live[0]["details"]["tenants"]) == 50
    assert bed.counts() == {"slack": 1, "email": 1, "pagerduty": 0, "webhook": 0}  # p2 routes


async def test_renotify_after_the_interval(bed: Bed) -> None:
    from sqlalchemy import text

    runtime = bed.app(bed.config(DOWN))
    for _ in range(3):
        await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    assert bed.counts()["slack"] == 1
    # the p1 repeat interval (30 min) has passed: move the last notification back in time
    with runtime.engine.begin() as conn:
        conn.execute(
            text("UPDATE platform_alerts SET last_notified_at = :t"),
            {"t": (datetime.now(UTC) - timedelta(minutes=31)).replace(tzinfo=None)},
        )
    await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    assert bed.counts() == {"slack": 2, "email": 2, "pagerduty": 2, "webhook": 2}
    kinds = [d["kind"] for d in store.deliveries_of(runtime.engine)]
    assert kinds.count("renotify") == 4
    await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))  # and not again right after
    assert bed.counts()["slack"] == 2


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
        await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
    (posted,) = [m["body"] for m in receivers.state.received("slack")]
    assert posted["method"] == "chat.postMessage"
    (live,) = store.list_alerts(runtime.engine, ["open"])
    await send_now(runtime, acknowledge(runtime, live["id"], "carol"))
    await send_now(runtime, resolve(runtime, live["id"], "carol"))
    updates = [m["body"] for m in receivers.state.received("slack") if m["body"]["method"] == "chat.update"]
    assert len(updates) == 2 and all(u["ts"] == posted["ts"] for u in updates)
