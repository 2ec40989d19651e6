"""Tenants' display names: optional on input (the id alone when none), and named beside the id
in alert objects (`tenant_name`), read at request time."""

from __future__ import annotations

from fastapi.testclient import TestClient

from healthmon.storage.tenants import display_names, label, set_integration
from tests.api.conftest import ADMIN, READ, Seeded


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


def test_display_names_of_nothing_asks_nothing(seeded: Seeded) -> None:
    assert display_names(seeded.runtime.engine, []) == {}
    assert display_names(seeded.runtime.engine, [None]) == {}
