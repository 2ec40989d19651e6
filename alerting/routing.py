"""Severity (and optionally service and tenant) -> channels."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from healthmon.alerting.notification import Severity


@dataclass(frozen=True)
class Route:
    severities: frozenset[Severity]
    channels: tuple[str, ...]
    services: frozenset[str] | None = None
    tenants: frozenset[str] | None = None

    def matches(self, severity: Severity, service: str, tenant_id: str | None) -> bool:
        return (
            severity in self.severities
            and (self.services is None or service in self.services)
            and (self.tenants is None or (tenant_id is not None and tenant_id in self.tenants))
        )


def default_routes(configured: Collection[str]) -> list[Route]:
    """DESIGN.md: p1 -> every configured channel, p2 -> slack and email, p3 -> slack."""
    return [
        Route(frozenset({Severity.P1}), tuple(sorted(configured))),
        Route(frozenset({Severity.P2}), tuple(c for c in ("slack", "email") if c in configured)),
        Route(frozenset({Severity.P3}), tuple(c for c in ("slack",) if c in configured)),
    ]


class Router:
    """Every matching rule applies; channels that are not configured are left out."""

    def __init__(self, routes: Sequence[Route], configured: Collection[str]) -> None:
        self.routes = list(routes)
        self.configured = set(configured)

    def __call__(self, severity: Severity, service: str, tenant_id: str | None) -> list[str]:
        chosen: list[str] = []
        for route in self.routes:
            if route.matches(severity, service, tenant_id):
                chosen += [c for c in route.channels if c in self.configured and c not in chosen]
        return chosen
