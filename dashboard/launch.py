"""`healthmon dashboard`: run the Streamlit app, refusing an unprotected public bind."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from healthmon.config import ConfigError
from healthmon.config.settings import load_settings
from healthmon.dashboard.auth import is_valid_hash

APP = Path(__file__).resolve().parent / "app.py"
PROJECT_ROOT = APP.parent.parent
#: the CLI's code for bad usage or configuration (deployments/exit_codes.py, which this layer
#: must not import: deployments depends on dashboard, not the other way round)
EXIT_USAGE = 2
HASH_VAR = "HEALTHMON_DASHBOARD_PASSWORD_HASH"


class LaunchRefused(Exception):
    """The dashboard must not start as configured; the message names the setting to change."""


def is_loopback(host: str) -> bool:
    """Only literal loopback addresses and `localhost`: any other name could resolve to a public
    address, now or after a DNS change, so it counts as public."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, password_hash: str | None) -> None:
    """Raise LaunchRefused unless the dashboard would be reachable only locally or behind a login.

    Without a password the dashboard has no login at all (anyone who reaches it can acknowledge
    alerts, change thresholds and tenants), so it may only listen on loopback.
    """
    if password_hash:
        if not is_valid_hash(password_hash):
            raise LaunchRefused(
                f"{HASH_VAR}: not a password hash (make one with `healthmon dashboard --hash-password`)"
            )
        return
    if not is_loopback(host):
        raise LaunchRefused(
            f"{HASH_VAR}: not set, so the dashboard has no login and may only listen on a loopback "
            f"address (127.0.0.1, ::1, localhost), not {host!r}. Set it to the output of "
            "`healthmon dashboard --hash-password`, or bind to 127.0.0.1."
        )


def streamlit_command(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "healthmon.dashboard.server",  # Streamlit's own CLI, after the heavy imports (dashboard/server.py)
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # a deployed dashboard's code does not change under it; watching it only costs inotify
        "--server.fileWatcherType",
        "none",
        # no "Deploy" button or developer menu for the people who use it
        "--client.toolbarMode",
        "minimal",
        # Streamlit collects every generation after each script run: with 10,000 tenants' view
        # and kept figures in memory that is 0.1-0.3 s of the GIL after every fragment rerun of
        # every session (docs/performance.md); Python's own thresholds collect as needed
        "--runner.postScriptGC",
        "false",
    ]


def serve(host: str, port: int) -> None:
    """Run the dashboard until interrupted; SystemExit(2) with a message naming the setting when
    it must not start."""
    try:
        settings = load_settings()
        hashed = settings.dashboard_password_hash
        check_bind(host, hashed.get_secret_value() if hashed is not None else None)
    except (ConfigError, LaunchRefused) as exc:
        print(f"healthmon dashboard: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    env = dict(os.environ)
    # the app imports `dashboard`, which an install made before the package existed may not map
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    # its own session, so Ctrl-C reaches it once (forwarded below), not twice; and a SIGTERM sent
    # to `healthmon dashboard` by a process manager stops Streamlit instead of orphaning it
    process = subprocess.Popen(streamlit_command(host, port), env=env, start_new_session=True)

    def forward(signum: int, _frame: FrameType | None) -> None:
        process.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = process.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    # Streamlit ends with the signal's code after a forwarded Ctrl-C or SIGTERM: a clean stop
    if code and code not in (-signal.SIGINT, -signal.SIGTERM):
        raise SystemExit(code)
