"""Deployments as code: prefect.yaml matches the flows, and `healthmon serve` runs on schedule."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import yaml
from prefect.flows import load_flow_from_entrypoint
from sqlalchemy import text

from healthmon.monitors.result import TIERS
from healthmon.storage.db import make_engine
from tests.support.serve import serve_env, start, stop
from tests.support.servers import free_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_declares_every_tier_and_housekeeping() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    by_name = {d["name"]: d for d in spec["deployments"]}
    for tier, tier_spec in TIERS.items():
        deployment = by_name[f"tier-{tier.value}"]
        assert deployment["parameters"] == {"tier": tier.value}
        assert deployment["schedules"] == [{"interval": tier_spec.interval_s}]
        assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert by_name["deliver"]["schedules"] == [{"interval": 60}]
    assert "cron" in by_name["retention"]["schedules"][0]
    for deployment in spec["deployments"]:
        flow: Any = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
        assert set(deployment.get("parameters", {})) <= set(flow.parameters.properties)


def test_serve_runs_the_tiers_on_schedule_without_overlap(
    tmp_path: Path, pg_server_url: str, redis_url: str, sqlite_url: str
) -> None:
    config = tmp_path / "healthmon.yaml"
    config.write_text(
        yaml.safe_dump({"services": {"postgres": {"dsn": pg_server_url}, "redis": {"url": redis_url}}})
    )
    env = serve_env(tmp_path, config, sqlite_url)
    # critical every 6 s; deliver at its own minute, not every 6 s: each run is a process
    argv = ["serve", "--prefect-port", str(free_port()), "--interval-scale", "0.1"]
    argv += ["--delivery-interval", "60"]
    proc = start(argv, env, tmp_path / "serve.log")
    engine = make_engine(sqlite_url)

    def two_critical_runs() -> bool:
        with engine.connect() as conn:
            done = conn.execute(
                text("SELECT count(*) FROM tier_runs WHERE tier = 'critical' AND state = 'completed'")
            ).scalar()
        if done and done >= 2:
            return True
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        return False

    try:
        wait_until(two_critical_runs, 120, "two completed critical runs", every_s=0.5)
    finally:
        stop(proc)
    with engine.connect() as conn:
        runs = conn.execute(
            text(
                "SELECT started_at, finished_at, flow_run_id FROM tier_runs WHERE tier = 'critical' "
                "AND state = 'completed' ORDER BY started_at"
            )
        ).all()
    assert all(r.flow_run_id for r in runs)  # scheduled flow runs, visible in the Prefect UI
    for earlier, later in itertools.pairwise(runs):
        assert earlier.finished_at <= later.started_at  # one critical run at a time
    assert proc.returncode == 0
    assert "retention:" in (tmp_path / "serve.log").read_text()
