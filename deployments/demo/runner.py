"""The demo's run: setup, the children (the Prefect server, the sandbox, `healthmon serve`, the
API and the dashboard), the banner and the stop. The tiers are Prefect deployments served by the
`healthmon serve` child, as on a real box (see the package's docstring)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import textwrap
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import Engine

from healthmon.config import ConfigError, HealthmonConfig
from healthmon.deployments.demo.bed import (
    DemoEnv,
    Paths,
    clear_store,
    demo_settings,
    prepare_environment,
    write_config,
    write_env_file,
)
from healthmon.deployments.demo.errors import DemoError
from healthmon.deployments.demo.scenario import (
    SCENARIO,
    SHOP_NAMES,
    in_scope,
    scenario_requests,
    tenant_id_of,
)
from healthmon.deployments.demo.supervisor import (
    SANDBOX_START_TIMEOUT_S,
    Child,
    check_ports,
    free_port,
    kill_children,
    start_child,
    stop_children,
    wait_healthy,
    watch_children,
)
from healthmon.deployments.leftovers import clear_leftovers
from healthmon.deployments.serve import prefect_server_command
from healthmon.monitors.result import Tier

if TYPE_CHECKING:
    from healthmon.deployments.mailcatcher import MailCatcher
    from healthmon.storage.crypto import Cipher

log = logging.getLogger("healthmon.demo")

#: seconds between runs of each tier: short enough that alerts (2 confirmed failures) open
#: within a minute, long enough that one run never queues behind the previous one
TIER_INTERVALS: Mapping[Tier, float] = {
    Tier.CRITICAL: 10.0,
    Tier.CORE: 15.0,
    Tier.INTEGRATION: 20.0,
    Tier.EXTERNAL: 30.0,
}
#: a deliver run is a flow-run process (about 5 s of CPU to start: Prefect and healthmon imported
#: afresh): every 30 s, lingering 15 s of each (serve.DELIVERY_ROOM_S), rather than every 10 s
DELIVERY_INTERVAL_S = 30.0
#: the critical tier's interval when it has only the demo's Prefect server to check
PREFECT_ONLY_CRITICAL_S = 30.0
RECEIVED_POLL_S = 2.0
#: 7-13 s on a fresh database when measured (DESIGN.md); a busy 2-core box is slower
PREFECT_START_TIMEOUT_S = 90.0
#: serve cancels the flow runs in progress and pauses its schedules before it exits
SERVE_STOP_TIMEOUT_S = 30.0
#: a closed terminal (SIGHUP) stops the demo as cleanly as Ctrl-C
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CLI = [sys.executable, "-m", "healthmon.deployments.cli"]
#: a banner line too long for one: under its value, whole names kept on one line
_WRAPPED: dict[str, Any] = {"subsequent_indent": " " * 14, "break_on_hyphens": False}


@dataclass(frozen=True)
class DemoOptions:
    """What `healthmon demo` was asked for; a port of 0 is any free one."""

    api_port: int = 8000
    dashboard_port: int = 8501
    sandbox_port: int = 0
    prefect_port: int = 0
    tenants: int = 12
    data_dir: Path = Path(".demo")
    ui: bool = True
    fresh: bool = False
    #: multiplies every interval; tests use it to go faster
    interval_scale: float = 1.0

    def problem(self) -> str | None:
        """What is wrong with these options (naming the option), or None."""
        if self.tenants < 1:
            return "--tenants: must be at least 1"
        if self.interval_scale <= 0:
            return "--interval-scale: must be more than 0"
        return None


@dataclass(frozen=True)
class StoreState:
    """What the banner says about the store this start found."""

    #: whether it held an earlier run's data (the demo's own file existed, or a database given)
    kept: bool
    open_alerts: int
    tenants: int


class Demo:
    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.sandbox_port = options.sandbox_port or free_port()
        self.prefect_port = options.prefect_port or free_port()
        self.paths = Paths(options.data_dir.expanduser().resolve())
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.prefect_url = f"http://127.0.0.1:{self.prefect_port}"
        self.prefect_api = f"{self.prefect_url}/api"
        self.delivery_s = DELIVERY_INTERVAL_S * options.interval_scale
        self.children: list[Child] = []
        self.stop = asyncio.Event()
        self.exit_code = 0
        self.signals = 0
        self.demo_env = DemoEnv({}, None, False)
        self.smtp_port: int | None = None

    @property
    def env(self) -> dict[str, str]:
        return self.demo_env.env

    # -- setup ---------------------------------------------------------------------------------

    def start_fresh(self, given: Mapping[str, str]) -> None:
        """`--fresh`: only ever the demo's own store; a database the user named is theirs."""
        if given.get("HEALTHMON_DATABASE_URL", "").strip():
            raise DemoError(
                "--fresh: HEALTHMON_DATABASE_URL is set, and --fresh empties only the demo's own "
                "SQLite store; unset it, or empty that database yourself"
            )
        clear_store(self.paths)

    def check_ports(self) -> None:
        options = self.options
        wanted = [("--sandbox-port", self.sandbox_port), ("--prefect-port", self.prefect_port)]
        if options.ui:
            wanted += [("--api-port", options.api_port), ("--dashboard-port", options.dashboard_port)]
        check_ports(wanted)

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

    def start(self, name: str, argv: list[str], env: Mapping[str, str], *, essential: bool) -> Child:
        child = start_child(name, argv, env, self.paths.logs, essential=essential)
        self.children.append(child)
        return child

    async def start_servers(self) -> None:
        """The sandbox and the Prefect server, started together and waited on together: each
        takes seconds, most of them importing and migrating."""
        argv = [sys.executable, "-m", "healthmon.sandbox", "--port", str(self.sandbox_port)]
        argv += ["--tenants", str(self.options.tenants), "--bed", str(self.paths.bed)]
        sandbox = self.start("sandbox", argv, self.env, essential=True)
        argv, env = prefect_server_command(self.paths.prefect, self.prefect_port, self.env)
        prefect = self.start("prefect", argv, env, essential=True)
        log.info("starting the sandbox and the Prefect server (logs: %s/)", self.paths.logs)
        await _all_of(
            wait_healthy(sandbox, f"{self.sandbox_url}/_sandbox/health", SANDBOX_START_TIMEOUT_S, self.stop),
            wait_healthy(prefect, f"{self.prefect_api}/health", PREFECT_START_TIMEOUT_S, self.stop),
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
        if self.demo_env.own_store:
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
            for body in scenario_requests(SCENARIO, self.options.tenants):
                answer = await client.post("/_sandbox/faults", json=body)
                if answer.status_code != 201:
                    raise DemoError(f"the sandbox refused fault {body}: {answer.text}")

    def start_ui(self) -> None:
        for name, port in (("api", self.options.api_port), ("dashboard", self.options.dashboard_port)):
            argv = [*CLI, name, "--host", "127.0.0.1", "--port", str(port)]
            self.start(name, argv, self.env, essential=False)

    def start_serving(self, config: HealthmonConfig) -> None:
        """`healthmon serve` itself, on the demo's intervals, against the demo's Prefect server:
        the deployments, the flow runs and the watchdog an operator gets."""
        argv = [*CLI, "serve", "--delivery-interval", f"{self.delivery_s:g}"]
        for tier, seconds in self.intervals(config).items():
            argv += ["--tier-interval", f"{tier.value}={seconds:g}"]
        env = {
            # the runner looks for due runs every 10 s by default: a first run started up to
            # 10 s late, and the next one, on time, skipped what that one had just checked
            "PREFECT_RUNNER_POLL_FREQUENCY": "2",
            **self.env,
            "PREFECT_API_URL": self.prefect_api,
            # serve and its flow runs keep their client state in the data dir, not ~/.prefect
            "PREFECT_HOME": str(self.paths.prefect),
        }
        self.start("serve", argv, env, essential=True)

    def intervals(self, config: HealthmonConfig) -> dict[Tier, float]:
        """The served tiers and their intervals. The critical tier is postgres, redis and the
        demo's own Prefect server (the `prefect` monitor is on wherever healthmon is served);
        with SQLite and the in-process cache only Prefect is left to watch there, so it runs
        every PREFECT_ONLY_CRITICAL_S rather than paying a subprocess every 10 s."""
        stores = {"postgres", "redis"} & set(config.services)
        critical = TIER_INTERVALS[Tier.CRITICAL] if stores else PREFECT_ONLY_CRITICAL_S
        return {
            tier: (critical if tier is Tier.CRITICAL else seconds) * self.options.interval_scale
            for tier, seconds in TIER_INTERVALS.items()
        }

    def banner(self, config: HealthmonConfig, store: StoreState, env_file: Path) -> str:
        token = self.demo_env.token or "<a token from your HEALTHMON_API_TOKENS>"
        api = f"http://127.0.0.1:{self.options.api_port}"
        lines = ["", "healthmon demo", ""]
        if self.options.ui:
            lines += [
                f"  dashboard   http://127.0.0.1:{self.options.dashboard_port}",
                f"  API         {api}",
            ]
        else:
            lines.append("  API and dashboard not started (--no-ui)")
        lines.append(f"  Prefect UI: {self.prefect_url}")
        if self.options.ui:
            lines += [
                f"  token       {token}",
                f'  try         curl -H "Authorization: Bearer {token}" {api}/api/platform/health',
            ]
        intervals = self.intervals(config)
        lines += [
            "",
            f"  sandbox     {self.sandbox_url} ({store.tenants} tenants)",
            f"  faults      {self.sandbox_url}/_sandbox/faults",
            *self.store_lines(store),
            f"  mail        {self.paths.mail}/*.eml"
            + ("" if self.smtp_port else " (off: aiosmtpd is not installed)"),
            f"  webhook     {self.paths.webhook_log} (Slack: {self.paths.slack_log})",
            f"  logs        {self.paths.logs}/ (the flow runs: serve.log)",
            f"  CLI         source {env_file} && healthmon alerts list",
            "",
            "  scenario:",
            *(
                f"    - {f.expect}" + (f" ({tenant_id_of(f.tenant)})" if isinstance(f.tenant, int) else "")
                for f in SCENARIO
                if in_scope(f, self.options.tenants)
            ),
            "",
            *textwrap.wrap(self.runs_line(intervals), 96, initial_indent="  runs        ", **_WRAPPED),
            "",
            "  Ctrl-C stops.",
            "",
        ]
        return "\n".join(lines)

    def runs_line(self, intervals: Mapping[Tier, float]) -> str:
        served = [f"tier-{tier.value} every {seconds:g} s" for tier, seconds in intervals.items()]
        # measured on a 2-core box: 12-15 s and 27 s (docs/operations.md)
        return (
            f"Prefect deployments {', '.join(served)}, deliver every {self.delivery_s:g} s; the first "
            "results about 15 s after this banner, the first alerts (a target's second failed run) "
            "after about 30 s"
        )

    def store_lines(self, store: StoreState) -> list[str]:
        cache = "Redis (HEALTHMON_REDIS_URL)" if self.env.get("HEALTHMON_REDIS_URL") else "in-process"
        where = f"SQLite {self.paths.database}" if self.demo_env.own_store else "HEALTHMON_DATABASE_URL"
        lines = [f"  store       {where}{'' if store.kept else ' (new)'}, cache {cache}"]
        if store.kept:
            alerts = f"{store.open_alerts} alert{'' if store.open_alerts == 1 else 's'} open"
            fresh = " (--fresh starts empty)" if self.demo_env.own_store else ""
            lines.append(f"              keeps the earlier store: {alerts}{fresh}")
        return lines

    # -- while it runs ---------------------------------------------------------------------------

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

    async def keep_copying_received(self) -> None:
        seen: dict[str, int] = {}
        async with httpx.AsyncClient(base_url=self.sandbox_url, timeout=5.0) as client:
            while True:
                try:
                    await self.copy_received(client, seen)
                except httpx.HTTPError as exc:
                    # the sandbox is an essential child: if it is gone, the demo stops anyway
                    log.error("webhook log: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(RECEIVED_POLL_S)

    def on_essential_exit(self) -> None:
        self.exit_code = 1
        self.stop.set()

    async def watch_children(self) -> None:
        listening = {"api": self.options.api_port, "dashboard": self.options.dashboard_port}
        await watch_children(self.children, listening, self.paths.logs, self.on_essential_exit)

    # -- the whole run ---------------------------------------------------------------------------

    def on_signal(self) -> None:
        self.signals += 1
        if self.signals == 1:
            log.info("stopping (Ctrl-C again to kill everything at once)")
            self.stop.set()
            return
        kill_children(self.children)
        os._exit(130)

    def stop_all(self) -> None:
        # serve first, while the Prefect server and the sandbox still answer: it cancels the
        # runs in flight (a sandbox gone first would record their services as unhealthy) and
        # pauses its schedules on the server
        serving = [c for c in self.children if c.name == "serve"]
        stop_children(serving, SERVE_STOP_TIMEOUT_S)
        stop_children([c for c in self.children if c not in serving])

    def prepare_store(self, config: HealthmonConfig, kept: bool) -> StoreState:
        """Migrations and the tenants, on an App of its own: the flow runs that serve starts
        build theirs from the same environment."""
        from healthmon.flows.app import build_app

        app = build_app(demo_settings(self.paths, self.env), config)
        try:
            tenants = self.load_store(app.engine, app.cipher)
            return StoreState(kept, _open_alerts(app.engine), tenants)
        finally:
            app.close()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.on_signal)
        catcher: MailCatcher | None = None
        tasks: list[asyncio.Task[None]] = []
        try:
            if self.options.fresh:
                self.start_fresh(os.environ)
            self.demo_env = prepare_environment(self.paths, os.environ)
            kept = not self.demo_env.own_store or self.paths.database.exists()
            self.check_ports()
            catcher = await self.start_mail_catcher()
            await self.start_servers()
            config = write_config(
                self.paths,
                self.sandbox_url,
                smtp_port=self.smtp_port,
                dashboard_url=f"http://127.0.0.1:{self.options.dashboard_port}" if self.options.ui else None,
                env=self.env,
            )
            leftovers = (await clear_leftovers(self.prefect_api)).line()
            if leftovers:
                log.warning("%s", leftovers)
            store = await asyncio.to_thread(self.prepare_store, config, kept)
            await self.inject_faults()
            if self.options.ui:
                self.start_ui()
            self.start_serving(config)
            env_file = write_env_file(self.paths, self.demo_env, os.environ)
            print(self.banner(config, store, env_file), flush=True)
            tasks = [
                asyncio.create_task(self.keep_copying_received()),
                asyncio.create_task(self.watch_children()),
            ]
            await self.stop.wait()
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
            await asyncio.gather(*tasks, return_exceptions=True)
            if catcher is not None:
                await catcher.stop()
            await asyncio.to_thread(self.stop_all)
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)
        log.info("stopped")
        return self.exit_code


async def _all_of(*waits: Coroutine[Any, Any, None]) -> None:
    """Await `waits` together; the first to fail cancels the others and is raised."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _open_alerts(engine: Engine) -> int:
    from healthmon.storage.alerts import OPEN, load_live

    # load_live is every alert not resolved; the log line counts the open ones only, as before
    return sum(1 for alert in load_live(engine) if alert.status == OPEN)


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


def run_demo(options: DemoOptions) -> int:
    """Run the demo until Ctrl-C or SIGTERM; returns the exit code (0 after a clean stop,
    1 if an essential child died, 2 if the demo could not start)."""
    _configure_logging()
    problem = options.problem()
    if problem:
        log.error("%s", problem)
        return 2
    try:
        return asyncio.run(Demo(options).run())
    except KeyboardInterrupt:
        # Ctrl-C before the demo's own handler was installed: nothing had been started yet
        return 130
