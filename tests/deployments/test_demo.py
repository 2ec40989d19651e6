"""`healthmon demo`: its pieces, and the whole demo as a process: on Prefect, from start to a clean
Ctrl-C; a restart that keeps the store, `--fresh` that empties it, and SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from healthmon.config.loader import parse_config
from healthmon.deployments.demo import SCENARIO, demo_config, kept_secret, port_in_use, scenario_requests
from healthmon.deployments.mailcatcher import MailCatcher
from tests.support.prefect_home import seed_prefect_home
from tests.support.servers import free_port
from tests.support.waiting import http_ok, wait_until

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


class DemoProcess:
    """`healthmon demo` as a user starts it, its output in a file."""

    def __init__(self, tmp_path: Path, data: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.data = data
        # the demo's Prefect server keeps its state there; `--fresh` deletes it as it would
        seed_prefect_home(data / "prefect")
        self.out_path = tmp_path / f"demo-{len(list(tmp_path.glob('demo-*.out')))}.out"
        argv = [sys.executable, "-m", "healthmon.deployments.demo", "--data-dir", str(data), *args]
        with self.out_path.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env={**_bare_env(), **(env or {})}, stdout=out, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def wait_for(self, check: Callable[[], T | None], timeout_s: float, what: str) -> T:
        """`check`'s first value that is not None; the output is printed if it never comes."""

        def step() -> tuple[T] | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"the demo exited with {self.proc.returncode} while waiting for {what}")
            found = check()
            return None if found is None else (found,)

        try:
            found: tuple[T] = wait_until(step, timeout_s, what, every_s=0.5)
        except AssertionError:
            print(self.output())
            raise
        return found[0]

    def banner(self) -> str:
        """The banner, once printed; its Prefect UI line is asserted here for every start."""
        self.wait_for(lambda: "Ctrl-C stops." in self.output() or None, 120, "banner")
        text = self.output()
        assert re.search(r"^  Prefect UI: http://127\.0\.0\.1:\d+$", text, re.MULTILINE), text
        return text

    def prefect_api(self) -> str:
        found = re.search(r"Prefect UI: (http://127\.0\.0\.1:\d+)", self.banner())
        assert found is not None
        return found.group(1) + "/api"

    def stop(self, sig: signal.Signals) -> None:
        """Stop it with `sig`: exit 0, and nothing it started is left running."""
        started = _processes_of(self.data)
        self.proc.send_signal(sig)
        assert self.proc.wait(timeout=60) == 0, self.output()
        wait_until(lambda: not _processes_of(self.data), 10, f"the demo's processes to end: {started}")

    def kill(self) -> None:
        """After a failure: leave nothing behind for the next test."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in _processes_of(self.data):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _bare_env() -> dict[str, str]:
    # The suite's own HEALTHMON_* (a test database, Redis) must not leak in: the demo is the
    # bare-machine case, SQLite and the in-process cache; and it starts its own Prefect server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHMON_") and k != "PREFECT_API_URL"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _processes_of(data: Path) -> dict[int, str]:
    """Every process started with the demo's environment (its children, theirs, and so on, even
    those that left the demo's process tree), pid -> command line."""
    marker = f"HEALTHMON_DATA_DIR={data}\0".encode()
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes():
                found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone, or not ours to read
            continue
    return found


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """What `sql` reads from the demo's store, without taking a writer's lock."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        return conn.execute(sql).fetchall()


def plant_open_alert(db: Path) -> None:
    """An earlier run's store with one open alert, as `healthmon demo` would have left it."""
    from sqlmodel import Session

    from healthmon.storage.db import make_engine
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


def _store(db: Path) -> tuple[dict[tuple[str, str], str], int] | None:
    """service_status as {(service, tenant): status}, and how many alerts the demo opened (not
    the one planted as an earlier run's)."""
    if not db.exists():
        return None
    try:
        rows = _rows(db, "SELECT service, tenant_id, status FROM service_status")
        statuses = {(service, tenant): status for service, tenant, status in rows}
        [(open_alerts,)] = _rows(
            db, "SELECT count(*) FROM platform_alerts WHERE status = 'open' AND condition <> 'planted'"
        )
    except sqlite3.OperationalError:  # not migrated yet, or a writer holds it
        return None
    return statuses, int(open_alerts)


def flow_runs(api: str, body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The flow runs the demo's Prefect API lists for `body`, or None while there are none or
    the server is not up yet: the banner comes while it still starts (deployments/demo)."""
    try:
        found: list[dict[str, Any]] = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
    except httpx.ConnectError:
        return None
    return found or None


def _completed_tier_checks(api: str) -> dict[str, str]:
    """The Prefect API's completed `tier-check` flow runs: flow run id -> deployment name."""
    completed = {"state": {"type": {"any_": ["COMPLETED"]}}}
    body = {"flows": {"name": {"any_": ["tier-check"]}}, "flow_runs": completed}
    runs = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
    deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    names = {d["id"]: d["name"] for d in deployments}
    return {run["id"]: names[run["deployment_id"]] for run in runs if run["deployment_id"]}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_demo_shows_a_mix_with_alerts_in_prefect_stops_cleanly_and_restarts_fresh(tmp_path: Path) -> None:
    """One demo from start to Ctrl-C, then `--fresh`: each demo start costs a Prefect server,
    serve and their flow-run processes, so one test walks through what a user sees in turn."""
    data = tmp_path / "demo"
    data.mkdir()
    db = data / "healthmon.db"
    plant_open_alert(db)
    sandbox_port = free_port()
    ports = {name: free_port() for name in ("--api-port", "--dashboard-port", "--prefect-port")}
    started = time.monotonic()
    demo = DemoProcess(
        tmp_path,
        data,
        "--sandbox-port",
        str(sandbox_port),
        *itertools.chain.from_iterable((k, str(v)) for k, v in ports.items()),
    )
    try:
        # a plain restart keeps the earlier store, and says so
        assert "keeps the earlier store: 1 alert open (--fresh starts empty)" in demo.banner()
        api = demo.prefect_api()
        assert api == f"http://127.0.0.1:{ports['--prefect-port']}/api"
        assert http_ok(f"{api}/health")
        demo.wait_for(
            lambda: all(port_in_use(ports[p]) for p in ("--api-port", "--dashboard-port")) or None,
            90,
            "the API and the dashboard",
        )

        def mixed() -> dict[tuple[str, str], str] | None:
            found = _store(db)
            if found is None:
                return None
            statuses, open_alerts = found
            shown = {key: statuses.get(key) for key in EXPECTED}
            ready = shown == EXPECTED and "healthy" in statuses.values() and open_alerts > 0
            return statuses if ready else None

        statuses = demo.wait_for(mixed, 150, "mix of statuses with open alerts")
        alerts_after = time.monotonic() - started
        mail = demo.wait_for(lambda: sorted((data / "mail").glob("*.eml")) or None, 30, "mail")
        webhook_log = data / "webhook.log"
        demo.wait_for(
            lambda: (webhook_log.exists() and webhook_log.stat().st_size) or None, 20, "webhook log"
        )
        healthy = sum(s == "healthy" for s in statuses.values())
        # the scenario touches a few targets; the platform as a whole must still look alive
        assert healthy > len(statuses) / 2, statuses
        print(f"alerts open after {alerts_after:.1f} s; {healthy}/{len(statuses)} healthy; {len(mail)} mails")

        # the statuses came from the Prefect deployments' scheduled flow runs, visible to operators;
        # the critical tier watches the demo's own Prefect server (SQLite and the in-process cache
        # leave nothing else there)
        every_tier = {"tier-critical", "tier-core", "tier-integration", "tier-external"}
        in_prefect = demo.wait_for(
            lambda: ((c := _completed_tier_checks(api)) and set(c.values()) == every_tier and c) or None,
            90,
            "a completed run of every tier",
        )
        # named for their scheduled time, readable in the UI's runs list (deployments/run_names.py)
        by_id = {"flow_runs": {"id": {"any_": list(in_prefect)}}}
        names = [r["name"] for r in httpx.post(f"{api}/flow_runs/filter", json=by_id, timeout=10).json()]
        readable = re.compile(r"^(critical|core|integration|external) \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?Z$")
        assert len(names) == len(in_prefect) and all(readable.match(n) for n in names), names
        # the prefect monitor could decide (on a loaded box the demo's short-interval runs may
        # really be late, and it says so: unhealthy is a true answer there)
        watched = demo.wait_for(lambda: (_store(db) or ({}, 0))[0].get(("prefect", "")), 30, "prefect result")
        assert watched in ("healthy", "degraded", "unhealthy"), watched
        runs = _rows(db, "SELECT trigger, flow_run_id FROM tier_runs WHERE state = 'completed'")
        assert runs and {trigger for trigger, _ in runs} == {"schedule"}
        assert {run_id for _, run_id in runs} & set(in_prefect)

        running = " ".join(_processes_of(data).values())
        for what in ("prefect server start", " serve ", "healthmon.sandbox", " api ", " dashboard "):
            assert what in running, (what, running)
        earlier_run = next(iter(in_prefect))
        demo.stop(signal.SIGINT)  # Ctrl-C
        assert not any(port_in_use(port) for port in (sandbox_port, *ports.values()))
        assert not http_ok(f"{api}/health")
    finally:
        demo.kill()

    demo = DemoProcess(tmp_path, data, "--no-ui", "--fresh")
    try:
        banner = demo.banner()
        assert f"store       SQLite {db} (new)" in banner and "keeps the earlier store" not in banner
        assert _planted_alerts(db) == 0
        # the Prefect home went too: the new server never heard of the earlier runs
        assert httpx.get(f"{demo.prefect_api()}/flow_runs/{earlier_run}", timeout=10).status_code == 404
        demo.stop(signal.SIGTERM)  # as systemd or `kill` stops it
    finally:
        demo.kill()

    # never a store the user named
    plant_open_alert(tmp_path / "theirs.db")
    theirs = {"HEALTHMON_DATABASE_URL": f"sqlite:///{tmp_path / 'theirs.db'}"}
    demo = DemoProcess(tmp_path, data, "--no-ui", "--fresh", env=theirs)
    try:
        assert demo.proc.wait(timeout=60) == 2
        assert "--fresh: HEALTHMON_DATABASE_URL is set" in demo.output()
        assert _planted_alerts(tmp_path / "theirs.db") == 1
        assert db.exists()
    finally:
        demo.kill()
