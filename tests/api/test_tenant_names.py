"""Tenants' display names: optional on input (the id alone when none), and named beside the id
in alert objects and the health routes (`tenant_name`; the matrix: `tenant_names`), read at
request time, once per request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from healthmon.monitors.result import Status
from healthmon.storage.tenants import display_names, label, set_integration, upsert_tenants
from tests.api.conftest import ADMIN, READ, Seeded, record, result, shopify, tenants_changed


def alert_of(client: TestClient, alert_id: int) -> dict[str, object]:
    response = client.get(f"/api/alerts/{alert_id}", headers=READ)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_alert_objects_name_the_tenant_beside_its_id(client: TestClient, seeded: Seeded) -> None:
    listed = {a["id"]: a for a in client.get("/api/alerts", headers=READ).json()["alerts"]}
    shopify = listed[seeded.shopify_alert]
    assert (shopify["tenant"], shopify["tenant_name"]) == ("globex", "Globex")
    # platform alerts have neither
    assert (listed[seeded.redis_alert]["tenant"], listed[seeded.redis_alert]["tenant_name"]) == (None, None)
    one = alert_of(client, seeded.shopify_alert)
    assert (one["tenant"], one["tenant_name"]) == ("globex", "Globex")


def test_a_rename_shows_at_once_and_no_name_is_null(client: TestClient, seeded: Seeded) -> None:
    runtime = seeded.runtime
    assert runtime.cipher is not None
    set_integration(runtime.engine, runtime.cipher, "globex", "Globex Shop", True, None)
    assert alert_of(client, seeded.shopify_alert)["tenant_name"] == "Globex Shop"
    # a tenant added without a name keeps its id as the name: that is no display name
    set_integration(runtime.engine, runtime.cipher, "globex", "globex", True, None)
    assert alert_of(client, seeded.shopify_alert)["tenant_name"] is None


def test_name_is_optional_on_input_and_shown_as_the_id_alone(client: TestClient, seeded: Seeded) -> None:
    bare = client.post("/api/tenants", headers=ADMIN, json={"id": "hooli"})
    assert bare.status_code == 201, bare.text
    named = client.post("/api/tenants", headers=ADMIN, json={"id": "piedpiper", "name": "Pied Piper"})
    assert named.status_code == 201, named.text
    names = display_names(seeded.runtime.engine, ["hooli", "piedpiper", "acme", "nobody", None])
    assert names == {"piedpiper": "Pied Piper", "acme": "Acme Corp"}
    assert [label(t, names) for t in ("hooli", "piedpiper")] == ["hooli", "Pied Piper (piedpiper)"]


def test_display_names_of_many_ids_reads_the_table_once_with_the_same_answer(seeded: Seeded) -> None:
    add_nameless_tenant(seeded)
    engine = seeded.runtime.engine
    many = ["acme", "globex", "hooli", None, *(f"nobody-{n}" for n in range(150))]
    with name_reads(engine) as reads:
        assert display_names(engine, many) == {"acme": "Acme Corp", "globex": "Globex"}
    assert len(reads) == 1
    assert display_names(engine, many[:4]) == display_names(engine, many)


def test_display_names_of_nothing_asks_nothing(seeded: Seeded) -> None:
    assert display_names(seeded.runtime.engine, []) == {}
    assert display_names(seeded.runtime.engine, [None]) == {}


def add_nameless_tenant(seeded: Seeded, client: TestClient | None = None) -> None:
    """hooli: added without a name (stored as its id), with a shopify result."""
    runtime = seeded.runtime
    assert runtime.cipher is not None
    upsert_tenants(runtime.engine, runtime.cipher, [("hooli", "hooli", True, {"shopify": shopify("hooli")})])
    record(runtime, [result("shopify", "hooli", Status.HEALTHY, 88.0)])
    if client is not None:
        tenants_changed(client)


@contextmanager
def name_reads(engine: Engine) -> Iterator[list[str]]:
    """The statements that read display names (storage.tenants.display_names, or the API's
    tenant snapshot through storage.tenants.list_tenants) while inside."""
    found: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        flat = " ".join(statement.split())
        # not the read of one tenant's row by id (the tenant route's, which has the name)
        if flat.startswith("SELECT tenants.id, tenants.name") and "WHERE tenants.id =" not in flat:
            found.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def get(client: TestClient, path: str) -> dict[str, Any]:
    response = client.get(path, headers=READ)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_service_targets_name_their_tenant_and_platform_targets_none(
    client: TestClient, seeded: Seeded
) -> None:
    add_nameless_tenant(seeded, client)
    with name_reads(seeded.runtime.engine) as reads:
        body = get(client, "/api/platform/health/shopify")
    assert {t["tenant"]: t["tenant_name"] for t in body["targets"]} == {
        "acme": "Acme Corp",
        "globex": "Globex",
        "hooli": None,  # no name: the id alone
    }
    assert len(reads) <= 1  # at most one read for every target (the snapshot), not one per row
    (redis,) = get(client, "/api/platform/health/redis")["targets"]
    assert (redis["tenant"], redis["tenant_name"]) == (None, None)


def test_tenant_route_names_each_of_its_services(client: TestClient, seeded: Seeded) -> None:
    add_nameless_tenant(seeded, client)
    with name_reads(seeded.runtime.engine) as reads:
        acme = get(client, "/api/platform/health/tenant/acme")
    assert [(s["service"], s["tenant_name"]) for s in acme["services"]] == [
        ("meta_ads", "Acme Corp"),
        ("shopify", "Acme Corp"),
    ]
    assert reads == []  # the tenant row the route reads anyway has the name
    hooli = get(client, "/api/platform/health/tenant/hooli")
    assert [(s["service"], s["tenant_name"]) for s in hooli["services"]] == [("shopify", None)]
    # a service not checked yet is named too
    assert seeded.runtime.cipher is not None
    set_integration(seeded.runtime.engine, seeded.runtime.cipher, "initech", None, True, None)
    initech = get(client, "/api/platform/health/tenant/initech")
    assert [(s["reason"], s["tenant_name"]) for s in initech["services"]] == [("not checked yet", "Initech")]


def test_matrix_names_the_tenants_present_once_per_request(client: TestClient, seeded: Seeded) -> None:
    add_nameless_tenant(seeded, client)
    engine = seeded.runtime.engine
    with name_reads(engine) as reads:
        whole = get(client, "/api/platform/health/matrix")
    assert whole["tenants"] == ["acme", "globex", "hooli"]
    # initech has a name but no cell; hooli a cell but no name
    assert whole["tenant_names"] == {"acme": "Acme Corp", "globex": "Globex"}
    assert len(reads) <= 1  # the tenant snapshot, at most once
    # cells keep their fixed positions: no name among them
    assert len(whole["fields"]) == 10 and all(len(c) == 10 for c in whole["cells"])

    assert get(client, "/api/platform/health/matrix?tenant=glo")["tenant_names"] == {"globex": "Globex"}
    assert get(client, "/api/platform/health/matrix?tenant=hoo")["tenant_names"] == {}
    platform = get(client, "/api/platform/health/matrix?service=redis")
    assert (platform["tenants"], platform["tenant_names"]) == ([], {})

    # the cached view is the same, the names are read again: a rename shows with the next
    # snapshot (at once after a change through the API; within its TTL after another process's)
    assert seeded.runtime.cipher is not None
    kept = client.get("/api/platform/health/matrix", headers=READ).headers["etag"]
    set_integration(engine, seeded.runtime.cipher, "acme", "Acme Shop", True, None)
    tenants_changed(client)
    renamed = client.get("/api/platform/health/matrix", headers=READ)
    assert renamed.json()["tenant_names"]["acme"] == "Acme Shop"
    assert renamed.headers["etag"] != kept  # the names are part of the answer, so of its ETag


def test_the_schema_describes_the_names(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    target = schemas["TargetStatus"]["properties"]["tenant_name"]
    assert "display name" in target["description"]
    matrix = schemas["Matrix"]
    assert "tenant_names" in matrix["required"]
    assert "display names" in matrix["properties"]["tenant_names"]["description"]
