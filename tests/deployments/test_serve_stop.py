"""Stopping `healthmon serve` shows in the Prefect UI, starting it again resumes its deployments,
and a serve killed outright leaves nothing that stops the next one: a real serve on its own
Prefect server, one home shared by the module's tests, which run in order."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text

from healthmon.deployments.serve import start_prefect_server, stop_server
from healthmon.storage.db import make_engine
from tests.support.serve import serve_env, start, stop
from tests.support.servers import free_port
from tests.support.waiting import wait_until

#: what `healthmon serve` serves here: the critical tier, the delivery retries and retention
SERVED = 3


@dataclass
class Bed:
    tmp: Path
    env: dict[str, str]
    port: int
    database_url: str
    log: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def prefect_home(self) -> Path:
        return self.tmp / "data" / "prefect"

    def serve(self) -> subprocess.Popen[bytes]:
        self.log.write_text("")  # each start's own output
        # the critical tier alone (with the delivery retries and retention) every 6 s: all the
        # others would start flow-run processes too, each seconds of CPU
        argv = ["serve", "--prefect-port", str(self.port), "--tier-interval", "critical=6"]
        return start(argv, self.env, self.log)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def completed_critical_runs(self) -> int:
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as conn:
                sql = "SELECT count(*) FROM tier_runs WHERE tier = 'critical' AND state = 'completed'"
                return int(conn.execute(text(sql)).scalar() or 0)
        finally:
            engine.dispose()

    def wait_for_critical_run_after(self, proc: subprocess.Popen[bytes], done_before: int) -> None:
        def one_more() -> bool:
            assert proc.poll() is None, self.output()[-3000:]
            return self.completed_critical_runs() > done_before

        wait_until(one_more, 180, "a completed critical run", every_s=0.5)


@pytest.fixture(scope="module")
def bed(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, pg_server_url: str, redis_url: str
) -> Bed:
    tmp = tmp_path_factory.mktemp("serve-stop")
    config = tmp / "healthmon.yaml"
    config.write_text(
        yaml.safe_dump({"services": {"postgres": {"dsn": pg_server_url}, "redis": {"url": redis_url}}})
    )
    shutil.copy(sqlite_template, tmp / "healthmon.db")  # migrated
    database_url = f"sqlite:///{tmp / 'healthmon.db'}"
    env = serve_env(tmp, config, database_url)
    return Bed(tmp, env, free_port(), database_url, tmp / "serve.log")


@pytest.fixture
def prefect_api(bed: Bed) -> Iterator[str]:
    """The Prefect server of the bed's home while no serve runs: what an operator's UI reads."""
    server, url = start_prefect_server(bed.prefect_home, bed.port)
    try:
        yield url
    finally:
        stop_server(server)


def _deployments(api: str) -> list[dict[str, Any]]:
    answer = httpx.post(f"{api}/deployments/filter", json={}, timeout=10)
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()
    return found


def test_sigterm_pauses_every_deployment_and_says_why(bed: Bed) -> None:
    proc = bed.serve()
    try:
        bed.wait_for_critical_run_after(proc, 0)
    finally:
        code = stop(proc)
    assert code == 0, bed.output()[-3000:]
    assert f"stopping: paused {SERVED} deployments" in bed.output()


def test_the_ui_lists_them_stopped_while_serve_is_down(bed: Bed, prefect_api: str) -> None:
    deployments = _deployments(prefect_api)
    assert len(deployments) == SERVED
    stopped = re.compile(
        r"Stopped: healthmon serve stopped at \d{4}-\d\d-\d\d \d\d:\d\dZ on "
        + re.escape(socket.gethostname())
        + r" \(pid \d+\); nothing runs until it starts again"
    )
    for deployment in deployments:
        assert deployment["paused"], deployment["name"]
        assert stopped.fullmatch(deployment["description"]), deployment["description"]
    # pausing dropped their scheduled runs: nothing would run them
    scheduled = {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}
    assert httpx.post(f"{prefect_api}/flow_runs/filter", json=scheduled, timeout=10).json() == []
    # a client cannot set the status an operator sees beside it: the API refuses the field
    refused = httpx.patch(
        f"{prefect_api}/deployments/{deployments[0]['id']}", json={"status": "NOT_READY"}, timeout=10
    )
    assert refused.status_code == 422


def test_a_restart_resumes_them_and_a_kill_leaves_nothing_that_blocks_the_next(bed: Bed) -> None:
    done = bed.completed_critical_runs()
    proc = bed.serve()
    try:
        bed.wait_for_critical_run_after(proc, done)
        assert f"resumed {SERVED} that the last stop paused (healthmon serve stopped at" in bed.output()
        for deployment in _deployments(bed.api):
            assert not deployment["paused"], deployment["name"]
            assert not (deployment["description"] or "").startswith("Stopped:"), deployment
        critical = httpx.get(f"{bed.api}/deployments/name/tier-check/tier-critical", timeout=10).json()
        assert critical["description"] == "The critical tier every 6 s"

        # killed outright with its Prefect server while a run holds the tier's one slot: a power cut
        in_flight = {
            "flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING"]}}},
            "deployments": {"id": {"any_": [critical["id"]]}},
        }
        wait_until(
            lambda: httpx.post(f"{bed.api}/flow_runs/filter", json=in_flight, timeout=10).json(),
            60,
            "a critical run in flight",
            every_s=0.1,
        )
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # its Prefect server dies with it (and with it the leases of the slots the runs held)
    wait_until(lambda: _port_free(bed.port), 30, "the killed Prefect server's port")

    done = bed.completed_critical_runs()
    proc = bed.serve()
    try:
        bed.wait_for_critical_run_after(proc, done)
        # the run that held the tier's slot, marked crashed, gives it back (the server releases
        # it); "slots freed" counts the slots held with no unfinished run behind them
        cleared = re.search(
            r"the last serve did not stop cleanly: (\d+) of its flow runs marked crashed", bed.output()
        )
        assert cleared, bed.output()[-3000:]
        assert int(cleared[1]) >= 1
    finally:
        assert stop(proc) == 0, bed.output()[-3000:]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0
