"""Long-running `healthmon serve` and `healthmon watchdog` processes: their environment, start
and stop, the way systemd runs them."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.support.cli import HEALTHMON


def serve_env(tmp_path: Path, config: Path, database_url: str) -> dict[str, str]:
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
