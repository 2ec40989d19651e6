"""`healthmon demo`: its pieces, and the whole demo as a process, from start to a clean Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

import pytest

from healthmon.config.loader import parse_config
from healthmon.deployments.demo import SCENARIO, demo_config, kept_secret, port_in_use, scenario_requests
from healthmon.deployments.mailcatcher import MailCatcher
from tests.support.servers import free_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
BED = {
    "services": {"stripe": {"enabled": True, "base_url": "http://sandbox/stripe", "api_key": "sk"}},
    "channels": {"webhook": {"url": "http://sandbox/webhook/healthmon"}},
}
#: what the scenario must show, once every tier ran
EXPECTED = {
    ("shopify", "tenant-0003"): "unhealthy",
    ("shopify", "tenant-0008"): "unhealthy",
    ("stripe", ""): "unhealthy",
    ("tiktok_ads", "tenant-0005"): "degraded",
    ("meta_ads", "tenant-0010"): "degraded",
    ("statuspage", ""): "degraded",
}
T = TypeVar("T")


# -- the pieces ----------------------------------------------------------------------------------


def test_demo_config_adds_channels_and_routes_that_reach_them() -> None:
    raw = demo_config(BED, "http://127.0.0.1:9", smtp_port=2525, dashboard_url="http://d", env={})
    config = parse_config(raw, env={})
    assert config.channels.email is not None and config.channels.email.port == 2525
    assert not config.channels.email.starttls
    assert config.channels.slack is not None  # the bed had none: the sandbox's webhook is added
    assert config.channels.webhook is not None
    assert config.channels.webhook.url == "http://sandbox/webhook/healthmon"  # the bed's is kept
    routes = {r.severity[0]: r.channels for r in config.routes or []}
    # pagerduty is not configured here, so no route names it
    assert routes == {
        "p1": ["slack", "email", "webhook"],
        "p2": ["slack", "email", "webhook"],
        "p3": ["slack", "webhook"],
    }
    assert config.dashboard_url == "http://d"
    assert "postgres" not in config.services and "redis" not in config.services
    assert BED["channels"] == {"webhook": {"url": "http://sandbox/webhook/healthmon"}}  # not mutated


def test_demo_config_monitors_real_store_and_cache_by_reference() -> None:
    env = {"HEALTHMON_DATABASE_URL": "postgresql://u:pw@db/h", "HEALTHMON_REDIS_URL": "redis://r:6379/0"}
    raw = demo_config(BED, "http://127.0.0.1:9", smtp_port=None, dashboard_url=None, env=env)
    # the password stays out of the written file
    assert raw["services"]["postgres"] == {"dsn": "${HEALTHMON_DATABASE_URL}"}
    config = parse_config(raw, env=env)
    assert config.services["postgres"].options()["dsn"] == "postgresql://u:pw@db/h"
    assert config.services["redis"].options()["url"] == "redis://r:6379/0"
    assert config.channels.email is None
    sqlite = demo_config(
        BED, "http://x", smtp_port=None, dashboard_url=None, env={"HEALTHMON_DATABASE_URL": "sqlite:///x.db"}
    )
    assert "postgres" not in sqlite["services"]


def test_scenario_leaves_out_tenants_that_do_not_exist() -> None:
    full = scenario_requests(SCENARIO, 12)
    assert len(full) == len(SCENARIO)
    few = scenario_requests(SCENARIO, 4)
    assert {b["tenant"] for b in few} == {"tenant-0003", None, "shopify"}


def test_kept_secret_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    first = kept_secret(path, lambda: "one")
    assert first == "one"
    assert path.stat().st_mode & 0o777 == 0o600
    assert kept_secret(path, lambda: "two") == "one"


async def test_mail_catcher_stores_each_message_and_continues_numbering(tmp_path: Path) -> None:
    (tmp_path / "0007.eml").write_text("earlier demo")
    got: list[tuple[int, str]] = []
    catcher = MailCatcher(tmp_path, lambda n, path, subject: got.append((n, subject)))
    port = await catcher.start()
    try:
        msg = EmailMessage()
        msg["Subject"] = "[P2] stripe unhealthy: ünïcode"
        msg["From"] = "healthmon@localhost"
        msg["To"] = "oncall@localhost"
        msg.set_content("body")

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
                smtp.send_message(msg)

        await asyncio.to_thread(send)
    finally:
        await catcher.stop()
    assert got == [(8, "[P2] stripe unhealthy: ünïcode")]
    assert b"body" in (tmp_path / "0008.eml").read_bytes()


# -- the whole demo --------------------------------------------------------------------------------


def _wait_for(check: Callable[[], T | None], timeout_s: float, what: str, proc: subprocess.Popen[bytes]) -> T:
    def step() -> tuple[T] | None:
        if proc.poll() is not None:
            raise AssertionError(f"the demo exited with {proc.returncode} while waiting for {what}")
        found = check()
        return None if found is None else (found,)

    found: tuple[T] = wait_until(step, timeout_s, what, every_s=0.5)
    return found[0]


def _store(db: Path) -> tuple[dict[tuple[str, str], str], int] | None:
    """service_status as {(service, tenant): status}, and how many alerts are open."""
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            statuses = {
                (s, t): st
                for s, t, st in conn.execute("SELECT service, tenant_id, status FROM service_status")
            }
            (open_alerts,) = conn.execute(
                "SELECT count(*) FROM platform_alerts WHERE status = 'open'"
            ).fetchone()
    except sqlite3.OperationalError:  # not migrated yet, or a writer holds it
        return None
    return statuses, int(open_alerts)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_demo_shows_a_mix_with_alerts_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    sandbox_port = free_port()
    # The suite's own HEALTHMON_* (a test database, Redis) must not leak in: the demo is the
    # bare-machine case, SQLite and the in-process cache.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHMON_")}
    env["PYTHONUNBUFFERED"] = "1"
    out_path = tmp_path / "demo.out"
    argv = [sys.executable, "-m", "healthmon.deployments.demo", "--no-ui", "--data-dir", str(data)]
    argv += ["--sandbox-port", str(sandbox_port)]
    started = time.monotonic()
    with out_path.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    children: list[int] = []
    try:

        def mixed() -> dict[tuple[str, str], str] | None:
            found = _store(data / "healthmon.db")
            if found is None:
                return None
            statuses, open_alerts = found
            shown = {key: statuses.get(key) for key in EXPECTED}
            ready = shown == EXPECTED and "healthy" in statuses.values() and open_alerts > 0
            return statuses if ready else None

        try:
            statuses = _wait_for(mixed, 75, "mix of statuses with open alerts", proc)
            alerts_after = time.monotonic() - started
            mail = _wait_for(lambda: sorted((data / "mail").glob("*.eml")) or None, 20, "mail", proc)
            webhook_log = data / "webhook.log"
            _wait_for(
                lambda: (webhook_log.exists() and webhook_log.stat().st_size) or None, 10, "webhook log", proc
            )
        except AssertionError:
            print(out_path.read_text(errors="replace"))
            raise
        healthy = sum(s == "healthy" for s in statuses.values())
        # the scenario touches a few targets; the platform as a whole must still look alive
        assert healthy > len(statuses) / 2, statuses
        print(f"alerts open after {alerts_after:.1f} s; {healthy}/{len(statuses)} healthy; {len(mail)} mails")

        children = _children(proc.pid)
        assert children, "the sandbox runs as a child of the demo"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, out_path.read_text(errors="replace")
        wait_until(lambda: not any(_alive(pid) for pid in children), 5, "the demo's children to end")
        assert not port_in_use(sandbox_port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
