"""`healthmon config check`: every problem of the setup, before anything runs on it.

It validates HEALTHMON_*, the config file (every problem, each with its line), the
environment the file references, and the tenants in the store (their settings against their
monitor, their credentials against HEALTHMON_SECRET_KEY). It writes nothing: no migration, no
file, no cache entry. Exit 0 when clean, 2 when any problem, 3 when the store cannot be reached
(after printing what was found before).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from healthmon.config import ConfigError, HealthmonConfig, Settings
from healthmon.config.errors import ConfigProblems
from healthmon.config.loader import load_config
from healthmon.config.services import SERVICE_MODELS
from healthmon.config.settings import load_settings_checked
from healthmon.deployments import exit_codes
from healthmon.flows.app import config_problems, service_metrics
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.tenant_settings import split_integration
from healthmon.storage.crypto import Cipher, CredentialError
from healthmon.storage.db import make_engine
from healthmon.storage.migrate import current_revision, head_revision
from healthmon.storage.tenants import TenantInfo, list_tenants, load_integration


@dataclass
class Findings:
    #: one line per problem, `<file>:<line>: <key>: <message>` when the line is known
    problems: list[str] = field(default_factory=list)
    #: what was checked, for the summary
    notes: list[str] = field(default_factory=list)
    #: why the store could not be reached, if it could not
    unreachable: str | None = None

    def add(self, problem: ConfigError, source: str | None = None) -> None:
        where = f"{source}:{problem.line}: " if source and problem.line else ""
        self.problems.append(f"{where}{problem}")

    def add_all(self, problems: Iterable[ConfigError], source: str | None = None) -> None:
        for problem in problems:
            self.add(problem, source)

    @property
    def exit_code(self) -> int:
        if self.unreachable is not None:
            return exit_codes.STORAGE
        return exit_codes.USAGE if self.problems else exit_codes.OK


def _each(error: ConfigError) -> list[ConfigError]:
    return error.problems if isinstance(error, ConfigProblems) else [error]


def _check_variables(settings: Settings, found: Findings) -> Cipher | None:
    """The variables whose value only a later step would judge: the key, the API tokens."""
    cipher = None
    if settings.secret_key is not None:
        try:
            cipher = Cipher.from_setting(settings.secret_key.get_secret_value())
        except CredentialError as exc:
            found.add(ConfigError("HEALTHMON_SECRET_KEY", str(exc)))
    if settings.api_tokens is not None:
        from healthmon.api.auth import parse_tokens

        try:
            parse_tokens(settings.api_tokens.get_secret_value())
        except ConfigError as exc:
            found.add(exc)
    return cipher


def _check_config(settings: Settings, found: Findings) -> HealthmonConfig | None:
    path = settings.config
    source = str(path) if path is not None else None
    found.notes.append(f"config {path}" if path is not None else "HEALTHMON_CONFIG unset: the empty config")
    try:
        config = load_config(path, metrics=service_metrics())
    except ConfigError as exc:
        found.add_all(_each(exc), source)
        return None
    found.add_all(config_problems(config), source)
    return config


def _store_file_missing(url: str) -> Path | None:
    """The embedded store's file when it does not exist (opening it would create it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database).expanduser()
    return None if path.exists() else path


def _check_credentials(
    engine: Engine, settings: Settings, cipher: Cipher | None, tenants: list[TenantInfo], found: Findings
) -> None:
    by_integration: dict[str, list[str]] = {}
    for tenant in tenants:
        for integration in tenant.integrations:
            by_integration.setdefault(integration, []).append(tenant.id)
    if cipher is None:
        # an unusable key is reported already, as itself
        if by_integration and settings.secret_key is None:
            count = sum(1 for t in tenants if t.integrations)
            message = f"not set, so the credentials of {count} stored tenants cannot be read"
            found.add(ConfigError("HEALTHMON_SECRET_KEY", f"{message} (their checks would all be unknown)"))
        return
    for integration, ids in sorted(by_integration.items()):
        if MONITORS.get(integration) is None or not MONITORS[integration].per_tenant:
            for tenant_id in ids:
                found.add(
                    ConfigError(
                        f"tenants.{tenant_id}.integrations.{integration}",
                        f"unknown integration (one of {', '.join(_per_tenant())})",
                    )
                )
            continue
        for tenant_id, values in _decrypted(engine, cipher, integration, ids, found).items():
            try:
                split_integration(integration, values)
            except ValueError as exc:
                found.add(ConfigError(f"tenants.{tenant_id}.integrations.{integration}", str(exc)))


def _per_tenant() -> list[str]:
    return sorted(name for name, monitor in MONITORS.items() if monitor.per_tenant)


def _decrypted(
    engine: Engine, cipher: Cipher, integration: str, ids: list[str], found: Findings
) -> dict[str, dict[str, object]]:
    """Each tenant's settings with its secrets decrypted; the ones that do not decrypt are
    reported (never their value) and left out."""
    try:
        return load_integration(engine, cipher, integration, ids)
    except CredentialError:
        pass
    # one at a time only when some token does not decrypt, to name the tenants at fault
    loaded: dict[str, dict[str, object]] = {}
    for tenant_id in ids:
        try:
            loaded.update(load_integration(engine, cipher, integration, [tenant_id]))
        except CredentialError as exc:
            key = f"tenants.{tenant_id}.integrations.{integration}"
            found.add(ConfigError(key, f"{exc} (HEALTHMON_SECRET_KEY)"))
    return loaded


def _check_platform_settings(config: HealthmonConfig, tenants: list[TenantInfo], found: Findings) -> None:
    """A per-tenant service runs for its tenants even when the config does not name it; its
    platform credentials (the app's id and secret) must then be there."""
    for service, model in SERVICE_MODELS.items():
        monitor = MONITORS.get(service)
        if monitor is None or not monitor.per_tenant or service in config.services:
            continue
        using = [t.id for t in tenants if t.enabled and service in t.integrations]
        if using and model.required_when_enabled:
            found.add(
                ConfigError(
                    f"services.{service}",
                    f"{len(using)} enabled tenants use {service}, but it is not configured: it needs "
                    f"{', '.join(model.required_when_enabled)} (or enabled: false)",
                )
            )


def _check_routes(config: HealthmonConfig, tenants: list[TenantInfo], found: Findings) -> None:
    known = {t.id for t in tenants}
    for i, route in enumerate(config.routes or []):
        for j, tenant_id in enumerate(route.tenants or []):
            if tenant_id not in known:
                found.add(ConfigError(f"routes[{i}].tenants[{j}]", f"no tenant {tenant_id!r} in the store"))


def _check_store(
    settings: Settings, config: HealthmonConfig | None, cipher: Cipher | None, found: Findings
) -> None:
    url = settings.effective_database_url
    # unset, the store is the embedded file under HEALTHMON_DATA_DIR
    variable = "HEALTHMON_DATABASE_URL" if settings.database_url else "HEALTHMON_DATA_DIR"
    missing = _store_file_missing(url)
    if missing is not None:
        message = f"the embedded store {missing} does not exist: run `healthmon db upgrade`"
        found.add(ConfigError(variable, message))
        return
    engine = make_engine(url)
    try:
        revision, head = current_revision(engine), head_revision()
        if revision != head:
            found.add(
                ConfigError(
                    variable,
                    f"the store is not migrated (at {revision or 'nothing'}, expected {head}): "
                    "run `healthmon db upgrade`",
                )
            )
            return
        tenants = list_tenants(engine)
        _check_credentials(engine, settings, cipher, tenants, found)
        if config is not None:
            _check_platform_settings(config, tenants, found)
            _check_routes(config, tenants, found)
        found.notes.append(f"{len(tenants)} tenants")
    except (OperationalError, ProgrammingError) as exc:
        found.unreachable = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    finally:
        engine.dispose()


def check_setup(store: bool = True) -> Findings:
    """Everything `healthmon config check` reports, from the environment as it is now."""
    found = Findings()
    settings, problems = load_settings_checked()
    found.add_all(problems)
    cipher = _check_variables(settings, found)
    config = _check_config(settings, found)
    if not store:
        found.notes.append("store not checked: --no-store")
    elif any(p.key == "HEALTHMON_DATABASE_URL" for p in problems):
        found.notes.append("store not checked: HEALTHMON_DATABASE_URL is unusable")
    else:
        _check_store(settings, config, cipher, found)
    return found


def run_config_check(store: bool = True, out: TextIO | None = None) -> int:
    """Print every problem, one a line, and a count; returns the exit code."""
    stream = out or sys.stdout

    def write(line: str) -> None:
        print(line, file=stream)

    found = check_setup(store=store)
    for line in found.problems:
        write(line)
    checked = "; ".join(found.notes)
    if found.unreachable is not None:
        write(f"HEALTHMON_DATABASE_URL: cannot reach healthmon's store: {found.unreachable}")
    count = len(found.problems)
    if count:
        write(f"{count} problem{'s' if count != 1 else ''} ({checked})")
    elif found.unreachable is None:
        write(f"no problems ({checked})")
    return found.exit_code
