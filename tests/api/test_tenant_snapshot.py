"""The health routes' tenant snapshot: kept for its TTL, read again in the background after
it (the old one is served meanwhile), at once after forget() (a change through this API)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from healthmon.api.tenant_snapshot import TenantSnapshots
from healthmon.flows.app import App
from healthmon.storage.tenants import set_enabled, upsert_tenants
from tests.api.conftest import ADMIN, READ, shopify
from tests.support.waiting import wait_until

SERVICES = ["postgres", "shopify"]


def add(runtime: App, tenant: str, name: str, enabled: bool = True) -> None:
    assert runtime.cipher is not None
    upsert_tenants(runtime.engine, runtime.cipher, [(tenant, name, enabled, {"shopify": shopify(tenant)})])


def test_read_again_after_the_ttl_and_served_meanwhile(runtime: App) -> None:
    clock = [0.0]
    snapshots = TenantSnapshots(ttl_s=5, clock=lambda: clock[0])
    add(runtime, "acme", "Acme")
    first = snapshots.get(runtime.engine, SERVICES)
    assert first.names == {"acme": "Acme"}
    assert first.expected["shopify"] == {("shopify", "acme")}
    assert first.expected["postgres"] == {("postgres", None)}

    add(runtime, "globex", "Globex")
    assert set_enabled(runtime.engine, "acme", False)
    clock[0] = 4.9
    assert snapshots.get(runtime.engine, SERVICES) is first  # within its TTL
    clock[0] = 5.1
    # past it: this request still gets the old snapshot, the next ones the new one
    assert snapshots.get(runtime.engine, SERVICES) is first

    def refreshed() -> bool:
        return "globex" in snapshots.get(runtime.engine, SERVICES).names

    wait_until(refreshed, 10, "the snapshot read again in the background")
    latest = snapshots.get(runtime.engine, SERVICES)
    assert latest.expected["shopify"] == {("shopify", "globex")}  # acme is disabled now
    assert latest.names_version != first.names_version


def test_forget_reads_at_once_and_other_services_too(runtime: App) -> None:
    snapshots = TenantSnapshots(ttl_s=3600)
    add(runtime, "acme", "Acme")
    first = snapshots.get(runtime.engine, SERVICES)
    add(runtime, "acme", "Acme Shop")
    assert snapshots.get(runtime.engine, SERVICES) is first
    snapshots.forget()
    assert snapshots.get(runtime.engine, SERVICES).names == {"acme": "Acme Shop"}
    # another set of scheduled services is another question: read at once
    assert "meta_ads" in snapshots.get(runtime.engine, [*SERVICES, "meta_ads"]).expected


def test_a_change_through_the_api_shows_at_once(client: TestClient, runtime: App) -> None:
    client.get("/api/platform/health", headers=READ)  # the snapshot is kept now
    created = client.post(
        "/api/tenants",
        headers=ADMIN,
        json={
            "id": "hooli",
            "name": "Hooli",
            "integrations": {
                "shopify": {"shop": "hooli.myshopify.com", "access_token": "shpat_hooli_secret_0123"}
            },
        },
    )
    assert created.status_code == 201, created.text
    services = {s["service"]: s for s in client.get("/api/platform/health", headers=READ).json()["services"]}
    assert services["shopify"]["missing"] == 1  # hooli should be checked now and has no result
    assert client.post("/api/tenants/hooli/disable", headers=ADMIN).status_code == 200
    services = {s["service"]: s for s in client.get("/api/platform/health", headers=READ).json()["services"]}
    assert "shopify" not in services
