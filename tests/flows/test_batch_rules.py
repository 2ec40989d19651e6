"""A batch's effective threshold rules: tenants without rows of their own share one mapping,
and a tenant's own rows still win over the service-wide layers."""

from __future__ import annotations

from healthmon.flows.pipeline import _rules
from healthmon.storage.thresholds import set_override
from tests.support.app import AppFactory


def test_tenants_without_rows_share_the_service_rules(db_url: str, make_app: AppFactory) -> None:
    runtime = make_app(db_url, {"services": {"shopify": {"thresholds": {"latency_ms": {"degraded": 900}}}}})
    set_override(runtime.engine, "shopify", None, "rate_limit_remaining_pct", 30, 10, True, "test")
    set_override(runtime.engine, "shopify", "t-2", "latency_ms", 100, 200, False, "test")
    rules = _rules(runtime, "shopify", ["t-1", "t-2", "t-3"])
    assert rules["t-1"] is rules["t-3"]
    # config over the defaults, the service-wide row over both
    assert rules["t-1"]["latency_ms"].degraded == 900
    headroom = rules["t-1"]["rate_limit_remaining_pct"]
    assert (headroom.degraded, headroom.inverse) == (30, True)
    # the tenant's own row over the rest, and only for that tenant
    assert (rules["t-2"]["latency_ms"].degraded, rules["t-2"]["latency_ms"].unhealthy) == (100, 200)
    assert rules["t-2"]["rate_limit_remaining_pct"].degraded == 30
    assert rules["t-1"]["latency_ms"].degraded == 900
