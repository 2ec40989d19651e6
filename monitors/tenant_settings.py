"""A tenant's integration settings, checked against what its monitor accepts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from healthmon.monitors.registry import MONITORS

#: a tenant's id, wherever one is given (tenant input, silences, thresholds, the API's paths)
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def per_tenant_services() -> list[str]:
    return sorted(name for name, m in MONITORS.items() if m.per_tenant)


def split_integration(service: str, settings: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public, secret) settings of one integration; ValueError naming the key on bad input."""
    monitor = MONITORS.get(service)
    if monitor is None or not monitor.per_tenant:
        raise ValueError(f"unknown integration {service!r} (one of {', '.join(per_tenant_services())})")
    allowed = set(monitor.tenant_public_keys) | set(monitor.tenant_secret_keys)
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise ValueError(f"{unknown[0]}: not a {service} setting (expected {', '.join(sorted(allowed))})")
    values = {k: str(v).strip() for k, v in settings.items() if v is not None}
    monitor.validate_tenant(values)
    public = {k: v for k, v in values.items() if k in monitor.tenant_public_keys}
    secret = {k: v for k, v in values.items() if k in monitor.tenant_secret_keys}
    return public, secret
