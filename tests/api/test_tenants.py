"""Tenants over HTTP: list, add (validated like the CLI's input), enable and disable."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthmon.flows.app import App
from healthmon.storage.tenants import get_tenant, load_integration
from tests.api.conftest import ADMIN, READ, TOKENS, Seeded, field_of
from tests.support.app import AppFactory

NEW = {
    "id": "umbrella",
    "name": "Umbrella",
    "integrations": {
        "shopify": {"shop": "umbrella.myshopify.com", "access_token": "shpat_umbrella_secret_0123"},
    },
}


def test_list(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/api/tenants", headers=READ)
    assert response.status_code == 200
    tenants = {t["id"]: t for t in response.json()["tenants"]}
    assert sorted(tenants) == ["acme", "globex", "initech"]
    assert tenants["acme"]["integrations"]["shopify"] == {"shop": "acme.myshopify.com"}
    assert tenants["initech"]["enabled"] is False
    assert "secret" not in response.text


def test_add(client: TestClient, seeded: Seeded) -> None:
    response = client.post("/api/tenants", headers=ADMIN, json=NEW)
    assert response.status_code == 201, response.text
    assert response.json() == {
        "id": "umbrella",
        "name": "Umbrella",
        "enabled": True,
        "integrations": {"shopify": {"shop": "umbrella.myshopify.com"}},
    }
    assert "shpat" not in response.text
    runtime = seeded.runtime
    assert runtime.cipher is not None
    # stored encrypted, readable by a tier run
    assert load_integration(runtime.engine, runtime.cipher, "shopify", ["umbrella"]) == {
        "umbrella": {"shop": "umbrella.myshopify.com", "access_token": "shpat_umbrella_secret_0123"}
    }
    duplicate = client.post("/api/tenants", headers=ADMIN, json=NEW)
    assert duplicate.status_code == 409 and "umbrella" in duplicate.json()["detail"]
    bare = client.post("/api/tenants", headers=ADMIN, json={"id": "bare", "enabled": False})
    assert bare.status_code == 201
    assert bare.json() == {"id": "bare", "name": "bare", "enabled": False, "integrations": {}}


BAD_INPUT: list[tuple[dict[str, Any], str, str]] = [
    ({"id": "Umbrella Corp"}, "id", "pattern"),
    ({"id": "x" * 65}, "id", ""),
    ({"id": None}, "id", ""),
    ({"name": ""}, "name", ""),
    ({"name": "a\x00b"}, "name", "NUL"),
    ({"integrations": {"magento": {"shop": "x"}}}, "integrations.magento", "unknown integration"),
    (
        {"integrations": {"shopify": {"shop": "umbrella.myshopify.com"}}},
        "integrations.shopify",
        "access_token",
    ),
    (
        {"integrations": {"shopify": {"shop": "u.myshopify.com", "access_token": "t", "pin": "1"}}},
        "integrations.shopify",
        "pin: not a shopify setting",
    ),
    (
        {"integrations": {"shopify": {"shop": "bad shop", "access_token": "t"}}},
        "integrations.shopify",
        "",
    ),
    ({"integrations": {"shopify": {"shop": 5, "access_token": "t"}}}, "integrations.shopify.shop", ""),
    ({"integrations": ["shopify"]}, "integrations", ""),
    ({"credentials": {}}, "credentials", "Extra inputs"),
    ({"enabled": 0}, "enabled", "boolean"),
    # a quoted boolean is refused, never read as true (nor as false)
    ({"enabled": "false"}, "enabled", "boolean"),
    ({"name": "   "}, "name", "must not be blank"),
    ({"name": "a\tb"}, "name", "control characters"),
    ({"name": "x" * 201}, "name", "at most 200"),
]


def test_add_rejects_bad_input(client: TestClient, seeded: Seeded, subtests: pytest.Subtests) -> None:
    for changes, field, words in BAD_INPUT:
        with subtests.test(changes=changes):
            response = client.post("/api/tenants", headers=ADMIN, json={**NEW, **changes})
            assert response.status_code == 422, response.text
            assert field_of(response) == [field]
            assert words in response.json()["detail"]
            assert "shpat" not in response.text
    assert get_tenant(seeded.runtime.engine, "umbrella") is None


def test_add_without_a_secret_key(db_url: str, make_app: AppFactory) -> None:
    from healthmon.api.app import create_app

    runtime: App = make_app(db_url, {}, secret_key=None)
    with TestClient(create_app(runtime, TOKENS)) as http:
        response = http.post("/api/tenants", headers=ADMIN, json=NEW)
    assert response.status_code == 503 and "HEALTHMON_SECRET_KEY" in response.json()["detail"]


def test_disable_and_enable(client: TestClient, seeded: Seeded) -> None:
    disabled = client.post("/api/tenants/acme/disable", headers=ADMIN)
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    info = get_tenant(seeded.runtime.engine, "acme")
    assert info is not None and not info.enabled
    # its recorded results still show until they age out
    services = [s["service"] for s in client.get("/api/platform/health", headers=READ).json()["services"]]
    assert "meta_ads" in services
    enabled = client.post("/api/tenants/acme/enable", headers=ADMIN)
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True
    for action in ("enable", "disable"):
        assert client.post(f"/api/tenants/nobody/{action}", headers=ADMIN).status_code == 404
        assert client.post(f"/api/tenants/Bad%00Id/{action}", headers=ADMIN).status_code == 404


def test_every_bad_field_is_named_at_once(client: TestClient, seeded: Seeded) -> None:
    body = {
        **NEW,
        "name": "  ",
        "integrations": {
            "magento": {"shop": "x"},
            "shopify": {"shop": "https://evil.com", "access_token": "t"},
        },
    }
    response = client.post("/api/tenants", headers=ADMIN, json=body)
    assert response.status_code == 422, response.text
    assert field_of(response) == ["name", "integrations.magento", "integrations.shopify"]
    assert get_tenant(seeded.runtime.engine, "umbrella") is None


def test_names_are_trimmed(client: TestClient, seeded: Seeded) -> None:
    response = client.post("/api/tenants", headers=ADMIN, json={"id": "hooli", "name": "  Hooli  "})
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Hooli"
