"""Tenants from the command line or an import file, validated before anything is written."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from config.errors import ConfigError
from config.loader import resolve_env
from monitors.tenant_settings import split_integration
from storage.tenants import IntegrationInput

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

TenantRow = tuple[str, str, bool, dict[str, IntegrationInput]]


def tenant_row(raw: Any, where: str) -> TenantRow:
    """One tenant mapping ({id, name, enabled, integrations}); ConfigError names the key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(where, "must be a mapping with id, name and integrations")
    unknown = sorted(set(raw) - {"id", "name", "enabled", "integrations"})
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}", "unknown key (expected id, name, enabled, integrations)")
    tenant_id = str(raw.get("id") or "")
    if not TENANT_ID.fullmatch(tenant_id):
        raise ConfigError(f"{where}.id", "must be 1-64 lowercase letters, digits, '-' or '_'")
    integrations = raw.get("integrations") or {}
    if not isinstance(integrations, Mapping):
        raise ConfigError(f"{where}.integrations", "must be a mapping of integration -> settings")
    parsed: dict[str, IntegrationInput] = {}
    for service, settings in integrations.items():
        key = f"{where}.integrations.{service}"
        if not isinstance(settings, Mapping):
            raise ConfigError(key, "must be a mapping of settings")
        try:
            public, secret = split_integration(str(service), settings)
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None
        parsed[str(service)] = IntegrationInput(public, secret)
    return tenant_id, str(raw.get("name") or tenant_id), bool(raw.get("enabled", True)), parsed


def read_tenants_file(path: Path, env: Mapping[str, str] | None = None) -> list[TenantRow]:
    """Every tenant of the file, or a ConfigError for the first bad one (nothing half-imported)."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from None
    except yaml.YAMLError:
        raise ConfigError(str(path), "not valid YAML") from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("tenants"), list):
        raise ConfigError("tenants", "the file must hold a list under 'tenants'")
    resolved = resolve_env(raw["tenants"], "tenants", os.environ if env is None else env)
    rows = [tenant_row(item, f"tenants[{i}]") for i, item in enumerate(resolved)]
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if row[0] in seen:
            raise ConfigError(f"tenants[{i}].id", f"duplicate tenant id {row[0]!r}")
        seen.add(row[0])
    return rows


def parse_assignments(values: list[str], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`key=value` pairs; `key=env:NAME` reads the value from the environment (keeps secrets
    out of shell history and the process list)."""
    env = os.environ if env is None else env
    parsed: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError("--set", f"{item!r} is not key=value")
        if value.startswith("env:"):
            name = value[4:]
            if name not in env:
                raise ConfigError("--set", f"{key}: environment variable {name} is not set")
            value = env[name]
        parsed[key] = value
    return parsed
