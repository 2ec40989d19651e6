"""`healthmon demo` killed mid-run runs every tier again after a restart (a plain restart and
`--fresh` are in test_demo.py). Apart from test_demo.py so that the two pytest workers each
take a share of the demo's slow tests."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.deployments.test_demo import DemoProcess, _processes_of, _rows, flow_runs
from tests.support.servers import free_port


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
