"""`healthmon demo`: the whole system on one machine, against the sandbox, in under a minute.

    python -m healthmon.deployments.demo [--no-ui] [--tenants 12] [--data-dir .demo] [--api-port 8000]
        [--dashboard-port 8501] [--sandbox-port 0]

What it does, in order:

1. `<data dir>` (default `.demo`): SQLite store, a Fernet key and an API token made once and
   kept (0600), unless HEALTHMON_DATABASE_URL / HEALTHMON_SECRET_KEY / HEALTHMON_API_TOKENS
   are set; the in-process cache unless HEALTHMON_REDIS_URL is set.
2. The sandbox in a child process with its generated config; the demo adds a local mail
   catcher (email), the sandbox's webhook and Slack receivers, and routes that send every
   severity somewhere visible. Migrations, then the sandbox tenants.
3. A fixed scenario of faults (SCENARIO), so the first minute shows healthy, degraded and
   unhealthy services and opens alerts.
4. Every tier in this process on demo intervals (TIER_INTERVALS), without Prefect: a Prefect
   server costs 5-13 s to start and each scheduled run a subprocess, far from "a dashboard
   within a minute". Delivery retries every 10 s; the watchdog looks every 15 s.
5. `healthmon api` and `healthmon dashboard` as children, unless `ui=False`.

Ctrl-C or SIGTERM stops the loops, then the children (SIGTERM, SIGKILL after a timeout),
and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import functools
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx
import yaml
from pydantic import SecretStr
from sqlalchemy import Engine, text

from healthmon.config import ConfigError, HealthmonConfig, Settings
from healthmon.config.loader import parse_config
from healthmon.monitors.result import Tier

if TYPE_CHECKING:
    from healthmon.deployments.mailcatcher import MailCatcher
    from healthmon.storage.crypto import Cipher

log = logging.getLogger("healthmon.demo")

#: seconds between runs of each tier: short enough that alerts (2 confirmed failures) open
#: within a minute, long enough that one run never queues behind the previous one
TIER_INTERVALS: Mapping[str, float] = {"critical": 10.0, "core": 15.0, "integration": 20.0, "external": 30.0}
DELIVERY_INTERVAL_S = 10.0
RECEIVED_POLL_S = 2.0
SANDBOX_START_TIMEOUT_S = 30.0
UI_START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
#: a closed terminal (SIGHUP) stops the demo as cleanly as Ctrl-C
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: display names for the sandbox tenants: "Tenant 0003" says nothing on a dashboard
SHOP_NAMES = (
    "Northwind Outfitters",
    "Blue Fern Tea Co.",
    "Copper Kettle Kitchen",
    "Atlas Running Supply",
    "Little Lantern Toys",
    "Saltmarsh Skincare",
    "Harbor & Pine Home",
    "Quill Stationery",
    "Ember Coffee Roasters",
    "Meadowlark Pet Goods",
    "Driftwood Surf Shop",
    "Orchard Lane Bakery",
)


@dataclass(frozen=True)
class ScenarioFault:
    """One fault of the demo scenario; `tenant` is the sandbox tenant number (1-based) or a
    status page name, None for the whole service."""

    service: str
    kind: str
    expect: str
    tenant: int | str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


# Two shops failing out of twelve stays under the cross-tenant rollup (3 tenants and 20%), so
# each gets its own alert. The slow integration is TikTok, not a third Shopify shop, for the
# same reason: any not-healthy result counts towards the rollup.
SCENARIO: tuple[ScenarioFault, ...] = (
    ScenarioFault("shopify", "revoked", "unhealthy: Shopify token rejected (401)", tenant=3),
    ScenarioFault("shopify", "revoked", "unhealthy: Shopify token rejected (401)", tenant=8),
    # 2.5-3.1 s against the 2 s latency rule: degraded, never near the 10 s check timeout
    ScenarioFault(
        "tiktok_ads",
        "latency",
        "degraded: TikTok Ads slow (latency_ms >= 2000)",
        tenant=5,
        params={"ms": 2800, "jitter_ms": 300},
    ),
    ScenarioFault(
        "meta_ads",
        "token_expiring",
        "degraded: Meta token expires in 4 days (<= 7)",
        tenant=10,
        params={"days": 4},
    ),
    ScenarioFault("stripe", "http_error", "unhealthy: Stripe answers 503", params={"status": 503}),
    ScenarioFault(
        "statuspage",
        "statuspage",
        "degraded: Shopify status page reports a minor incident",
        tenant="shopify",
        params={
            "indicator": "minor",
            "component": "Admin",
            "description": "Elevated error rates on the Admin API",
        },
    ),
)


class DemoError(Exception):
    """Something the demo cannot start without; the message says what and how to fix it."""


# -- small helpers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _write_private(path: Path, content: str) -> None:
    """Create `path` readable by its owner only; O_EXCL so an existing file is never replaced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


def kept_secret(path: Path, make: Callable[[], str]) -> str:
    """The value kept in `path`, made and stored on first use (0600)."""
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = ""
    if value:
        return value
    value = make()
    path.unlink(missing_ok=True)
    _write_private(path, value + "\n")
    return value


def _new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function that makes a child get SIGTERM when the demo dies, even by SIGKILL
    (Linux PR_SET_PDEATHSIG); resolved here, so the forked child only makes one libc call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return preexec


# -- the config ------------------------------------------------------------------------------------


def demo_config(
    bed: Mapping[str, Any],
    sandbox_url: str,
    *,
    smtp_port: int | None,
    dashboard_url: str | None,
    env: Mapping[str, str],
) -> dict[str, Any]:
    """The sandbox's generated config plus what the demo needs; secrets stay `${...}` references."""
    config: dict[str, Any] = json.loads(json.dumps(dict(bed)))  # a deep copy of plain data
    services: dict[str, Any] = config.setdefault("services", {})
    # The critical tier watches healthmon's own store and cache when they are real servers; the
    # DSN is written as a reference so that no password lands in the file.
    database_url = env.get("HEALTHMON_DATABASE_URL", "")
    if database_url.split("://", 1)[0] in ("postgres", "postgresql"):
        services.setdefault("postgres", {"dsn": "${HEALTHMON_DATABASE_URL}"})
    redis_url = env.get("HEALTHMON_REDIS_URL", "")
    if redis_url.split("://", 1)[0] in ("redis", "rediss", "unix"):
        services.setdefault("redis", {"url": "${HEALTHMON_REDIS_URL}"})

    channels: dict[str, Any] = config.setdefault("channels", {})
    root = sandbox_url.rstrip("/")
    channels.setdefault("slack", {"webhook_url": f"{root}/slack/services/T000/B000/XXXX"})
    channels.setdefault("webhook", {"url": f"{root}/webhook/healthmon"})
    if smtp_port is not None:
        channels["email"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "starttls": False,
            "from": "healthmon-demo@localhost",
            "to": ["oncall@localhost"],
        }
    # The default routes send p3 to Slack alone and the webhook only p1; the demo's point is
    # to see alerts, so every severity also reaches the webhook log, and p1/p2 the mail catcher.
    wanted = {
        "p1": ["slack", "email", "pagerduty", "webhook"],
        "p2": ["slack", "email", "webhook"],
        "p3": ["slack", "webhook"],
    }
    config["routes"] = [
        {"severity": [severity], "channels": [c for c in names if c in channels]}
        for severity, names in wanted.items()
    ]
    if dashboard_url:
        config["dashboard_url"] = dashboard_url
    return config


def tenant_id_of(number: int) -> str:
    # sandbox.state.make_tenant's ids; the faults are scoped by them
    return f"tenant-{number:04d}"


def scenario_requests(scenario: Sequence[ScenarioFault], tenants: int) -> list[dict[str, Any]]:
    """Control-API bodies for the scenario; faults aimed at tenants beyond `tenants` are left out."""
    bodies = []
    for fault in scenario:
        scope: str | None
        if isinstance(fault.tenant, int):
            if fault.tenant > tenants:
                continue
            scope = tenant_id_of(fault.tenant)
        else:
            scope = fault.tenant
        bodies.append({"service": fault.service, "kind": fault.kind, "tenant": scope, **fault.params})
    return bodies


# -- children ----------------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    #: a child whose exit ends the demo (the sandbox); the others are reported and left alone
    essential: bool
    reported_exit: bool = False

    def tail(self, lines: int = 5) -> str:
        try:
            content = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return "\n".join("    " + line for line in content[-lines:])


def start_child(name: str, argv: list[str], env: Mapping[str, str], logs: Path, *, essential: bool) -> Child:
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    log_file = log_path.open("ab")
    # Its own process group: Ctrl-C in the terminal reaches the demo alone, which stops the
    # tier loops before the sandbox goes (a sandbox dying first would record every service
    # of a run in flight as unhealthy). Killing the group also takes any grandchildren.
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=dict(env),
        process_group=0,
        preexec_fn=_die_with_parent(),
    )
    return Child(name, proc, log_path, log_file, essential)


def stop_children(children: Sequence[Child], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM every child's group, wait, then SIGKILL what is left; always reaps them."""

    def signal_group(child: Child, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.proc.pid, sig)

    for child in children:
        if child.proc.poll() is None:
            signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for child in children:
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s: killing it", child.name, timeout_s)
            signal_group(child, signal.SIGKILL)
            child.proc.wait()
        # the group may hold grandchildren that outlived their parent
        signal_group(child, signal.SIGKILL)
        child.log_file.close()


# -- the demo --------------------------------------------------------------------------------------


@dataclass
class Paths:
    root: Path

    @property
    def bed(self) -> Path:
        return self.root / "sandbox"

    @property
    def config(self) -> Path:
        return self.root / "healthmon.yaml"

    @property
    def mail(self) -> Path:
        return self.root / "mail"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def webhook_log(self) -> Path:
        return self.root / "webhook.log"

    @property
    def slack_log(self) -> Path:
        return self.root / "slack.log"


class Demo:
    def __init__(
        self,
        *,
        api_port: int,
        dashboard_port: int,
        sandbox_port: int,
        tenants: int,
        data_dir: Path,
        ui: bool,
        interval_scale: float,
    ) -> None:
        self.api_port = api_port
        self.dashboard_port = dashboard_port
        self.sandbox_port = sandbox_port or free_port()
        self.tenants = tenants
        self.paths = Paths(data_dir.expanduser().resolve())
        self.ui = ui
        self.interval_scale = interval_scale
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.children: list[Child] = []
        self.stop = asyncio.Event()
        self.exit_code = 0
        self.signals = 0
        self.env: dict[str, str] = {}
        self.token: str | None = None
        self.own_store = False
        self.smtp_port: int | None = None

    # -- setup ---------------------------------------------------------------------------------

    def prepare_environment(self) -> None:
        """HEALTHMON_* for this process's runtime and for every child, made once and kept."""
        root = self.paths.root
        root.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["HEALTHMON_DATA_DIR"] = str(root)
        if not env.get("HEALTHMON_DATABASE_URL", "").strip():
            env["HEALTHMON_DATABASE_URL"] = f"sqlite:///{root / 'healthmon.db'}"
            self.own_store = True
        if not env.get("HEALTHMON_SECRET_KEY", "").strip():
            env["HEALTHMON_SECRET_KEY"] = kept_secret(root / "secret.key", _new_fernet_key)
        if not env.get("HEALTHMON_API_TOKENS", "").strip():
            self.token = kept_secret(root / "api-token", lambda: secrets.token_urlsafe(24))
            env["HEALTHMON_API_TOKENS"] = f"demo:admin:{self.token}"
        env["HEALTHMON_CONFIG"] = str(self.paths.config)
        # Streamlit would otherwise ask for an e-mail address on stdin and phone home.
        env.setdefault("STREAMLIT_SERVER_HEADLESS", "true")
        env.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
        env["PYTHONUNBUFFERED"] = "1"
        self.env = env

    def check_ports(self) -> None:
        wanted = [("--sandbox-port", self.sandbox_port)]
        if self.ui:
            wanted += [("--api-port", self.api_port), ("--dashboard-port", self.dashboard_port)]
        for option, port in wanted:
            if port_in_use(port):
                raise DemoError(f"{option}: port {port} is already in use (pick another)")

    async def start_mail_catcher(self) -> MailCatcher | None:
        try:
            from healthmon.deployments.mailcatcher import MailCatcher
        except ModuleNotFoundError as exc:
            log.warning("no mail catcher (%s): alerts go to Slack and the webhook log only", exc)
            return None

        def announce(number: int, path: Path, subject: str) -> None:
            log.info("mail %s: %s", path.name, subject)

        catcher = MailCatcher(self.paths.mail, announce)
        self.smtp_port = await catcher.start()
        return catcher

    async def start_sandbox(self) -> None:
        argv = [sys.executable, "-m", "sandbox", "--port", str(self.sandbox_port)]
        argv += ["--tenants", str(self.tenants), "--bed", str(self.paths.bed)]
        child = start_child("sandbox", argv, self.env, self.paths.logs, essential=True)
        self.children.append(child)
        deadline = time.monotonic() + SANDBOX_START_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if child.proc.poll() is not None:
                    raise DemoError(f"the sandbox exited with code {child.proc.returncode}:\n{child.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    answer = await client.get(f"{self.sandbox_url}/_sandbox/health")
                    if answer.status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise DemoError(f"the sandbox did not answer within {SANDBOX_START_TIMEOUT_S:.0f} s")
                if self.stop.is_set():
                    raise DemoError("stopped while the sandbox was starting")
                await asyncio.sleep(0.1)

    def write_config(self) -> HealthmonConfig:
        bed = yaml.safe_load((self.paths.bed / "healthmon.yaml").read_text()) or {}
        raw = demo_config(
            bed,
            self.sandbox_url,
            smtp_port=self.smtp_port,
            dashboard_url=f"http://127.0.0.1:{self.dashboard_port}" if self.ui else None,
            env=self.env,
        )
        header = (
            "# Written by `healthmon demo` on every start: the sandbox's config (sandbox/bed.py) plus\n"
            "# the demo's channels and routes. Fake credentials, worthless outside the sandbox.\n"
        )
        self.paths.config.write_text(header + yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return parse_config(raw, env=self.env, source=str(self.paths.config))

    def settings(self) -> Settings:
        return Settings(
            database_url=self.env["HEALTHMON_DATABASE_URL"],
            redis_url=self.env.get("HEALTHMON_REDIS_URL") or None,
            secret_key=SecretStr(self.env["HEALTHMON_SECRET_KEY"]),
            config=self.paths.config,
            api_tokens=SecretStr(self.env["HEALTHMON_API_TOKENS"]),
            data_dir=self.paths.root,
        )

    def load_store(self, engine: Engine, cipher: Cipher | None) -> int:
        """Migrations, then the sandbox tenants under shop-like names; returns how many."""
        assert cipher is not None, "prepare_environment always sets HEALTHMON_SECRET_KEY"
        from healthmon.flows.tenant_input import read_tenants_file
        from healthmon.storage.migrate import upgrade
        from healthmon.storage.tenants import list_tenants, remove_tenant, upsert_tenants

        upgrade(engine)
        rows = read_tenants_file(self.paths.bed / "tenants.yaml", env={})
        named = [
            (tid, SHOP_NAMES[i] if i < len(SHOP_NAMES) else name, enabled, integrations)
            for i, (tid, name, enabled, integrations) in enumerate(rows)
        ]
        count = upsert_tenants(engine, cipher, named)
        if self.own_store:
            # A smaller --tenants than last time: the tenants left over have no shop in this
            # sandbox and would all turn unhealthy. Only the demo's own store is pruned, never
            # a database the user pointed us at.
            keep = {row[0] for row in rows}
            for tenant in list_tenants(engine):
                if tenant.id not in keep:
                    remove_tenant(engine, tenant.id)
        return count

    async def inject_faults(self) -> None:
        async with httpx.AsyncClient(base_url=self.sandbox_url, timeout=5.0) as client:
            (await client.delete("/_sandbox/faults")).raise_for_status()
            for body in scenario_requests(SCENARIO, self.tenants):
                answer = await client.post("/_sandbox/faults", json=body)
                if answer.status_code != 201:
                    raise DemoError(f"the sandbox refused fault {body}: {answer.text}")

    def start_ui(self) -> None:
        for name, port in (("api", self.api_port), ("dashboard", self.dashboard_port)):
            cli = [sys.executable, "-m", "healthmon.deployments.cli"]
            argv = [*cli, name, "--host", "127.0.0.1", "--port", str(port)]
            self.children.append(start_child(name, argv, self.env, self.paths.logs, essential=False))

    def write_env_file(self) -> Path:
        """A file to `source` so that `healthmon alerts list` and friends use the demo's store."""
        path = self.paths.root / "demo.env"
        lines = [
            "# source this file to point the healthmon command at the running demo",
            f"export HEALTHMON_DATA_DIR={self.paths.root}",
            f"export HEALTHMON_CONFIG={self.paths.config}",
        ]
        if self.own_store:
            lines.append(f"export HEALTHMON_DATABASE_URL={self.env['HEALTHMON_DATABASE_URL']}")
        key_given = bool(os.environ.get("HEALTHMON_SECRET_KEY", "").strip())  # empty means unset
        if (self.paths.root / "secret.key").exists() and not key_given:
            lines.append(f'export HEALTHMON_SECRET_KEY="$(cat {self.paths.root / "secret.key"})"')
        if self.token is not None:
            lines.append(f'export HEALTHMON_API_TOKENS="demo:admin:$(cat {self.paths.root / "api-token"})"')
        path.unlink(missing_ok=True)
        _write_private(path, "\n".join(lines) + "\n")
        return path

    def banner(self, config: HealthmonConfig, tenant_count: int, env_file: Path) -> str:
        token = self.token or "<a token from your HEALTHMON_API_TOKENS>"
        api = f"http://127.0.0.1:{self.api_port}"
        lines = ["", "healthmon demo", ""]
        if self.ui:
            lines += [
                f"  dashboard   http://127.0.0.1:{self.dashboard_port}",
                f"  API         {api}",
                f"  token       {token}",
                f'  try         curl -H "Authorization: Bearer {token}" {api}/api/platform/health',
            ]
        else:
            lines.append("  API and dashboard not started (--no-ui)")
        store = (
            "SQLite " + str(self.paths.root / "healthmon.db") if self.own_store else "HEALTHMON_DATABASE_URL"
        )
        cache = "Redis (HEALTHMON_REDIS_URL)" if self.env.get("HEALTHMON_REDIS_URL") else "in-process"
        lines += [
            "",
            f"  sandbox     {self.sandbox_url} ({tenant_count} tenants)",
            f"  faults      {self.sandbox_url}/_sandbox/faults",
            f"  store       {store}, cache {cache}",
            f"  mail        {self.paths.mail}/*.eml"
            + ("" if self.smtp_port else " (off: aiosmtpd is not installed)"),
            f"  webhook     {self.paths.webhook_log} (Slack: {self.paths.slack_log})",
            f"  logs        {self.paths.logs}/",
            f"  CLI         source {env_file} && healthmon alerts list",
            "",
            "  scenario:",
            *(
                f"    - {f.expect}" + (f" ({tenant_id_of(f.tenant)})" if isinstance(f.tenant, int) else "")
                for f in SCENARIO
                if not (isinstance(f.tenant, int) and f.tenant > self.tenants)
            ),
            "",
            "  tiers every "
            + ", ".join(f"{t} {self.interval(t):g} s" for t in TIER_INTERVALS if self.tier_wanted(t, config))
            + (
                "" if self.tier_wanted("critical", config) else " (critical: no PostgreSQL or Redis to check)"
            ),
            "  an alert opens on a target's second failed run: the first within about 20 s. Ctrl-C stops.",
            "",
        ]
        return "\n".join(lines)

    # -- loops ---------------------------------------------------------------------------------

    def interval(self, tier: str) -> float:
        return TIER_INTERVALS[tier] * self.interval_scale

    @staticmethod
    def tier_wanted(tier: str, config: HealthmonConfig) -> bool:
        # The critical tier is postgres and redis; with SQLite and the in-process cache there is
        # nothing for it to check, and an empty run every 10 s would only add log noise.
        return tier != "critical" or bool({"postgres", "redis"} & set(config.services))

    async def every(self, interval_s: float, work: Callable[[], Awaitable[None]], what: str) -> None:
        """Run `work`, then again `interval_s` after it started (at once if it took longer):
        one task per loop, so runs of one kind never overlap and a slow one delays only itself."""
        while True:
            started = time.monotonic()
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("%s failed: %s: %s", what, type(exc).__name__, exc)
            await asyncio.sleep(max(0.0, started + interval_s - time.monotonic()))

    async def run_tier(self, tier: str, engine: Engine) -> None:
        from healthmon.flows.pipeline import execute_tier

        summary = await execute_tier(tier, force=True, trigger="demo")
        open_alerts = await asyncio.to_thread(_open_alerts, engine)
        log.info(
            "%-11s checked %3d  not healthy %2d  notified %2d  open alerts %2d  %5.2f s",
            tier,
            summary.checked,
            summary.not_healthy,
            summary.notifications,
            open_alerts,
            summary.duration_s,
        )

    async def deliver(self) -> None:
        from healthmon.flows.alerts import deliver_pending

        report = await deliver_pending()
        if report.delivered or report.failed:
            log.info("delivery retries: %d delivered, %d failed", report.delivered, report.failed)

    async def copy_received(self, client: httpx.AsyncClient, seen: dict[str, int]) -> None:
        """Append what the sandbox's webhook and Slack receivers got to the demo's log files."""
        for channel, path in (("webhook", self.paths.webhook_log), ("slack", self.paths.slack_log)):
            answer = await client.get(f"/_sandbox/received/{channel}")
            answer.raise_for_status()
            messages = answer.json().get("messages") or []
            new = messages[seen.get(channel, 0) :]
            seen[channel] = len(messages)
            if new:
                lines = "".join(json.dumps(m, sort_keys=True, default=str) + "\n" for m in new)
                await asyncio.to_thread(_append, path, lines)
                if channel == "webhook":
                    for message in new:
                        body = message.get("body")
                        if isinstance(body, dict):
                            log.info(
                                "webhook %s %s: %s", body.get("kind"), body.get("severity"), body.get("title")
                            )

    async def watch_children(self) -> None:
        waiting = {c.name for c in self.children if not c.essential}
        started = time.monotonic()
        while True:
            for child in self.children:
                code = child.proc.poll()
                if code is not None and not child.reported_exit:
                    child.reported_exit = True
                    waiting.discard(child.name)
                    if child.essential:
                        log.error("%s exited with code %s; stopping\n%s", child.name, code, child.tail())
                        self.exit_code = 1
                        self.stop.set()
                    else:
                        log.warning(
                            "%s exited with code %s (log: %s)\n%s",
                            child.name,
                            code,
                            child.log_path,
                            child.tail(),
                        )
            for name, port in (("api", self.api_port), ("dashboard", self.dashboard_port)):
                if name in waiting and port_in_use(port):
                    waiting.discard(name)
                    log.info("%s ready on http://127.0.0.1:%d", name, port)
            if waiting and time.monotonic() - started > UI_START_TIMEOUT_S:
                for name in sorted(waiting):
                    log.warning(
                        "%s is not listening after %.0f s (log: %s)",
                        name,
                        UI_START_TIMEOUT_S,
                        self.paths.logs / f"{name}.log",
                    )
                waiting.clear()
            await asyncio.sleep(0.5)

    # -- the whole run ---------------------------------------------------------------------------

    def on_signal(self) -> None:
        self.signals += 1
        if self.signals == 1:
            log.info("stopping (Ctrl-C again to kill everything at once)")
            self.stop.set()
            return
        for child in self.children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.proc.pid, signal.SIGKILL)
        os._exit(130)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.on_signal)
        catcher: MailCatcher | None = None
        runtime = None
        tasks: list[asyncio.Task[None]] = []
        try:
            self.prepare_environment()
            self.check_ports()
            catcher = await self.start_mail_catcher()
            await self.start_sandbox()
            config = self.write_config()

            from healthmon.flows.runtime import build_runtime, use_runtime

            runtime = build_runtime(self.settings(), config)
            tenant_count = await asyncio.to_thread(self.load_store, runtime.engine, runtime.cipher)
            await self.inject_faults()
            if self.ui:
                self.start_ui()
            env_file = self.write_env_file()
            print(self.banner(config, tenant_count, env_file), flush=True)

            with use_runtime(runtime):
                engine = runtime.engine
                for tier in TIER_INTERVALS:
                    if self.tier_wanted(tier, config):
                        tasks.append(
                            asyncio.create_task(
                                self.every(
                                    self.interval(tier), functools.partial(self.run_tier, tier, engine), tier
                                )
                            )
                        )
                tasks.append(
                    asyncio.create_task(
                        self.every(DELIVERY_INTERVAL_S * self.interval_scale, self.deliver, "delivery")
                    )
                )
                client = httpx.AsyncClient(base_url=self.sandbox_url, timeout=5.0)
                seen: dict[str, int] = {}
                tasks.append(
                    asyncio.create_task(
                        self.every(RECEIVED_POLL_S, lambda: self.copy_received(client, seen), "webhook log")
                    )
                )
                tasks.append(asyncio.create_task(self.watch_children()))
                from healthmon.flows.watchdog import watch_forever

                # the same watchdog as serve's, on the demo's intervals
                intervals = {Tier(t): self.interval(t) for t in TIER_INTERVALS}
                tasks.append(asyncio.create_task(watch_forever(runtime, intervals, self.stop)))
                try:
                    await self.stop.wait()
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    await client.aclose()
        except DemoError as exc:
            log.error("%s", exc)
            self.exit_code = 2
        except ConfigError as exc:
            log.error("config: %s", exc)
            self.exit_code = 2
        except Exception:
            # still through `finally`, so no child outlives a failed start
            log.exception("the demo failed")
            self.exit_code = 1
        finally:
            for task in tasks:
                task.cancel()
            if catcher is not None:
                await catcher.stop()
            await asyncio.to_thread(stop_children, self.children)
            if runtime is not None:
                runtime.close()
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)
        log.info("stopped")
        return self.exit_code


def _open_alerts(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM platform_alerts WHERE status = 'open'")).scalar_one()
        )


def _append(path: Path, content: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(content)


def _configure_logging() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    # aiosmtpd logs every SMTP session at INFO; the demo says one line per message itself
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def run_demo(
    *,
    api_port: int = 8000,
    dashboard_port: int = 8501,
    sandbox_port: int = 0,
    tenants: int = 12,
    data_dir: Path = Path(".demo"),
    ui: bool = True,
    interval_scale: float = 1.0,
) -> int:
    """Run the demo until Ctrl-C or SIGTERM; returns the exit code (0 after a clean stop,
    1 if the sandbox died, 2 if the demo could not start)."""
    _configure_logging()
    if tenants < 1:
        log.error("--tenants: must be at least 1")
        return 2
    if interval_scale <= 0:
        log.error("--interval-scale: must be more than 0")
        return 2
    demo = Demo(
        api_port=api_port,
        dashboard_port=dashboard_port,
        sandbox_port=sandbox_port,
        tenants=tenants,
        data_dir=data_dir,
        ui=ui,
        interval_scale=interval_scale,
    )
    try:
        return asyncio.run(demo.run())
    except KeyboardInterrupt:
        # Ctrl-C before the demo's own handler was installed: nothing had been started yet
        return 130


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m healthmon.deployments.demo", description="healthmon demo"
    )
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--dashboard-port", type=int, default=8501)
    parser.add_argument("--sandbox-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--tenants", type=int, default=12)
    parser.add_argument("--data-dir", type=Path, default=Path(".demo"))
    parser.add_argument("--no-ui", dest="ui", action="store_false", help="no API and dashboard")
    # multiplies every interval; tests use it to go faster
    parser.add_argument("--interval-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return run_demo(
        api_port=args.api_port,
        dashboard_port=args.dashboard_port,
        sandbox_port=args.sandbox_port,
        tenants=args.tenants,
        data_dir=args.data_dir,
        ui=args.ui,
        interval_scale=args.interval_scale,
    )


if __name__ == "__main__":
    sys.exit(main())
