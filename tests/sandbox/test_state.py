"""SandboxState as data: generation, indexes and the fault store, without a server."""

from __future__ import annotations

import pytest

from healthmon.sandbox import FaultError, SandboxState


def test_generation_is_deterministic_per_seed() -> None:
    one, again, other = (
        SandboxState.generate(3, seed=1),
        SandboxState.generate(3, seed=1),
        SandboxState.generate(3, seed=2),
    )
    assert one.platform == again.platform and one.tenants == again.tenants
    assert one.platform.stripe_key != other.platform.stripe_key
    assert one.tenants[0].shopify_token != other.tenants[0].shopify_token
    assert [t.id for t in one.tenants] == ["tenant-0001", "tenant-0002", "tenant-0003"]


def test_a_thousand_shops_are_cheap_and_distinct() -> None:
    state = SandboxState.generate(1000)  # how long it takes: benchmarks/wall_clock.py
    assert len(state.by_shop) == len(state.by_meta_token) == len(state.by_google_customer) == 1000
    assert len({t.tiktok_advertiser_id for t in state.tenants}) == 1000
    tenant = state.tenants[499]
    assert state.tenant(tenant.id) is tenant
    assert state.by_shop["tenant-0500.myshopify.com"] is tenant
    assert tenant.shopify_token.startswith("shpat_")
    assert tenant.meta_ad_account_id == f"act_{tenant.meta_account_id}"


def test_fault_scopes_and_counted_use() -> None:
    state = SandboxState.generate(2)
    state.add_fault("shopify", "latency", ms=10)
    state.add_fault("shopify", "latency", "tenant-0001", ms=20)
    assert state.peek_faults("shopify", "tenant-0001")["latency"].params["ms"] == 20
    assert state.peek_faults("shopify", "tenant-0002")["latency"].params["ms"] == 10
    assert state.peek_faults("stripe", None) == {}
    state.add_fault("shopify", "revoked", "tenant-0002", times=1)
    assert "revoked" in state.take_faults("shopify", "tenant-0002")
    assert "revoked" not in state.take_faults("shopify", "tenant-0002")
    assert state.clear_faults(tenant="tenant-0001") == 1
    assert state.clear_faults() == 1


def test_fault_validation() -> None:
    state = SandboxState.generate(1)
    with pytest.raises(FaultError):
        state.add_fault("stripe", "account_disabled")
    with pytest.raises(FaultError):
        state.add_fault("shopify", "near_limit", percent=5)
    fault = state.add_fault("inngest", "failed_jobs", count="3")
    assert fault.params == {"count": 3, "function_id": "healthmon-sandbox-sync-orders", "spacing_s": 30.0}


def test_recordings_are_bounded_and_resettable() -> None:
    state = SandboxState.generate(0)
    for index in range(3):
        state.record("webhook", "/webhook/x", {"n": index})
    assert [m["body"]["n"] for m in state.received("webhook")] == [0, 1, 2]
    state.reset()
    assert state.received("webhook") == []
