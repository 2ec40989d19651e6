"""The whole core tier over 200 sandbox tenants in one tier-check flow run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from healthmon.flows.tenant_input import read_tenants_file
from healthmon.monitors.result import Status, Tier
from healthmon.sandbox import SandboxState, start_in_thread, write_bed
from healthmon.sandbox.server import RunningSandbox
from healthmon.storage.status import load_latest
from healthmon.storage.tenants import upsert_tenants
from tests.support.app import AppFactory

TENANTS = 200


@pytest.fixture(scope="module")
def big_sandbox() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(TENANTS)) as running:
        yield running


async def test_core_tier_over_200_tenants(
    prefect_harness: None,
    pg_url: str,
    big_sandbox: RunningSandbox,
    tmp_path: Path,
    make_app: AppFactory,
) -> None:
    from healthmon.flows.tier_run import tier_check

    config_path, tenants_path = write_bed(tmp_path, big_sandbox.base_url, big_sandbox.state)
    config = yaml.safe_load(config_path.read_text())
    config["run"] = {"batch_size": 50}
    runtime = make_app(pg_url, config)
    assert runtime.cipher is not None
    upsert_tenants(runtime.engine, runtime.cipher, read_tenants_file(tenants_path, env={}))
    big_sandbox.state.add_fault("shopify", "revoked", tenant="tenant-0007")
    big_sandbox.state.add_fault("shopify", "rate_limited", tenant="tenant-0150")

    summary = await tier_check(Tier.CORE, force=True)

    assert summary["checked"] == TENANTS + 2  # every shop, plus stripe and inngest
    latest = load_latest(runtime.engine, ["shopify", "stripe", "inngest"])
    statuses = {key: value.status for key, value in latest.items()}
    assert statuses.pop(("shopify", "tenant-0007")) is Status.UNHEALTHY
    throttled = latest[("shopify", "tenant-0150")]
    statuses.pop(("shopify", "tenant-0150"))
    # throttled by the monitor (degraded), and an empty bucket is past the headroom threshold too
    assert throttled.status is not Status.HEALTHY and throttled.details["rate_limited"] is True
    assert set(statuses.values()) == {Status.HEALTHY} and len(statuses) == TENANTS
    assert summary["not_healthy"] == 2
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT count(*) FROM health_check_history WHERE run_id = :r"), {"r": summary["run_id"]}
        ).scalar()
    assert rows == TENANTS + 2
    big_sandbox.state.reset()
