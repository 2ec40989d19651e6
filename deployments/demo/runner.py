"""The demo's run: setup, the loops (tiers, delivery, watchdog, webhook copy), the banner and
the stop, in this process and without Prefect (see the package's docstring for why)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import Engine

from healthmon.config import ConfigError, HealthmonConfig
from healthmon.deployments.demo.bed import (
    DemoEnv,
    Paths,
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
#: a closed terminal (SIGHUP) stops the demo as cleanly as Ctrl-C
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
        self.demo_env = DemoEnv({}, None, False)
        self.smtp_port: int | None = None

    @property
    def env(self) -> dict[str, str]:
        return self.demo_env.env

    # -- setup ---------------------------------------------------------------------------------

    def check_ports(self) -> None:
        wanted = [("--sandbox-port", self.sandbox_port)]
        if self.ui:
            wanted += [("--api-port", self.api_port), ("--dashboard-port", self.dashboard_port)]
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

    async def start_sandbox(self) -> None:
        argv = [sys.executable, "-m", "healthmon.sandbox", "--port", str(self.sandbox_port)]
        argv += ["--tenants", str(self.tenants), "--bed", str(self.paths.bed)]
        child = start_child("sandbox", argv, self.env, self.paths.logs, essential=True)
        self.children.append(child)
        await wait_healthy(child, f"{self.sandbox_url}/_sandbox/health", SANDBOX_START_TIMEOUT_S, self.stop)

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
            for body in scenario_requests(SCENARIO, self.tenants):
                answer = await client.post("/_sandbox/faults", json=body)
                if answer.status_code != 201:
                    raise DemoError(f"the sandbox refused fault {body}: {answer.text}")

    def start_ui(self) -> None:
        for name, port in (("api", self.api_port), ("dashboard", self.dashboard_port)):
            cli = [sys.executable, "-m", "healthmon.deployments.cli"]
            argv = [*cli, name, "--host", "127.0.0.1", "--port", str(port)]
            self.children.append(start_child(name, argv, self.env, self.paths.logs, essential=False))

    def banner(self, config: HealthmonConfig, tenant_count: int, env_file: Path) -> str:
        token = self.demo_env.token or "<a token from your HEALTHMON_API_TOKENS>"
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
        store = "SQLite " + str(self.paths.database) if self.demo_env.own_store else "HEALTHMON_DATABASE_URL"
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
                if in_scope(f, self.tenants)
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

    def on_sandbox_exit(self) -> None:
        self.exit_code = 1
        self.stop.set()

    async def watch_children(self) -> None:
        listening = {"api": self.api_port, "dashboard": self.dashboard_port}
        await watch_children(self.children, listening, self.paths.logs, self.on_sandbox_exit)

    # -- the whole run ---------------------------------------------------------------------------

    def on_signal(self) -> None:
        self.signals += 1
        if self.signals == 1:
            log.info("stopping (Ctrl-C again to kill everything at once)")
            self.stop.set()
            return
        kill_children(self.children)
        os._exit(130)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.on_signal)
        catcher: MailCatcher | None = None
        runtime = None
        tasks: list[asyncio.Task[None]] = []
        try:
            self.demo_env = prepare_environment(self.paths, os.environ)
            self.check_ports()
            catcher = await self.start_mail_catcher()
            await self.start_sandbox()
            config = write_config(
                self.paths,
                self.sandbox_url,
                smtp_port=self.smtp_port,
                dashboard_url=f"http://127.0.0.1:{self.dashboard_port}" if self.ui else None,
                env=self.env,
            )

            from healthmon.flows.app import build_app, use_runtime

            runtime = build_app(demo_settings(self.paths, self.env), config)
            tenant_count = await asyncio.to_thread(self.load_store, runtime.engine, runtime.cipher)
            await self.inject_faults()
            if self.ui:
                self.start_ui()
            env_file = write_env_file(self.paths, self.demo_env, os.environ)
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
