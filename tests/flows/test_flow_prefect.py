"""The tier-check flow on a real Prefect API (the test harness): tasks, artifact, secrets."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
)
from sqlalchemy import text

from tests.support.app import AppFactory
from tests.support.servers import start_redis

PG_PASSWORD = "pg-Secret-0xC0FFEE"
REDIS_PASSWORD = "redis-Secret-0xBEEF"


@pytest.fixture
def secret_redis() -> Any:
    server = start_redis(password=REDIS_PASSWORD)
    yield server
    server.stop()


async def test_flow_run_shows_tasks_and_an_artifact_and_leaks_no_secret(
    prefect_harness: None,
    sqlite_url: str,
    pg_server_url: str,
    secret_redis: Any,
    make_app: AppFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from healthmon.flows.tier_run import tier_check

    # postgres with a password in its DSN that fails (trust auth ignores it, so use a dead port);
    # redis with a real password that works
    config = {
        "services": {
            "postgres": {"dsn": f"postgresql://monitor:{PG_PASSWORD}@127.0.0.1:1/postgres"},
            "redis": {"url": secret_redis.url},
        }
    }
    runtime = make_app(sqlite_url, config)
    caplog.set_level(logging.DEBUG)
    state = await tier_check("critical", force=True, trigger="manual", return_state=True)
    assert state.is_completed()
    summary: dict[str, Any] = await state.result()
    assert (summary["checked"], summary["not_healthy"]) == (2, 1)

    async with get_client() as client:
        assert state.state_details.flow_run_id is not None
        flow_run = await client.read_flow_run(state.state_details.flow_run_id)
        assert flow_run.name.startswith("critical ")
        task_runs = await client.read_task_runs(
            task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run.id]))
        )
        names = sorted(t.name for t in task_runs)
        assert names == [
            "alert critical",
            "critical/postgres batch 1",
            "critical/redis batch 1",
            "plan critical",
        ]
        artifacts = await client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        )
        table = next(a for a in artifacts if a.type == "table")
        assert table.key == "tier-critical-not-healthy"
        assert "postgres" in str(table.data) and "connection refused" in str(table.data)
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id]))
        )

    with runtime.engine.connect() as conn:
        history = conn.execute(text("SELECT * FROM health_check_history")).all()
        status = conn.execute(text("SELECT * FROM service_status")).all()
    everything = " ".join(
        [
            repr(flow_run.parameters),
            repr([t.task_inputs for t in task_runs]),
            repr([t.name for t in task_runs]),
            repr([a.data for a in artifacts]),
            repr([log.message for log in logs]),
            caplog.text,
            repr(history),
            repr(status),
            repr(summary),
        ]
    )
    assert len(history) == 2
    for secret in (PG_PASSWORD, REDIS_PASSWORD):
        assert secret not in everything


async def test_delivery_flow_runs_on_prefect(
    prefect_harness: None, sqlite_url: str, make_app: AppFactory
) -> None:
    from datetime import UTC, datetime

    from healthmon.alerting.lifecycle import AlertChange, Decision
    from healthmon.alerting.notification import Kind, Severity
    from healthmon.flows import alerts as flow_alerts
    from healthmon.flows.tier_run import deliver_notifications
    from healthmon.storage import alerts as store

    # a notification queued for a webhook that refuses connections: retried, never lost
    runtime = make_app(sqlite_url, {"channels": {"webhook": {"url": "http://127.0.0.1:1/hook"}}})
    decision = Decision(
        changes=[AlertChange("redis|-|health", "redis", None, "health", Severity.P1, "redis down", {})],
        notify=[("redis|-|health", Kind.TRIGGER)],
    )
    flow_alerts.apply_decision(runtime.engine, decision, lambda *_: ["webhook"], datetime.now(UTC))
    result = await deliver_notifications(ignore_backoff=True)
    assert result == {"delivered": 0, "retrying": 1, "failed": 0}
    (row,) = store.deliveries_of(runtime.engine)
    assert row["status"] == "pending" and row["attempts"] == 1 and row["next_attempt_at"] is not None


async def test_a_run_by_hand_checks_everything_and_its_state_says_what_it_did(
    prefect_harness: None, sqlite_url: str, redis_url: str, make_app: AppFactory
) -> None:
    from healthmon.flows.tier_run import tier_check
    from healthmon.storage.tier_runs import last_runs

    dead = "postgresql://monitor@127.0.0.1:1/postgres"
    # redis healthy however loaded the box: its latency is not what this test is about
    patient = {"latency_ms": {"degraded": 10_000, "unhealthy": 20_000}}
    config = {"services": {"postgres": {"dsn": dead}, "redis": {"url": redis_url, "thresholds": patient}}}
    runtime = make_app(sqlite_url, config)
    # called without force or trigger, as Prefect's Run button or `prefect deployment run` does:
    # not made by the scheduler, so a manual run that checks every target, twice in a row
    states = [await tier_check("critical", return_state=True) for _ in range(2)]
    for state in states:
        assert state.is_completed()
        assert state.message is not None
        assert state.message.startswith("checked 2 · skipped 0 · 1 not healthy · ")
        assert state.message.endswith(" alerts opened · 0 resolved · 0 notifications queued")
    runs = last_runs(runtime.engine, "critical")
    assert [(r.trigger, r.checked) for r in runs] == [("manual", 2), ("manual", 2)]

    async with get_client() as client:
        assert states[1].state_details.flow_run_id is not None
        flow_run_id = states[1].state_details.flow_run_id
        by_run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        deadline = time.monotonic() + 30  # logs reach the API in batches, after the run
        while not any(
            log.message.startswith("critical: checked 2 · skipped 0")
            for log in await client.read_logs(log_filter=by_run)
        ):
            assert time.monotonic() < deadline, "the run's summary never reached its logs"
            await asyncio.sleep(0.2)
        artifacts = await client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    (table,) = [a for a in artifacts if a.type == "table"]
    assert table.description is not None
    assert table.description.startswith("**critical**: 1 not healthy or stale. This run: checked 2")
