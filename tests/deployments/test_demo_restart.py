"""`healthmon demo` restarted: a plain restart keeps the store and says so, `--fresh` empties
it, and a demo killed mid-run runs every tier again after a restart. Apart from test_demo.py
so that the two pytest workers each take a share of the demo's slow tests."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from healthmon.deployments.demo import port_in_use
from healthmon.storage.db import make_engine
from tests.deployments.test_demo import DemoProcess, _processes_of, _rows, flow_runs
from tests.support.servers import free_port


def _plant_open_alert(db: Path) -> None:
    """An earlier run's store with one open alert, as `healthmon demo` would have left it."""
    from healthmon.storage.migrate import upgrade
    from healthmon.storage.tables import PlatformAlert

    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(
            PlatformAlert(
                signature="mux|-|planted",
                service="mux",
                condition="planted",
                severity="p3",
                title="planted",
                first_seen=now,
                last_seen=now,
            )
        )
        session.commit()
    engine.dispose()


def _planted_alerts(db: Path) -> int:
    return int(_rows(db, "SELECT count(*) FROM platform_alerts WHERE condition = 'planted'")[0][0])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_demo_restart_keeps_the_store_and_fresh_empties_it(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    data.mkdir()
    db = data / "healthmon.db"
    _plant_open_alert(db)
    ports = {name: free_port() for name in ("--api-port", "--dashboard-port", "--prefect-port")}
    demo = DemoProcess(tmp_path, data, *itertools.chain.from_iterable((k, str(v)) for k, v in ports.items()))
    try:
        assert "keeps the earlier store: 1 alert open (--fresh starts empty)" in demo.banner()
        api = demo.prefect_api()
        assert api == f"http://127.0.0.1:{ports['--prefect-port']}/api"
        demo.wait_for(
            lambda: all(port_in_use(ports[p]) for p in ("--api-port", "--dashboard-port")) or None,
            90,
            "the API and the dashboard",
        )
        # serve registered its deployments, and the server scheduled their runs
        scheduled = demo.wait_for(
            lambda: flow_runs(api, {"limit": 1}),
            60,
            "a flow run scheduled",
        )
        earlier_run = scheduled[0]["id"]
        running = " ".join(_processes_of(data).values())
        for what in ("prefect server start", " serve ", "healthmon.sandbox", " api ", " dashboard "):
            assert what in running, (what, running)
        demo.stop(signal.SIGTERM)  # as systemd or `kill` stops it
        assert not any(port_in_use(port) for port in ports.values())
    finally:
        demo.kill()

    demo = DemoProcess(tmp_path, data, "--no-ui", "--fresh")
    try:
        banner = demo.banner()
        assert f"store       SQLite {db} (new)" in banner and "keeps the earlier store" not in banner
        assert _planted_alerts(db) == 0
        # the Prefect home went too: the new server never heard of the earlier runs
        assert httpx.get(f"{demo.prefect_api()}/flow_runs/{earlier_run}", timeout=10).status_code == 404
        demo.stop(signal.SIGTERM)
    finally:
        demo.kill()

    # never a store the user named
    _plant_open_alert(tmp_path / "theirs.db")
    theirs = {"HEALTHMON_DATABASE_URL": f"sqlite:///{tmp_path / 'theirs.db'}"}
    demo = DemoProcess(tmp_path, data, "--no-ui", "--fresh", env=theirs)
    try:
        assert demo.proc.wait(timeout=60) == 2
        assert "--fresh: HEALTHMON_DATABASE_URL is set" in demo.output()
        assert _planted_alerts(tmp_path / "theirs.db") == 1
        assert db.exists()
    finally:
        demo.kill()


def _tier_runs_since(db: Path, since: str) -> set[str]:
    """The tiers with a run completed in the store since `since` (UTC, as the store writes it)."""
    sql = f"SELECT DISTINCT tier FROM tier_runs WHERE state = 'completed' AND started_at > '{since}'"
    return {tier for (tier,) in _rows(db, sql)}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_demo_killed_mid_run_runs_every_tier_again_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    sandbox_port = free_port()
    demo = DemoProcess(tmp_path, data, "--no-ui", "--sandbox-port", str(sandbox_port))
    try:
        api = demo.prefect_api()
        # a slow vendor keeps each core run in flight for seconds: the kill lands inside one
        slow = {"service": "inngest", "kind": "latency", "ms": 6000}
        httpx.post(
            f"http://127.0.0.1:{sandbox_port}/_sandbox/faults", json=slow, timeout=10
        ).raise_for_status()
        running = {"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}}
        demo.wait_for(
            lambda: flow_runs(api, running),
            90,
            "a flow run in flight",
        )
        # killed outright, serve first so that it cannot cancel its runs: a power cut
        processes = _processes_of(data)
        for pid in sorted(processes, key=lambda pid: " serve " not in processes[pid]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    finally:
        demo.kill()

    restarted_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    demo = DemoProcess(tmp_path, data, "--no-ui")
    try:
        assert "the last demo did not stop cleanly" in demo.banner()
        served = {"critical", "core", "integration", "external"}
        demo.wait_for(
            # every tier's first run comes right after the start; on a loaded box the flow-run
            # processes of five deployments starting at once take minutes to get through
            lambda: _tier_runs_since(data / "healthmon.db", restarted_at) == served or None, 240, "runs"
        )
        demo.stop(signal.SIGTERM)
    finally:
        demo.kill()
