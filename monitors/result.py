"""The result contract every check returns (see DESIGN.md, "The result contract")."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any


class Status(enum.StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        # unknown ranks between healthy and degraded: it is not good news, but it must
        # never outrank a real failure when two verdicts are combined.
        return _RANK[self]

    def worse(self, other: Status) -> Status:
        return self if self.rank >= other.rank else other

    @classmethod
    def worst(cls, statuses: Iterable[Status]) -> Status:
        result = cls.HEALTHY
        for status in statuses:
            result = result.worse(status)
        return result


_RANK = {Status.HEALTHY: 0, Status.UNKNOWN: 1, Status.DEGRADED: 2, Status.UNHEALTHY: 3}


class Tier(enum.StrEnum):
    CRITICAL = "critical"
    CORE = "core"
    INTEGRATION = "integration"
    EXTERNAL = "external"


@dataclass(frozen=True)
class TierSpec:
    tier: Tier
    interval_s: int
    cache_ttl_s: int
    deadline_s: int

    def stale_after_s(self, stale_after: float, interval_scale: float = 1.0) -> float:
        """A latest result older than this is stale: `stale_after` intervals (DESIGN.md)."""
        return stale_after * self.interval_s * interval_scale


TIERS: Mapping[Tier, TierSpec] = {
    Tier.CRITICAL: TierSpec(Tier.CRITICAL, interval_s=60, cache_ttl_s=30, deadline_s=10),
    Tier.CORE: TierSpec(Tier.CORE, interval_s=300, cache_ttl_s=120, deadline_s=300),
    Tier.INTEGRATION: TierSpec(Tier.INTEGRATION, interval_s=900, cache_ttl_s=300, deadline_s=900),
    Tier.EXTERNAL: TierSpec(Tier.EXTERNAL, interval_s=1800, cache_ttl_s=600, deadline_s=1800),
}


#: one target: (service, tenant), the tenant None for a platform service. The one spelling of
#: "no tenant" above storage (which keys its tables with '' and its cache with '-').
TargetKey = tuple[str, str | None]

#: the config's default for `watchdog.stale_after`, in tier intervals
DEFAULT_STALE_AFTER = 2.0


def staleness(
    checked_at: datetime,
    tier: Tier,
    now: datetime,
    stale_after: float = DEFAULT_STALE_AFTER,
    interval_scale: float = 1.0,
) -> tuple[float, bool]:
    """(age in seconds, stale) of a latest result: the one rule every face and the watchdog use."""
    age = max(0.0, (now - checked_at).total_seconds())
    return round(age, 1), age > TIERS[tier].stale_after_s(stale_after, interval_scale)


@dataclass(frozen=True)
class Outcome:
    """What a monitor decides; identity is attached by the runner."""

    status: Status
    latency_ms: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def healthy(cls, latency_ms: float | None = None, **details: Any) -> Outcome:
        return cls(Status.HEALTHY, latency_ms, details)

    @classmethod
    def degraded(cls, reason: str, latency_ms: float | None = None, **details: Any) -> Outcome:
        return cls(Status.DEGRADED, latency_ms, {"reason": reason, **details})

    @classmethod
    def unhealthy(cls, reason: str, latency_ms: float | None = None, **details: Any) -> Outcome:
        return cls(Status.UNHEALTHY, latency_ms, {"reason": reason, **details})

    @classmethod
    def unknown(cls, reason: str, **details: Any) -> Outcome:
        return cls(Status.UNKNOWN, None, {"reason": reason, **details})

    @property
    def reason(self) -> str | None:
        reason = self.details.get("reason")
        return None if reason is None else str(reason)


@dataclass(frozen=True)
class CheckResult:
    service: str
    tenant_id: str | None
    tier: Tier
    status: Status
    latency_ms: float | None
    details: dict[str, Any]
    checked_at: datetime

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.service, self.tenant_id)

    @property
    def reason(self) -> str | None:
        reason = self.details.get("reason")
        return str(reason) if reason is not None else None

    def with_status(self, status: Status, **extra_details: Any) -> CheckResult:
        return replace(self, status=status, details={**self.details, **extra_details})

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "tenant": self.tenant_id,
            "tier": self.tier.value,
            "status": self.status.value,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 2),
            "details": self.details,
            "checked_at": self.checked_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            service=data["service"],
            tenant_id=data.get("tenant"),
            tier=Tier(data["tier"]),
            status=Status(data["status"]),
            latency_ms=data.get("latency_ms"),
            details=dict(data.get("details") or {}),
            checked_at=datetime.fromisoformat(data["checked_at"]),
        )
