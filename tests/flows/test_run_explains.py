"""Every run explains itself in the Prefect UI (issue 14, point 2), on a real Prefect API (the
session harness): a tier run's state message, its log lines (the summary and each status
change, never a secret), readable names, and what a deliver run sent, retried and gave up."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from prefect.client.orchestration import get_client

from tests.support.app import AppFactory
from tests.support.prefect_logs import log_lines

PG_PASSWORD = "pg-Secret-0xFACADE"


async def test_a_tier_run_with_a_fault_logs_its_summary_and_each_change_without_a_secret(
    prefect_harness: None, sqlite_url: str, pg_server_url: str, redis_url: str, make_app: AppFactory
) -> None:
    from healthmon.flows.tier_run import tier_check

    redis = {"url": redis_url}
    make_app(sqlite_url, {"services": {"postgres": {"dsn": pg_server_url}, "redis": redis}})
    first = await tier_check("critical", force=True, trigger="manual", return_state=True)
    assert first.is_completed()
    # postgres goes away (its DSN carries a password that must show nowhere)
    dead = f"postgresql://monitor:{PG_PASSWORD}@127.0.0.1:1/postgres"
    make_app(sqlite_url, {"services": {"postgres": {"dsn": dead}, "redis": redis}})
    state = await tier_check("critical", force=True, trigger="manual", return_state=True)

    assert state.is_completed()
    assert state.message is not None and "\n" not in state.message
    assert state.message.startswith("checked 2 · skipped 0 · 1 not healthy · ")
    assert state.state_details.flow_run_id is not None
    async with get_client() as client:
        run = await client.read_flow_run(state.state_details.flow_run_id)
        lines = await log_lines(client, run.id, "postgres (platform): healthy -> unhealthy")
    assert f"critical: {state.message}" in lines
    (change,) = [line for line in lines if line.startswith("postgres (platform): ")]
    assert re.fullmatch(r"postgres \(platform\): healthy -> unhealthy: .*refused.*", change), change
    assert not any(line.startswith("redis ") for line in lines)  # unchanged: no line
    assert all(PG_PASSWORD not in line for line in [*lines, state.message, run.name])
    # started by hand, so named after its start
    assert re.fullmatch(r"critical \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?Z \(by hand\)", run.name), run.name


def test_change_lines_name_tenants_and_stop_after_the_cap() -> None:
    from healthmon.flows.report import StatusChange
    from healthmon.flows.tier_run import change_lines

    changes = [
        StatusChange("shopify", f"t-{i:04d}", "healthy", "unhealthy", "HTTP 503\nbusy") for i in range(60)
    ]
    changes.insert(0, StatusChange("shopify", "t-0042", "degraded", "healthy", None))
    lines = change_lines(changes, {"t-0042": "Acme"}, most=50)
    assert lines[0] == "shopify Acme (t-0042): degraded -> healthy"
    assert lines[1] == "shopify t-0000: healthy -> unhealthy: HTTP 503 busy"
    assert len(lines) == 51 and lines[-1] == "... and 11 more changes"


async def test_a_deliver_run_logs_per_channel_what_it_sent_retried_and_gave_up(
    prefect_harness: None, sqlite_url: str, make_app: AppFactory
) -> None:
    from healthmon.alerting.lifecycle import AlertChange, Decision
    from healthmon.alerting.notification import Kind, Severity
    from healthmon.flows import alerts as flow_alerts
    from healthmon.flows.tier_run import deliver_notifications
    from healthmon.storage import alerts as store

    # the webhook refuses connections (retried); slack is routed to but not configured (given up)
    runtime = make_app(sqlite_url, {"channels": {"webhook": {"url": "http://127.0.0.1:1/hook"}}})
    decision = Decision(
        changes=[AlertChange("redis|-|health", "redis", None, "health", Severity.P1, "redis down", {})],
        notify=[("redis|-|health", Kind.TRIGGER)],
    )
    flow_alerts.apply_decision(runtime.engine, decision, lambda *_: ["webhook", "slack"], datetime.now(UTC))
    rows = {r["channel"]: r for r in store.deliveries_of(runtime.engine)}
    state = await deliver_notifications(ignore_backoff=True, return_state=True)

    assert state.is_completed() and state.message == "0 sent · 1 retrying · 1 gave up"
    assert await state.result() == {"delivered": 0, "retrying": 1, "failed": 1}
    assert state.state_details.flow_run_id is not None
    async with get_client() as client:
        run = await client.read_flow_run(state.state_details.flow_run_id)
        lines = await log_lines(client, run.id, "gave up on notification")
    assert "deliver: 0 sent · 1 retrying · 1 gave up" in lines
    assert "webhook: 0 sent · 1 retrying · 0 gave up" in lines
    assert "slack: 0 sent · 0 retrying · 1 gave up" in lines
    slack = rows["slack"]
    assert (
        f"gave up on notification {slack['id']} (alert #{slack['alert_id']}, slack, trigger) "
        "after 1 attempts: channel slack is not configured"
    ) in lines
    assert re.fullmatch(r"deliver \d\d:\d\d(:\d\d)?Z \(by hand\)", run.name), run.name
