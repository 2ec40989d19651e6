"""One core tier spread over 2 Dask worker processes (flows/dispatch.py): every target checked
and recorded exactly once, what the 1-process run finds, no credential in what is submitted, a
dead worker's batch recorded as lost, and the run's deadline bounding the workers' checks.

One sandbox, one database and one local cluster serve the whole module: a cluster costs a few
CPU-seconds to start. Its workers build their own App from the HEALTHMON_* environment set
here before it starts, as a flow run's workers inherit it from the flow run's process."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import psycopg
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.engine import make_url

from healthmon.config.loader import parse_config
from healthmon.flows.app import App
from healthmon.flows.refs import BatchRef, RunRef
from healthmon.flows.tenant_input import read_tenants_file
from healthmon.monitors.result import Status, Tier
from healthmon.sandbox import SandboxState, start_in_thread, write_bed
from healthmon.sandbox.server import RunningSandbox
from healthmon.storage.tenants import upsert_tenants
from tests.support.app import SECRET_KEY, AppFactory
from tests.support.waiting import wait_until

TENANTS = 40
BATCH = 10


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(TENANTS)) as running:
        yield running


@pytest.fixture(scope="module")
def module_db(pg_server_url: str, pg_template: str) -> Iterator[str]:
    name = f"healthmon_t_proc_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def bed(
    sandbox: RunningSandbox, module_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The config both runs use (2 processes) and the environment the workers build theirs from."""
    from healthmon.flows import dispatch

    tmp = tmp_path_factory.mktemp("processes")
    config_path, tenants_path = write_bed(tmp, sandbox.base_url, sandbox.state)
    config = yaml.safe_load(config_path.read_text())
    config = {
        "services": {"shopify": config["services"]["shopify"]},
        "run": {"batch_size": BATCH, "processes": 2, "confirm_retries": 0},
    }
    config_path.write_text(yaml.safe_dump(config))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HEALTHMON_DATABASE_URL", module_db)
        env.setenv("HEALTHMON_SECRET_KEY", SECRET_KEY)
        env.setenv("HEALTHMON_CONFIG", str(config_path))
        env.setenv("HEALTHMON_DATA_DIR", str(tmp / "data"))
        env.delenv("HEALTHMON_REDIS_URL", raising=False)
        try:
            yield {"config": config, "tenants": tenants_path, "secrets": _secrets(tenants_path)}
        finally:
            dispatch.close_clusters()


def _secrets(tenants_path: Path) -> list[str]:
    tenants = yaml.safe_load(tenants_path.read_text())["tenants"]
    return [SECRET_KEY] + [t["integrations"]["shopify"]["access_token"] for t in tenants]


@pytest.fixture
def spread_app(bed: dict[str, Any], module_db: str, make_app: AppFactory) -> App:
    runtime = make_app(module_db, bed["config"])
    assert runtime.cipher is not None
    upsert_tenants(runtime.engine, runtime.cipher, read_tenants_file(bed["tenants"], env={}))
    return runtime


def _rows(runtime: App, run_id: str) -> list[Any]:
    with runtime.engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT service, tenant_id, status, details FROM health_check_history "
                    "WHERE run_id = :r ORDER BY tenant_id"
                ),
                {"r": run_id},
            )
        )


def _once_each(runtime: App, run_id: str) -> dict[str, Any]:
    """Each tenant's one history row of the run (failing if any target has none or several)."""
    rows = _rows(runtime, run_id)
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[(row.service, row.tenant_id)] = counts.get((row.service, row.tenant_id), 0) + 1
    assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v != 1}
    assert {tenant for _, tenant in counts} == {f"tenant-{n:04d}" for n in range(1, TENANTS + 1)}
    return {row.tenant_id: row for row in rows}


def _executed(runner: Any) -> int:
    """Tasks the cluster's workers have run so far."""
    counts = runner.client.run(lambda dask_worker: dask_worker.state.executed_count)
    return sum(counts.values())


async def test_two_processes_check_every_target_once_as_one_process_does(
    prefect_harness: None, spread_app: App, sandbox: RunningSandbox, make_app: AppFactory, module_db: str
) -> None:
    from healthmon.flows import dispatch
    from healthmon.flows.tier_run import tier_check

    sandbox.state.add_fault("shopify", "revoked", tenant="tenant-0007")
    sandbox.state.add_fault("shopify", "rate_limited", tenant="tenant-0033")
    try:
        runner = await asyncio.to_thread(dispatch.cluster_runner, spread_app.config.run)
        before = await asyncio.to_thread(_executed, runner)
        spread = await tier_check(Tier.CORE, services=["shopify"], force=True)
        # every batch went to the workers
        assert await asyncio.to_thread(_executed, runner) - before == TENANTS // BATCH
        assert spread["checked"] == TENANTS and spread["not_healthy"] == 2

        one = spread_app.config.model_copy(
            update={"run": spread_app.config.run.model_copy(update={"processes": 1})}
        )
        alone = make_app(module_db, one)
        single = await tier_check(Tier.CORE, services=["shopify"], force=True)
        assert await asyncio.to_thread(_executed, runner) - before == TENANTS // BATCH
    finally:
        sandbox.state.reset()

    spread_rows, single_rows = _once_each(spread_app, spread["run_id"]), _once_each(alone, single["run_id"])
    statuses = {t: r.status for t, r in spread_rows.items()}
    assert statuses == {t: r.status for t, r in single_rows.items()}
    assert statuses["tenant-0007"] == Status.UNHEALTHY.value
    assert statuses["tenant-0033"] != Status.HEALTHY.value
    assert list(statuses.values()).count(Status.HEALTHY.value) == TENANTS - 2


async def test_submitted_tasks_carry_ids_never_credentials(
    prefect_harness: None, spread_app: App, bed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect_dask.client import PrefectDaskClient

    from healthmon.flows.tier_run import tier_check

    sent: list[bytes] = []
    submit = PrefectDaskClient.submit

    def recording(self: PrefectDaskClient, func: Any, *args: Any, **kwargs: Any) -> Any:
        # everything the scheduler gets for a batch: the function and its arguments
        future = submit(self, func, *args, **kwargs)
        sent.append(cloudpickle.dumps((args, kwargs)))
        return future

    monkeypatch.setattr(PrefectDaskClient, "submit", recording)
    summary = await tier_check(Tier.CORE, services=["shopify"], force=True)

    assert summary["checked"] == TENANTS
    assert len(sent) == TENANTS // BATCH
    for payload in sent:
        assert b"tenant-00" in payload  # the ids are there
        for secret in bed["secrets"]:
            assert secret.encode() not in payload


async def test_a_dead_workers_batch_is_recorded_as_lost_once(
    prefect_harness: None, spread_app: App, sandbox: RunningSandbox
) -> None:
    from healthmon.flows import dispatch
    from healthmon.flows.tier_run import tier_check

    runner = await asyncio.to_thread(dispatch.cluster_runner, spread_app.config.run)
    client = runner.client
    # slow enough that a batch is still checking when its worker is killed
    sandbox.state.add_fault("shopify", "latency", ms=1500)
    try:
        run = asyncio.create_task(tier_check(Tier.CORE, services=["shopify"], force=True))
        busy = await asyncio.to_thread(
            wait_until, lambda: [w for w, keys in client.processing().items() if keys], 60, "a busy worker"
        )
        # killed as the kernel's OOM killer would: no chance to say goodbye
        pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
        os.kill(pid, signal.SIGKILL)
        summary = await run
    finally:
        sandbox.state.reset()

    rows = _once_each(spread_app, summary["run_id"])
    lost = [t for t, r in rows.items() if r.details.get("error") == "worker_lost"]
    assert lost and len(lost) % BATCH == 0
    assert all(rows[t].status == Status.UNKNOWN.value for t in lost)
    assert "process died" in rows[lost[0]].details["reason"]
    assert summary["checked"] == TENANTS
    # the nanny restarts the worker: the cluster is whole again for the next run
    await asyncio.to_thread(
        wait_until, lambda: len(client.scheduler_info()["workers"]) == 2, 60, "the worker restarted"
    )


async def test_the_runs_deadline_bounds_the_workers_checks(spread_app: App, sandbox: RunningSandbox) -> None:
    from healthmon.flows.dispatch import check_by_worker, cluster_runner

    ids = tuple(f"tenant-{n:04d}" for n in range(1, BATCH + 1))
    run = RunRef(str(uuid.uuid4()), Tier.CORE, time.time() + 1.0)
    sandbox.state.add_fault("shopify", "latency", ms=5000)
    try:
        runner = await asyncio.to_thread(cluster_runner, spread_app.config.run)
        summary = await check_by_worker(spread_app, runner, BatchRef(run, "shopify", 1, ids))
    finally:
        sandbox.state.reset()

    assert summary.checked == BATCH and summary.not_healthy == BATCH
    rows = _rows(spread_app, run.run_id)
    assert len(rows) == BATCH
    # cut at the deadline, 4 s before the upstream would have answered
    assert {r.details.get("error") for r in rows} == {"timeout"}, [r.details for r in rows]


async def test_a_late_worker_and_the_lost_batch_record_each_target_once(
    spread_app: App, sandbox: RunningSandbox
) -> None:
    """The flow process gave up on a batch at the deadline and recorded it lost, while its
    worker, alive but late, goes on to record what it checked (its reading of what the run had
    recorded came before): the worker's results are left out. And the other way round."""
    from healthmon.flows.dispatch import WORKER_LOST, record_lost
    from healthmon.flows.pipeline import check_batch

    ids = tuple(f"tenant-{n:04d}" for n in range(1, BATCH + 1))
    given_up = BatchRef(RunRef(str(uuid.uuid4()), Tier.CORE, time.time() + 10), "shopify", 1, ids)
    lost = await record_lost(spread_app, given_up, "no answer by the tier's deadline")
    late = await check_batch(spread_app, given_up, once=True)
    rows = _rows(spread_app, given_up.run.run_id)
    assert sorted(r.tenant_id for r in rows) == list(ids)
    assert {r.details.get("error") for r in rows} == {WORKER_LOST}
    assert (lost.checked, late.checked) == (BATCH, BATCH)

    answered = BatchRef(RunRef(str(uuid.uuid4()), Tier.CORE, time.time() + 10), "shopify", 1, ids)
    await check_batch(spread_app, answered, once=True)
    after = await record_lost(spread_app, answered, "no answer by the tier's deadline")
    rows = _rows(spread_app, answered.run.run_id)
    assert sorted(r.tenant_id for r in rows) == list(ids)
    assert WORKER_LOST not in {r.details.get("error") for r in rows}
    assert after.checked == BATCH and after.not_healthy == 0


def test_one_process_starts_no_cluster(make_app: AppFactory, module_db: str) -> None:
    from healthmon.flows.tier_run import PrefectSteps, _steps

    runtime = make_app(module_db, parse_config({}, env={}))
    steps = _steps(runtime)
    assert type(steps) is PrefectSteps and steps.processes == 1
