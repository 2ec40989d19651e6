"""The application object: everything a run or a face needs, built once per process from
HEALTHMON_* and the YAML config by the entry layer, and passed explicitly from there.

This is the only place below the entry layer that reads configuration; monitors,
alerting and storage are handed what they need from here.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import aiohttp
from pydantic import ValidationError
from sqlalchemy import Engine

from healthmon.alerting.thresholds import (
    ThresholdRule,
    defaults_for,
    merge_rules,
    settable_metrics,
    with_sources,
)
from healthmon.config import ConfigError, HealthmonConfig, Settings, load_config
from healthmon.config.errors import ConfigProblems
from healthmon.config.schema import threshold_metric_problems
from healthmon.config.services import with_prefect_default
from healthmon.config.settings import load_settings
from healthmon.flows.alerting_setup import Alerting, build_alerting
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.resources import open_session
from healthmon.monitors.result import Tier
from healthmon.monitors.runner import RunPolicy
from healthmon.storage.cache import StatusCache, make_cache
from healthmon.storage.crypto import Cipher, CredentialError
from healthmon.storage.db import make_engine
from healthmon.storage.thresholds import load_overrides


@dataclass
class _SessionLease:
    session: aiohttp.ClientSession
    holders: int = 0


@dataclass
class App:
    settings: Settings
    config: HealthmonConfig
    engine: Engine
    cache: StatusCache
    cipher: Cipher | None
    rules: dict[str, dict[str, ThresholdRule]] = field(default_factory=dict)
    #: per event loop (a semaphore belongs to one loop; a finished loop's entries go with it)
    _gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = field(
        default_factory=weakref.WeakKeyDictionary, repr=False
    )
    _http: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SessionLease] = field(
        default_factory=weakref.WeakKeyDictionary, repr=False
    )

    @cached_property
    def alerting(self) -> Alerting:
        """Policy, router and channels from the config, built on first use: the faces that
        never alert do not import the channels' libraries."""
        return build_alerting(self.config)

    def service_options(self, service: str) -> dict[str, Any]:
        svc = self.config.services.get(service)
        return svc.options() if svc is not None else {}

    def service_enabled(self, service: str) -> bool:
        svc = self.config.services.get(service)
        return svc.enabled if svc is not None else True

    def scheduled_services(self, tier: Tier | None = None) -> list[str]:
        """Services a run checks when none is named, in registry order: platform services
        configured here and enabled, per-tenant services unless disabled here. The planner,
        the faces (what should report) and the watchdog (what should be fresh) all use it."""
        return [
            name
            for name, monitor in MONITORS.items()
            if (tier is None or monitor.tier is tier)
            and self.service_enabled(name)
            and (monitor.per_tenant or name in self.config.services)
        ]

    def policy(self, service: str) -> RunPolicy:
        monitor = MONITORS[service]
        svc = self.config.services.get(service)
        timeout = svc.timeout_s if svc is not None and svc.timeout_s else monitor.default_timeout_s
        run = self.config.run
        return RunPolicy(
            timeout_s=timeout,
            confirm_retries=run.confirm_retries,
            confirm_delay_s=run.confirm_delay_s,
            concurrency=min(run.max_in_flight_per_service, run.batch_in_flight),
        )

    def upstream_gate(self, service: str) -> asyncio.Semaphore:
        """One cap per upstream service, shared by every batch running in this event loop."""
        gates = self._gates.setdefault(asyncio.get_running_loop(), {})
        if service not in gates:
            gates[service] = asyncio.Semaphore(self.config.run.max_in_flight_per_service)
        return gates[service]

    @asynccontextmanager
    async def http_lease(self) -> AsyncIterator[None]:
        """One HTTP session for every batch checked in this event loop while a lease is held.

        A tier run holds one, so its batches reuse each other's connections; the last holder
        closes it. The connection count needs no cap of its own: the batch and upstream gates
        bound the checks in flight.
        """
        loop = asyncio.get_running_loop()
        lease = self._http.get(loop)
        if lease is None:
            lease = self._http[loop] = _SessionLease(open_session(limit=0))
        lease.holders += 1
        try:
            yield
        finally:
            lease.holders -= 1
            if lease.holders == 0:
                self._http.pop(loop, None)
                await lease.session.close()

    def shared_http(self) -> aiohttp.ClientSession | None:
        """The session leased in this event loop, if a tier run holds one."""
        lease = self._http.get(asyncio.get_running_loop())
        return lease.session if lease is not None else None

    def rules_for(self, service: str) -> dict[str, ThresholdRule]:
        return self.rules.get(service) or defaults_for(service)

    def effective_thresholds(self, service: str, tenant_id: str | None = None) -> list[dict[str, Any]]:
        """Each metric's effective rule for a service (and tenant), with where it comes from:
        `default` < `config` < `service override` < `tenant override`."""
        overrides = load_overrides(self.engine, service, [tenant_id])
        layers: list[tuple[str, list[ThresholdRule]]] = [
            ("default", list(defaults_for(service).values())),
            ("config", [r for r in self.rules_for(service).values() if _from_config(self, service, r)]),
            ("service override", [ThresholdRule(**r) for r in overrides.get("", [])]),
        ]
        if tenant_id:
            layers.append(("tenant override", [ThresholdRule(**r) for r in overrides.get(tenant_id, [])]))
        return [
            {**rule.model_dump(), "source": source}
            for _metric, (rule, source) in sorted(with_sources(layers).items())
        ]

    def close(self) -> None:
        self.engine.dispose()
        close = getattr(self.cache, "close", None)
        if close is not None:
            close()


def _from_config(runtime: App, service: str, rule: ThresholdRule) -> bool:
    svc = runtime.config.services.get(service)
    return svc is not None and rule.metric in svc.thresholds


def service_metrics() -> dict[str, tuple[str, ...]]:
    """What each service's monitor emits: the metrics `services.<s>.thresholds` may name, the
    same list the API and dashboard accept for overrides."""
    return {name: tuple(settable_metrics(name)) for name in MONITORS}


def _threshold_rules(
    config: HealthmonConfig,
) -> tuple[dict[str, dict[str, ThresholdRule]], list[ConfigError]]:
    rules: dict[str, dict[str, ThresholdRule]] = {}
    problems: list[ConfigError] = []
    for service, svc in config.services.items():
        layer = []
        for metric, spec in svc.thresholds.items():
            try:
                layer.append(ThresholdRule(metric=metric, **spec.model_dump()))
            except ValidationError as exc:
                msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
                problems.append(ConfigError(f"services.{service}.thresholds.{metric}", msg))
        if service in MONITORS:
            rules[service] = merge_rules(defaults_for(service).values(), layer)
    return rules, problems


def config_problems(config: HealthmonConfig) -> list[ConfigError]:
    """What the config's own schema cannot judge, as it knows no monitor: every service is one
    the registry knows, every threshold names a metric its monitor emits and is a valid rule."""
    problems = [
        ConfigError(f"services.{service}", f"unknown service (known: {', '.join(sorted(MONITORS))})")
        for service in config.services
        if service not in MONITORS
    ]
    problems += [
        ConfigError(key, message) for key, message in threshold_metric_problems(config, service_metrics())
    ]
    problems += _threshold_rules(config)[1]
    return problems


def build_app(settings: Settings | None = None, config: HealthmonConfig | None = None) -> App:
    """Raises ConfigError (ConfigProblems: every problem found) before anything is checked,
    so that a configuration mistake never becomes a health result."""
    settings = settings or load_settings()
    config = config or load_config(settings.config, metrics=service_metrics())
    try:
        services = with_prefect_default(config.services, settings.prefect_api_url)
    except ValidationError as exc:
        raise ConfigError("PREFECT_API_URL", exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    config = config.model_copy(update={"services": services})
    problems = config_problems(config)
    if problems:
        raise ConfigProblems(problems)
    cipher = None
    if settings.secret_key is not None:
        try:
            cipher = Cipher.from_setting(settings.secret_key.get_secret_value())
        except CredentialError as exc:
            raise ConfigError("HEALTHMON_SECRET_KEY", str(exc)) from None
    try:
        engine = make_engine(settings.effective_database_url)
    except Exception as exc:  # sqlalchemy raises several types for a malformed URL
        raise ConfigError(
            "HEALTHMON_DATABASE_URL", f"not a usable database URL ({type(exc).__name__})"
        ) from None
    return App(
        settings=settings,
        config=config,
        engine=engine,
        cache=make_cache(settings.redis_url),
        cipher=cipher,
        rules=_threshold_rules(config)[0],
    )


_lock = threading.Lock()
_hosted: App | None = None


def hosted_app() -> App:
    """The App of this process, for the code Prefect starts (a flow or a task run), which
    gets only JSON parameters. Called once at each such boundary and passed down from there:
    the App the entry layer hosts (`hosting`), else one built from HEALTHMON_* and the config
    on first use (a flow run that `healthmon serve` started in a process of its own)."""
    global _hosted
    with _lock:
        if _hosted is None:
            _hosted = build_app()
        return _hosted


@contextmanager
def hosting(app: App) -> Iterator[App]:
    """Make `app` the one Prefect-started code finds for the duration (the CLI, the tests)."""
    global _hosted
    with _lock:
        previous, _hosted = _hosted, app
    try:
        yield app
    finally:
        with _lock:
            _hosted = previous
