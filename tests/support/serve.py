"""Long-running `healthmon serve` and `healthmon watchdog` processes: their environment, start
and stop, the way systemd runs them."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.support.cli import HEALTHMON
from tests.support.prefect_home import seed_prefect_home

#: the modules that run `healthmon serve` or the demo on a Prefect server of their own: each
#: keeps about a core busy with flow-run processes (about 5 s of CPU apiece) for minutes, so
#: under xdist they are handed out first (tests/conftest.py), not left for the end
SERVED_MODULES = frozenset(
    f"tests/deployments/{name}.py"
    for name in (
        "test_demo",
        "test_demo_restart",
        "test_deployments",
        "test_serve_stop",
        "test_stall",
        "test_watchdog_serve",
    )
)


def serve_env(tmp_path: Path, config: Path, database_url: str) -> dict[str, str]:
    # the Prefect server serve starts keeps its state here (its data dir's prefect/)
    seed_prefect_home(tmp_path / "data" / "prefect")
    env = {
        **os.environ,
        "HEALTHMON_CONFIG": str(config),
        "HEALTHMON_DATABASE_URL": database_url,
        "HEALTHMON_DATA_DIR": str(tmp_path / "data"),
        "PREFECT_UI_ENABLED": "false",
        # poll for due runs every second instead of every 10 s, so the test is short
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    }
    # without it, serve starts a Prefect server of its own, on --prefect-port, as on a fresh host
    env.pop("PREFECT_API_URL", None)
    return env


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`healthmon <argv>` in its own session, so that stop() can kill what it started too."""
    return subprocess.Popen(
        [*HEALTHMON, *argv],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as systemd stops it; it lets the flow runs in progress finish first, and only a
    process that outlives that is killed, with its children."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=150)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
