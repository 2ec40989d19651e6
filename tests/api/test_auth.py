"""Bearer tokens: who may call what, and how a bad HEALTHMON_API_TOKENS is reported."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from healthmon.api.app import create_app
from healthmon.api.auth import parse_tokens
from healthmon.config.errors import ConfigError
from healthmon.flows.app import App
from healthmon.storage.alerts import add_silence
from tests.api.conftest import ADMIN, ADMIN_TOKEN, NOW, READ, READ_TOKEN, Seeded

READS = [
    "/api/platform/health",
    "/api/platform/health/matrix",
    "/api/platform/health/shopify",
    "/api/platform/health/tenant/acme",
    "/api/alerts",
    "/api/alerts/{shopify_alert}",
    "/api/thresholds/shopify",
    "/api/tenants",
    "/api/silences",
    "/metrics",
]
#: in an order where each admin call succeeds (the override exists before it is deleted, ...)
WRITES: list[tuple[str, str, dict[str, object] | None]] = [
    ("POST", "/api/alerts/{shopify_alert}/acknowledge", None),
    ("POST", "/api/alerts/{shopify_alert}/resolve", {"note": "done"}),
    ("PUT", "/api/thresholds/shopify/latency_ms", {"degraded": 800}),
    ("DELETE", "/api/thresholds/shopify/latency_ms", None),
    ("POST", "/api/tenants", {"id": "newco"}),
    ("POST", "/api/tenants/acme/disable", None),
    ("POST", "/api/tenants/acme/enable", None),
    ("POST", "/api/silences", {"service": "redis", "reason": "x", "duration_min": 5}),
    ("POST", "/api/silences/{silence}/end", None),
]


def test_reads_need_a_token(client: TestClient, seeded: Seeded, subtests: pytest.Subtests) -> None:
    for template in READS:
        path = template.format(shopify_alert=seeded.shopify_alert)
        with subtests.test(path=path):
            for headers in (
                {},
                {"Authorization": "Bearer wrong-token-0123456789abc"},
                {"Authorization": "Basic b3BzOng="},
                {"Authorization": "Bearer"},
            ):
                response = client.get(path, headers=headers)
                assert response.status_code == 401, headers
                assert response.headers["www-authenticate"].startswith("Bearer")
                assert response.headers["cache-control"] == "no-store"
                assert response.json()["detail"]
            assert client.get(path, headers=READ).status_code == 200
            assert client.get(path, headers=ADMIN).status_code == 200


def test_writes_need_an_admin_token(client: TestClient, seeded: Seeded, subtests: pytest.Subtests) -> None:
    silence = add_silence(
        seeded.runtime.engine,
        service=None,
        tenant_id=None,
        starts_at=NOW,
        ends_at=NOW + timedelta(hours=1),
        reason="test",
        created_by="test",
    )
    for method, template, body in WRITES:
        path = template.format(shopify_alert=seeded.shopify_alert, silence=silence)
        with subtests.test(method=method, path=path):
            assert client.request(method, path, json=body).status_code == 401
            forbidden = client.request(method, path, headers=READ, json=body)
            assert forbidden.status_code == 403
            assert "grafana" in forbidden.json()["detail"] and "admin" in forbidden.json()["detail"]
            allowed = client.request(method, path, headers=ADMIN, json=body)
            assert allowed.status_code in (200, 201), allowed.text


def test_open_endpoints(client: TestClient) -> None:
    healthz = client.get("/healthz")
    assert healthz.status_code == 200
    assert healthz.json() == {"status": "ok", "database": "ok"}
    assert healthz.headers["cache-control"] == "no-store"
    schema = client.get("/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema.json()["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert client.get("/docs").status_code == 200


def test_tokens_are_never_logged(
    client: TestClient, seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.get("/api/alerts", headers={"Authorization": "Bearer not-a-real-token-42424242"})
    client.get("/api/alerts", headers=READ)
    client.post("/api/alerts/1/acknowledge", headers=READ)
    client.post(f"/api/alerts/{seeded.shopify_alert}/acknowledge", headers=ADMIN)
    for secret in ("not-a-real-token-42424242", READ_TOKEN, ADMIN_TOKEN):
        assert secret not in caplog.text


def test_token_may_contain_colons(runtime: App) -> None:
    with TestClient(create_app(runtime, "robot:read:abc:def:0123456789abcdef")) as http:
        assert (
            http.get("/api/tenants", headers={"Authorization": "Bearer abc:def:0123456789abcdef"}).status_code
            == 200
        )
        assert http.get("/api/tenants", headers={"Authorization": "Bearer abc:def"}).status_code == 401


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (None, "not set"),
        ("   ", "not set"),
        (",,", "no token"),
        ("ops:admin", "expected name:scope:token"),
        ("ops-token-0123456789abcdef", "expected name:scope:token"),
        ("ops:root:0123456789abcdef01", "scope must be read or admin"),
        ("ops:admin:short", "16+ characters"),
        ("ops:admin:has space 0123456789", "16+ characters"),
        (":admin:0123456789abcdef01", "name must be"),
        ("ops:admin:0123456789abcdef01,ops:read:fedcba9876543210ab", "used twice"),
        ("a:admin:0123456789abcdef01,b:read:0123456789abcdef01", "same token"),
    ],
)
def test_malformed_tokens_are_a_startup_error(raw: str | None, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_tokens(raw)
    assert caught.value.key == "HEALTHMON_API_TOKENS"
    assert words in str(caught.value)
    # the message names the entry, never the secret in it
    for secret in ("0123456789abcdef01", "fedcba9876543210ab", "short"):
        assert secret not in str(caught.value)


def test_tokens_from_the_environment(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    monkeypatch.setenv("HEALTHMON_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("HEALTHMON_CONFIG", raising=False)
    monkeypatch.setenv("HEALTHMON_API_TOKENS", "env:read:env-token-0123456789ab")
    with TestClient(create_app()) as http:
        assert (
            http.get("/api/tenants", headers={"Authorization": "Bearer env-token-0123456789ab"}).status_code
            == 200
        )
    monkeypatch.setenv("HEALTHMON_API_TOKENS", "env:reader:env-token-0123456789ab")
    with pytest.raises(ConfigError, match="HEALTHMON_API_TOKENS"):
        create_app()


def test_store_repr_hides_tokens() -> None:
    store = parse_tokens("ops:admin:0123456789abcdef01")
    assert "0123456789abcdef01" not in repr(store) and "ops:admin" in repr(store)
    assert store.lookup("0123456789abcdef01") is not None and store.lookup("0123456789abcdef0") is None


def test_serve_refuses_bad_tokens_before_binding(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    from healthmon.api.server import serve

    monkeypatch.setenv("HEALTHMON_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("HEALTHMON_CONFIG", raising=False)
    monkeypatch.setenv("HEALTHMON_API_TOKENS", "ops:admin:short")
    with pytest.raises(ConfigError, match="HEALTHMON_API_TOKENS"):
        serve("127.0.0.1", 1)  # a port it could not bind: it never gets that far
