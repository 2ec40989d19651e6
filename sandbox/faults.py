"""The fault model: which faults exist, which service accepts which, and their parameters.

A fault is data. Applying it to a request is the job of `sandbox.pipeline` (generic kinds)
and of each vendor module (vendor-specific kinds and the vendor's own error shapes).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class FaultError(ValueError):
    """A fault request that cannot be honoured (unknown service, kind or parameter)."""


@dataclass(frozen=True, slots=True)
class Param:
    type: type
    default: Any
    choices: tuple[Any, ...] | None = None
    optional: bool = False


# Every kind with its parameters. Defaults are chosen so that a bare fault already trips
# the monitors' suggested thresholds in vendor-apis.md (for example near_limit at 95 % used
# is below Vercel's "remaining/limit < 0.1" and above Meta's "usage >= 80").
KINDS: dict[str, dict[str, Param]] = {
    "latency": {"ms": Param(int, 1000), "jitter_ms": Param(int, 0)},
    "hang": {"seconds": Param(float, 3600.0)},
    "reset": {"mode": Param(str, "rst", ("rst", "close"))},
    "http_error": {
        "status": Param(int, 500),
        "code": Param(int, None, optional=True),
        "error": Param(str, None, optional=True),
    },
    "rate_limited": {
        "retry_after": Param(float, None, optional=True),
        "code": Param(int, None, optional=True),
    },
    "revoked": {},
    "expired": {},
    "malformed_json": {},
    "oversize": {"bytes": Param(int, 5_000_000)},
    "near_limit": {"pct": Param(float, 95.0)},
    "account_disabled": {"account_status": Param(int, 2), "disable_reason": Param(int, 1)},
    "deployment_error": {
        "state": Param(str, "ERROR", ("ERROR", "CANCELED", "BUILDING", "QUEUED", "INITIALIZING")),
        "age_s": Param(float, 600.0),
    },
    "token_expiring": {"days": Param(float, 3.0), "data_access_days": Param(float, None, optional=True)},
    "statuspage": {
        "indicator": Param(str, "major", ("none", "minor", "major", "critical")),
        "component": Param(str, None, optional=True),
        "component_status": Param(
            str,
            None,
            ("operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"),
            optional=True,
        ),
        "description": Param(str, None, optional=True),
    },
    "failed_jobs": {
        "count": Param(int, 5),
        "function_id": Param(str, "healthmon-sandbox-sync-orders"),
        "spacing_s": Param(float, 30.0),
    },
    "balance_negative": {},
    "advertiser_disabled": {"status": Param(str, "STATUS_DISABLE")},
    "balance_low": {"balance": Param(float, 0.0)},
    "customer_missing": {},
    "shop_frozen": {"status": Param(int, 402, (402, 423))},
    "sse": {"priming": Param(bool, False)},
    "legacy_only": {
        "mode": Param(str, "not_found", ("not_found", "missing_session", "method_not_found_200"))
    },
    "slack_incident": {
        "title": Param(str, "Users may have trouble sending messages"),
        "type": Param(str, "incident", ("incident", "outage", "notice")),
    },
    "error_in_200": {"message": Param(str, "Unauthorized.")},
    "profile_deactivated": {},
}

GENERIC = frozenset({"latency", "hang", "reset", "http_error", "malformed_json", "oversize"})
_CREDS = frozenset({"rate_limited", "revoked", "expired"})

# Service names are the identifiers of DESIGN.md where a monitor exists; the channels and the
# Google token endpoint get their own names so that a test can break one without the other.
SERVICE_KINDS: dict[str, frozenset[str]] = {
    "shopify": GENERIC | _CREDS | {"near_limit", "shop_frozen"},
    "stripe": GENERIC | _CREDS,
    "inngest": GENERIC | _CREDS | {"failed_jobs"},
    "mcp": GENERIC | _CREDS | {"sse", "legacy_only"},
    "wise": GENERIC | _CREDS | {"profile_deactivated"},
    "meta_ads": GENERIC | _CREDS | {"near_limit", "account_disabled", "token_expiring"},
    "google_ads": GENERIC | _CREDS | {"customer_missing"},
    "google_oauth": GENERIC,
    "tiktok_ads": GENERIC | _CREDS | {"advertiser_disabled", "balance_low"},
    "mux": GENERIC | _CREDS | {"near_limit"},
    "assemblyai": GENERIC | _CREDS | {"balance_negative"},
    "slack": GENERIC | _CREDS,
    "slack_webhook": GENERIC | {"rate_limited", "revoked"},
    "yotpo": GENERIC | _CREDS,
    "loop": GENERIC | _CREDS | {"error_in_200"},
    "vercel": GENERIC | _CREDS | {"near_limit", "deployment_error"},
    "statuspage": GENERIC | {"statuspage", "slack_incident"},
    "pagerduty": GENERIC | {"rate_limited", "revoked"},
    "webhook": GENERIC,
}


@dataclass(slots=True)
class Fault:
    """One active fault. `tenant=None` applies to every tenant (or page) of the service."""

    id: int
    service: str
    kind: str
    tenant: str | None
    params: dict[str, Any]
    times: int | None = None
    created_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service": self.service,
            "tenant": self.tenant,
            "kind": self.kind,
            "times": self.times,
            "created_at": self.created_at,
            **self.params,
        }


def _coerce(name: str, spec: Param, value: Any) -> Any:
    if value is None:
        if spec.optional:
            return None
        raise FaultError(f"parameter {name!r} must not be null")
    try:
        if spec.type is bool:
            if isinstance(value, str):
                converted: Any = value.strip().lower() in ("1", "true", "yes", "on")
            else:
                converted = bool(value)
        elif spec.type is int and isinstance(value, float) and not value.is_integer():
            raise ValueError("not an integer")
        else:
            converted = spec.type(value)
    except (TypeError, ValueError) as exc:
        raise FaultError(f"parameter {name!r}: expected {spec.type.__name__}, got {value!r}") from exc
    if spec.choices is not None and converted not in spec.choices:
        raise FaultError(f"parameter {name!r} must be one of {list(spec.choices)}, got {converted!r}")
    return converted


def validate(service: str, kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check service, kind and parameters; return the parameters with defaults filled in."""
    kinds = SERVICE_KINDS.get(service)
    if kinds is None:
        raise FaultError(f"unknown service {service!r}; known: {sorted(SERVICE_KINDS)}")
    if kind not in kinds:
        raise FaultError(f"service {service!r} has no fault kind {kind!r}; it accepts {sorted(kinds)}")
    spec = KINDS[kind]
    unknown = set(params) - set(spec)
    if unknown:
        raise FaultError(f"fault {kind!r} takes no parameter(s) {sorted(unknown)}; it takes {sorted(spec)}")
    return {name: _coerce(name, p, params.get(name, p.default)) for name, p in spec.items()}


def parse_request(body: Any) -> tuple[str, str, str | None, int | None, dict[str, Any]]:
    """Split a control-endpoint body into (service, kind, tenant, times, params)."""
    if not isinstance(body, dict):
        raise FaultError("body must be a JSON object")
    rest = dict(body)
    service = rest.pop("service", None)
    kind = rest.pop("kind", None)
    tenant = rest.pop("tenant", None)
    times = rest.pop("times", None)
    if not isinstance(service, str) or not isinstance(kind, str):
        raise FaultError("'service' and 'kind' are required strings")
    if tenant is not None and not isinstance(tenant, str):
        raise FaultError("'tenant' must be a string or null")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise FaultError("'times' must be a positive integer or null")
    return service, kind, tenant, times, rest
