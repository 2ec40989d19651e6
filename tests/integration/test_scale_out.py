"""Scale-out, end to end: a real Prefect server, `prefect deploy --all` from prefect.yaml, and
two process workers sharing the tier runs. Run with `make test-integration` (about 2 minutes);
`make test` leaves it out."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from healthmon.deployments.serve import start_prefect_server, stop_server
from healthmon.storage.db import make_engine
from tests.support.prefect_home import seed_prefect_home
from tests.support.servers import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]


@pytest.fixture
def prefect_api(tmp_path: Path) -> Iterator[str]:
    server, url = start_prefect_server(seed_prefect_home(tmp_path / "prefect"), free_port())
    yield url
    stop_server(server)


def executed(worker_log: Path) -> set[str]:
    """Flow runs this worker ran: each run's own process logs "View at .../flow-run/<id>".

    Both workers may try to submit the same run; the server refuses the second ("Aborted
    submission of flow run ..."), which is Prefect's guarantee that no run executes twice.
    """
    return set(re.findall(r"/flow-run/([0-9a-f-]{36})", worker_log.read_text()))


def test_two_workers_share_the_runs_and_every_result_lands_once(
    tmp_path: Path, prefect_api: str, pg_url: str, pg_server_url: str, redis_url: str
) -> None:
    config = tmp_path / "healthmon.yaml"
    config.write_text(
        yaml.safe_dump({"services": {"postgres": {"dsn": pg_server_url}, "redis": {"url": redis_url}}})
    )
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "HEALTHMON_HOME": str(ROOT),
        "HEALTHMON_CONFIG": str(config),
        "HEALTHMON_DATABASE_URL": pg_url,
        "PREFECT_HOME": str(tmp_path / "client"),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }

    def prefect(*args: str) -> str:
        done = subprocess.run(
            [*PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout

    prefect("work-pool", "create", "healthmon", "--type", "process")
    prefect("--no-prompt", "deploy", "--all")
    logs = [(tmp_path / f"worker{i}.log").open("w+") for i in (1, 2)]
    workers = [
        subprocess.Popen(
            [*PREFECT, "worker", "start", "--pool", "healthmon", "--name", f"worker-{i}", "--limit", "1"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for i, log in zip((1, 2), logs, strict=True)
    ]
    try:
        names = [
            "tier-check/tier-critical",
            "tier-check/tier-core",
            "tier-check/tier-integration",
            "tier-check/tier-external",
            "deliver-notifications/deliver",
            "retention/retention",
        ]
        for name in names:
            force = ["--param", "force=true"] if name.startswith("tier-check") else []
            prefect("deployment", "run", name, *force)
        engine = make_engine(pg_url)

        def all_tiers_done() -> bool:
            with engine.connect() as conn:
                return bool(
                    conn.execute(text("SELECT count(*) FROM tier_runs WHERE state = 'completed'")).scalar()
                    == 4
                )

        wait_until(all_tiers_done, 180, "four completed tier runs", every_s=0.5)

        def both_workers_ran() -> bool:
            return all(executed(Path(log.name)) for log in logs)

        wait_until(both_workers_ran, 60, "flow runs on both workers", every_s=0.5)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    runs = [executed(Path(log.name)) for log in logs]
    assert runs[0] and runs[1] and not runs[0] & runs[1]  # both worked, no run twice
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.tier, t.flow_run_id, count(h.id) AS results, count(DISTINCT h.service) AS services "
                "FROM tier_runs t LEFT JOIN health_check_history h ON h.run_id = t.id "
                "WHERE t.state = 'completed' GROUP BY t.tier, t.flow_run_id"
            )
        ).all()
    by_tier = {r.tier: r for r in rows}
    assert set(by_tier) == {"critical", "core", "integration", "external"}
    # each result landed once: the critical run wrote exactly postgres, redis and prefect (on by
    # default with PREFECT_API_URL), once each
    assert (by_tier["critical"].results, by_tier["critical"].services) == (3, 3)
    assert len({r.flow_run_id for r in rows}) == 4
