"""The tier-check flow on a real Prefect API (the test harness): tasks, artifact, secrets."""

from __future__ import annotations

import logging
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

from tests.conftest import RuntimeFactory
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
    make_runtime: RuntimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from flows.tier_run import tier_check

    # postgres with a password in its DSN that fails (trust auth ignores it, so use a dead port);
    # redis with a real password that works
    config = {
        "services": {
            "postgres": {"dsn": f"postgresql://monitor:{PG_PASSWORD}@127.0.0.1:1/postgres"},
            "redis": {"url": secret_redis.url},
        }
    }
    runtime = make_runtime(sqlite_url, config)
    caplog.set_level(logging.DEBUG)
    state = await tier_check("critical", force=True, trigger="manual", return_state=True)
    assert state.is_completed()
    summary: dict[str, Any] = await state.result()  # type: ignore[misc]
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
    prefect_harness: None, sqlite_url: str, make_runtime: RuntimeFactory
) -> None:
    from datetime import UTC, datetime

    from alerting.lifecycle import AlertChange, Decision
    from alerting.notification import Kind, Severity
    from flows.tier_run import deliver_notifications
    from storage import alerts as store

    # a notification queued for a webhook that refuses connections: retried, never lost
    runtime = make_runtime(sqlite_url, {"channels": {"webhook": {"url": "http://127.0.0.1:1/hook"}}})
    decision = Decision(
        changes=[AlertChange("redis|-|health", "redis", None, "health", Severity.P1, "redis down", {})],
        notify=[("redis|-|health", Kind.TRIGGER)],
    )
    store.apply_decision(runtime.engine, decision, lambda *_: ["webhook"], datetime.now(UTC))
    result = await deliver_notifications(ignore_backoff=True)
    assert result == {"delivered": 0, "retrying": 1, "failed": 0}
    (row,) = store.deliveries_of(runtime.engine)
    assert row["status"] == "pending" and row["attempts"] == 1 and row["next_attempt_at"] is not None
