"""The demo's fixed fault scenario and the sandbox tenants' display names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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


def tenant_id_of(number: int) -> str:
    # sandbox.state.make_tenant's ids; the faults are scoped by them
    return f"tenant-{number:04d}"


def in_scope(fault: ScenarioFault, tenants: int) -> bool:
    """Whether `fault` applies to a sandbox of `tenants` tenants."""
    return not (isinstance(fault.tenant, int) and fault.tenant > tenants)


def scenario_requests(scenario: Sequence[ScenarioFault], tenants: int) -> list[dict[str, Any]]:
    """Control-API bodies for the scenario; faults aimed at tenants beyond `tenants` are left out."""
    bodies = []
    for fault in scenario:
        if not in_scope(fault, tenants):
            continue
        scope = tenant_id_of(fault.tenant) if isinstance(fault.tenant, int) else fault.tenant
        bodies.append({"service": fault.service, "kind": fault.kind, "tenant": scope, **fault.params})
    return bodies
