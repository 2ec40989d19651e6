"""What a tier run shows operators in the Prefect UI, on a real Prefect API (the test harness):
the summary and not-healthy artifacts, the alert events (from the run and from people), their
log lines, an automation on them; and an acknowledge without Prefect that emits nothing."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pytest
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import Artifact
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter
from prefect.events.schemas.events import ReceivedEvent
from prefect.types._datetime import now as prefect_now

from healthmon.flows.app import App
from healthmon.flows.tenant_input import read_tenants_file
from healthmon.sandbox import RunningSandbox, SandboxState, start_in_thread, write_bed
from healthmon.sandbox.bed import config_for
from healthmon.storage import alerts as store
from healthmon.storage.tenants import upsert_tenants
from tests.support.app import AppFactory

DASHBOARD = "https://healthmon.example"
PG_PASSWORD = "pg-Secret-0xFACADE"
T = TypeVar("T")


@pytest.fixture(scope="module")
def vendors() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(3)) as sandbox:
        yield sandbox


async def until(probe: Callable[[], Awaitable[T | None]], what: str, timeout_s: float = 30) -> T:
    """`probe`'s first truthy value; events and logs reach the API in batches, after the call."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout_s:g} s waiting for {what}"
        await asyncio.sleep(0.2)


async def run_artifacts(client: PrefectClient, flow_run_id: UUID) -> dict[str, Artifact]:
    found = await client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {str(a.key): a for a in found}


async def alert_events(client: PrefectClient, since: Any, count: int) -> list[ReceivedEvent]:
    async def probe() -> list[ReceivedEvent] | None:
        page = await client.read_events(
            filter=EventFilter(
                occurred=EventOccurredFilter(since=since),
                event=EventNameFilter(prefix=["healthmon.alert."]),
            ),
            limit=50,
        )
        return page.events if len(page.events) >= count else None

    return await until(probe, f"{count} healthmon.alert events")


def shop_app(make_app: AppFactory, db: str, vendors: RunningSandbox, tmp_path: Path) -> tuple[App, str]:
    """Shopify of three tenants, tenant-0001 named "Acme Shop"; alerts open and resolve on the
    first run that sees the change. Returns the app and every tenant secret, joined."""
    services = config_for(vendors.base_url, vendors.state)["services"]
    config = {
        "services": {"shopify": services["shopify"]},
        "run": {"confirm_retries": 0},
        "alerting": {"open_after": 1, "resolve_after": 1},
        "dashboard_url": DASHBOARD,
    }
    app = make_app(db, config)
    assert app.cipher is not None
    _, tenants_path = write_bed(tmp_path, vendors.base_url, vendors.state)
    rows = read_tenants_file(tenants_path, env={})
    named = [(i, "Acme Shop" if i == "tenant-0001" else i, on, integ) for i, _name, on, integ in rows]
    upsert_tenants(app.engine, app.cipher, named)
    secrets = [str(v) for _i, _n, _on, integ in rows for i in integ.values() for v in i.secret.values()]
    assert secrets
    return app, "\n".join(secrets)


async def test_a_run_that_opens_alerts_shows_them_in_artifacts_events_and_logs(
    prefect_harness: None,
    sqlite_url: str,
    vendors: RunningSandbox,
    make_app: AppFactory,
    tmp_path: Path,
) -> None:
    from healthmon.flows import alerts as flow_alerts
    from healthmon.flows.tier_run import tier_check

    vendors.state.reset()
    app, secrets = shop_app(make_app, sqlite_url, vendors, tmp_path)
    since = prefect_now("UTC")
    for tenant in ("tenant-0001", "tenant-0002"):
        vendors.state.add_fault("shopify", "revoked", tenant=tenant)
    try:
        opened = await tier_check("core", ["shopify"], force=True, trigger="manual", return_state=True)
    finally:
        vendors.state.reset()
    assert opened.is_completed() and opened.message is not None and "2 alerts opened" in opened.message
    alerts = {a["tenant_id"]: a["id"] for a in store.list_alerts(app.engine, ["open"])}
    acme, other = alerts["tenant-0001"], alerts["tenant-0002"]

    # by hand, as the CLI, the API and the dashboard do
    flow_alerts.acknowledge(app, acme, "alice", "looking into it")
    flow_alerts.resolve(app, other, "bob", "token rotated")
    recovered = await tier_check("core", ["shopify"], force=True, trigger="manual", return_state=True)
    assert recovered.is_completed() and recovered.message is not None and "1 resolved" in recovered.message

    async with get_client() as client:
        flow_run_id = opened.state_details.flow_run_id
        assert flow_run_id is not None
        artifacts = await run_artifacts(client, flow_run_id)
        assert set(artifacts) == {"tier-core-summary", "tier-core-not-healthy"}
        summary = str(artifacts["tier-core-summary"].data)
        table = artifacts["tier-core-not-healthy"].data
        latest = await client.read_latest_artifacts()
        events = await alert_events(client, since, 5)

        async def opened_logged() -> list[str] | None:
            logs = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
            lines = [log.message for log in logs if " opened: " in log.message]
            return lines if len(lines) == 2 else None

        log_lines = await until(opened_logged, "the run's alert lines")

    # the summary: counts, the alerts opened with the tenant's name and links, the changes
    assert "| checked | skipped | not healthy |" in summary
    assert "## Alerts opened (2)" in summary
    assert "No status changed in this run." in summary  # a target's first check is no change
    assert f"[#{acme}]({DASHBOARD}/alerts?alert={acme})" in summary
    assert f"[shopify]({DASHBOARD}/service?service=shopify&tenant=tenant-0001)" in summary
    assert "Acme Shop (tenant-0001)" in summary and "| P2 |" in summary
    # the table: named columns, short readable cells, the tenant by name
    assert isinstance(table, str)
    rows = json.loads(table)
    assert {tuple(r) for r in rows} == {
        ("service", "tenant", "status", "latency", "reason", "since", "checked", "stale")
    }
    acme_row = next(r for r in rows if r["tenant"] == "Acme Shop (tenant-0001)")
    assert re.fullmatch(r"\d\d:\d\d:\d\dZ", acme_row["since"]) and re.fullmatch(
        r"[\d.]+ ms", acme_row["latency"]
    )
    assert acme_row["status"] == "unhealthy" and 0 < len(acme_row["reason"]) <= 100
    # the Artifacts page keeps the latest per key: the recovering run's summary
    keyed = {a.key: a for a in latest if a.key in ("tier-core-summary", "tier-core-not-healthy")}
    assert keyed["tier-core-summary"].flow_run_id == recovered.state_details.flow_run_id
    recovered_summary = str(keyed["tier-core-summary"].data)
    assert "## Alerts resolved (1)" in recovered_summary and "## Status changes (2)" in recovered_summary
    assert "| Acme Shop (tenant-0001) | unhealthy | healthy |" in recovered_summary
    assert f"alert #{acme} opened: p2 shopify · Acme Shop (tenant-0001) · health: " in "\n".join(log_lines)

    # the events: opened by the run, acknowledged and resolved by people, resolved by recovery
    seen = sorted(
        (e.event, e.resource.id, e.payload["who"])
        for e in events
        if e.resource.id.startswith("healthmon.alert.")
    )
    assert seen == sorted(
        [
            ("healthmon.alert.opened", f"healthmon.alert.{acme}", "healthmon"),
            ("healthmon.alert.opened", f"healthmon.alert.{other}", "healthmon"),
            ("healthmon.alert.acknowledged", f"healthmon.alert.{acme}", "alice"),
            ("healthmon.alert.resolved", f"healthmon.alert.{other}", "bob"),
            ("healthmon.alert.resolved", f"healthmon.alert.{acme}", "recovery"),
        ]
    )
    ack = next(e for e in events if e.event == "healthmon.alert.acknowledged")
    assert ack.payload["note"] == "looking into it" and ack.payload["group"] == "shopify|health"
    assert ack.payload["severity"] == "p2" and ack.resource["healthmon.severity"] == "p2"
    related = {r.role: (r.id, r.name) for r in ack.related}
    assert related["service"] == ("healthmon.service.shopify", "shopify")
    assert related["tenant"] == ("healthmon.tenant.tenant-0001", "Acme Shop (tenant-0001)")
    from_run = next(e for e in events if e.event == "healthmon.alert.opened")
    assert "flow-run" in {r.role for r in from_run.related}  # Prefect ties it to the run
    everything = " ".join([summary, table, repr([e.model_dump(mode="json") for e in events]), *log_lines])
    for secret in secrets.splitlines():
        assert secret not in everything


async def test_without_dashboard_url_the_summary_has_no_links_and_no_secret(
    prefect_harness: None, sqlite_url: str, make_app: AppFactory
) -> None:
    from healthmon.flows.tier_run import tier_check

    dsn = f"postgresql://monitor:{PG_PASSWORD}@127.0.0.1:1/postgres"
    app = make_app(
        sqlite_url,
        {
            "services": {"postgres": {"dsn": dsn}},
            "run": {"confirm_retries": 0},
            "alerting": {"open_after": 1},
        },
    )
    assert app.alerting.dashboard_url is None
    state = await tier_check("critical", ["postgres"], force=True, trigger="manual", return_state=True)
    assert state.is_completed() and state.state_details.flow_run_id is not None
    async with get_client() as client:
        artifacts = await run_artifacts(client, state.state_details.flow_run_id)
    summary = str(artifacts["tier-critical-summary"].data)
    assert "## Alerts opened (1)" in summary and "| P1 | postgres | platform |" in summary
    assert "](" not in summary and "http" not in summary
    table = str(artifacts["tier-critical-not-healthy"].data)
    assert PG_PASSWORD not in summary + table and '"tenant": "platform"' in table


async def test_the_documented_automation_is_accepted_and_fires_on_an_opened_alert(
    prefect_harness: None, sqlite_url: str, make_app: AppFactory
) -> None:
    """The example of docs/operations.md ("Prefect events"), created on the API and read back;
    an alert opened by a run then triggers it (the harness runs Prefect's triggers service)."""
    from prefect.events.actions import DoNothing
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    from healthmon.flows.tier_run import tier_check

    automation = AutomationCore(
        name="healthmon p1 alert opened",
        trigger=EventTrigger(
            expect={"healthmon.alert.opened"},
            match={"healthmon.severity": "p1"},
            match_related={"prefect.resource.role": "service", "prefect.resource.id": "healthmon.service.*"},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[DoNothing()],
    )
    async with get_client() as client:
        automation_id = await client.create_automation(automation)
        read = await client.read_automation(automation_id)
        assert read is not None and read.trigger == automation.trigger and read.enabled
        since: Any = prefect_now("UTC")  # the filter types it as Prefect's DateTime
        app = make_app(
            sqlite_url,
            {
                "services": {"postgres": {"dsn": "postgresql://monitor@127.0.0.1:1/postgres"}},
                "run": {"confirm_retries": 0},
                "alerting": {"open_after": 1},
            },
        )
        state = await tier_check("critical", ["postgres"], force=True, trigger="manual", return_state=True)
        assert state.is_completed() and store.list_alerts(app.engine, ["open"])

        async def fired() -> list[ReceivedEvent] | None:
            page = await client.read_events(
                filter=EventFilter(
                    occurred=EventOccurredFilter(since=since),
                    event=EventNameFilter(name=["prefect.automation.triggered"]),
                ),
                limit=10,
            )
            mine = [e for e in page.events if e.resource.id == f"prefect.automation.{automation_id}"]
            return mine or None

        try:
            await until(fired, "the automation to fire", timeout_s=30)
        finally:
            await client.delete_automation(automation_id)


def test_acknowledge_without_a_prefect_api_works_and_never_touches_prefect(
    sqlite_url: str, make_app: AppFactory, tmp_path: Path
) -> None:
    """As `healthmon alerts ack` runs where no Prefect API is configured: Prefect is not even
    imported (emit_event alone would start a throwaway server, ~20 s)."""
    from datetime import UTC, datetime

    from healthmon.alerting.lifecycle import AlertChange, Decision
    from healthmon.alerting.notification import Severity
    from healthmon.flows import alerts as flow_alerts

    app = make_app(sqlite_url)
    decision = Decision(
        changes=[AlertChange("redis|-|health", "redis", None, "health", Severity.P1, "redis down", {})]
    )
    flow_alerts.apply_decision(app.engine, decision, lambda *_: [], datetime.now(UTC))
    (alert,) = store.list_alerts(app.engine, ["open"])
    script = (
        "import sys\n"
        "from healthmon.config import Settings\n"
        "from healthmon.config.loader import parse_config\n"
        "from healthmon.flows import alerts\n"
        "from healthmon.flows.app import build_app\n"
        f"app = build_app(Settings(database_url={sqlite_url!r}), parse_config({{}}, env={{}}))\n"
        f"alerts.acknowledge(app, {alert['id']}, 'carol')\n"
        "print('prefect' in sys.modules, alerts.events_wanted())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")  # no profile that names an API
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
    assert store.get_alert(app.engine, alert["id"])["acknowledged_by"] == "carol"  # type: ignore[index]


async def test_a_stale_tier_the_watchdog_alerts_on_is_a_prefect_event_too(
    prefect_harness: None, sqlite_url: str, make_app: AppFactory
) -> None:
    """The watchdog (outside any run) emits the same `healthmon.alert.*` events as a tier run,
    so one automation covers a blind tier as well as a failing vendor."""
    from datetime import UTC, datetime, timedelta

    from healthmon.flows.watchdog import WATCHDOG_ACTOR, tier_intervals, watch_once
    from tests.flows.test_watchdog import critical_run_at

    app = make_app(sqlite_url, {"services": {"postgres": {"dsn": "postgresql://127.0.0.1:1/postgres"}}})
    now = datetime.now(UTC)
    since = prefect_now("UTC")
    critical_run_at(app, now - timedelta(minutes=3))  # 3 intervals ago; the limit is 2
    report = await watch_once(app, tier_intervals(), now=now)
    assert [t.kind for t in report.transitions] == ["opened"]
    async with get_client() as client:
        (event,) = await alert_events(client, since, 1)
    assert event.event == "healthmon.alert.opened"
    assert event.resource["healthmon.service"] == "healthmon" and event.resource["healthmon.severity"] == "p1"
    assert event.payload["condition"] == "stale:critical" and event.payload["who"] == WATCHDOG_ACTOR
    healthmon_related = [r.id for r in event.related if r.id.startswith("healthmon.")]
    assert healthmon_related == ["healthmon.service.healthmon"]  # a platform alert: no tenant
