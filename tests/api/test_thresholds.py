"""Thresholds over HTTP: the effective view with sources, overrides set and removed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from healthmon.storage.thresholds import list_overrides
from tests.api.conftest import ADMIN, READ, Seeded, field_of


def rules(response: object) -> dict[str, dict[str, object]]:
    return {r["metric"]: r for r in response.json()["rules"]}  # type: ignore[attr-defined]


def test_effective_view(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/api/thresholds/postgres", headers=READ)
    assert response.status_code == 200
    body = response.json()
    assert body["service"] == "postgres" and body["tenant"] is None
    assert "connections_used_pct" in body["metrics"] and "latency_ms" in body["metrics"]
    latency = rules(response)["latency_ms"]
    assert (latency["degraded"], latency["unhealthy"], latency["source"]) == (250, 1000, "default")


def test_override_service_wide_then_for_a_tenant(client: TestClient, seeded: Seeded) -> None:
    put = client.put(
        "/api/thresholds/shopify/latency_ms", headers=ADMIN, json={"degraded": 800, "unhealthy": 3000}
    )
    assert put.status_code == 200, put.text
    assert rules(put)["latency_ms"] == {
        "metric": "latency_ms",
        "degraded": 800,
        "unhealthy": 3000,
        "inverse": False,
        "source": "service override",
    }
    tenant = client.put(
        "/api/thresholds/shopify/rate_limit_remaining_pct",
        headers=ADMIN,
        json={"degraded": 30, "unhealthy": 10, "inverse": True, "tenant": "acme"},
    )
    assert tenant.status_code == 200, tenant.text
    assert tenant.json()["tenant"] == "acme"
    assert rules(tenant)["rate_limit_remaining_pct"]["source"] == "tenant override"
    assert rules(tenant)["latency_ms"]["source"] == "service override"
    # the tenant's override shows in its own view only
    service_wide = client.get("/api/thresholds/shopify", headers=READ)
    assert rules(service_wide)["rate_limit_remaining_pct"]["source"] == "default"
    acme = client.get("/api/thresholds/shopify?tenant=acme", headers=READ)
    assert rules(acme)["rate_limit_remaining_pct"]["degraded"] == 30
    stored = {(r["tenant_id"], r["metric"]): r["updated_by"] for r in list_overrides(seeded.runtime.engine)}
    assert stored == {("", "latency_ms"): "ops-bot", ("acme", "rate_limit_remaining_pct"): "ops-bot"}

    removed = client.delete("/api/thresholds/shopify/rate_limit_remaining_pct?tenant=acme", headers=ADMIN)
    assert removed.status_code == 200
    assert rules(removed)["rate_limit_remaining_pct"]["source"] == "default"
    again = client.delete("/api/thresholds/shopify/rate_limit_remaining_pct?tenant=acme", headers=ADMIN)
    assert again.status_code == 404 and "override" in again.json()["detail"]
    assert client.delete("/api/thresholds/shopify/latency_ms", headers=ADMIN).status_code == 200
    assert list_overrides(seeded.runtime.engine) == []


BAD_RULES: list[tuple[str, dict[str, object], str, str]] = [
    ("shopify/latency_ms", {"degraded": 5000, "unhealthy": 1000}, "degraded", "past the unhealthy"),
    (
        "shopify/rate_limit_remaining_pct",
        {"degraded": 5, "unhealthy": 20, "inverse": True},
        "degraded",
        "below is worse",
    ),
    ("shopify/latency_ms", {}, "degraded", "needs a degraded or an unhealthy"),
    ("shopify/latency_ms", {"degraded": "fast"}, "degraded", "number"),
    ("shopify/latency_ms", {"degraded": 1, "colour": "red"}, "colour", "Extra inputs"),
    ("shopify/connections_used_pct", {"degraded": 80}, "metric", "reports no metric"),
    ("shopify/latency_ms", {"degraded": 80, "tenant": "Not Valid"}, "tenant", "pattern"),
    ("shopify/latency_ms", {"degraded": 80, "tenant": "nobody"}, "tenant", "no tenant"),
    ("postgres/latency_ms", {"degraded": 80, "tenant": "acme"}, "tenant", "platform service"),
    ("shopify/latency_ms", {"degraded": "80"}, "degraded", "number"),
    ("shopify/latency_ms", {"degraded": 80, "inverse": "yes"}, "inverse", "boolean"),
    # latency cannot be negative: a -5 ms bound would judge every result degraded
    (
        "shopify/latency_ms",
        {"degraded": -5},
        "degraded",
        "must not be negative: latency_ms cannot go below 0",
    ),
    ("shopify/latency_ms", {"degraded": 100, "unhealthy": -1}, "unhealthy", "must not be negative"),
    (
        "shopify/rate_limit_remaining_pct",
        {"degraded": 20, "unhealthy": -5, "inverse": True},
        "unhealthy",
        "must not be negative",
    ),
    ("shopify/latency_ms", {"degraded": "abc"}, "degraded", "number"),
    ("shopify/latency_ms", {"degraded": True}, "degraded", "number"),
    ("shopify/latency_ms", {"degraded": 900, "unhealthy": 500}, "degraded", "degraded must be the lower"),
    (
        "meta_ads/token_expires_in_days",
        {"degraded": 1, "unhealthy": 7, "inverse": True},
        "degraded",
        "degraded must be the higher",
    ),
    ("stripe/queue_depth", {"degraded": 100}, "metric", "stripe reports no metric 'queue_depth'"),
    ("stripe/rate_limit_remaining_pct", {"degraded": 20}, "metric", "reports no metric"),
]


def test_put_rejects_bad_rules(client: TestClient, seeded: Seeded, subtests: pytest.Subtests) -> None:
    for path, body, field, words in BAD_RULES:
        with subtests.test(path=path, body=body):
            response = client.put(f"/api/thresholds/{path}", headers=ADMIN, json=body)
            assert response.status_code == 422, response.text
            assert field_of(response) == [field]
            assert words in response.json()["detail"]
    assert list_overrides(seeded.runtime.engine) == []


def test_non_finite_bounds_are_refused(client: TestClient, seeded: Seeded) -> None:
    # Python's JSON parser accepts NaN and Infinity; a rule must not
    for raw in (b'{"degraded": NaN}', b'{"unhealthy": Infinity}'):
        response = client.put(
            "/api/thresholds/shopify/latency_ms",
            headers={**ADMIN, "Content-Type": "application/json"},
            content=raw,
        )
        assert response.status_code == 422, response.text


def test_unknown_service_and_tenant(client: TestClient, seeded: Seeded) -> None:
    assert client.get("/api/thresholds/magento", headers=READ).status_code == 404
    put = client.put("/api/thresholds/magento/latency_ms", headers=ADMIN, json={"degraded": 1})
    assert put.status_code == 404 and "magento" in put.json()["detail"]
    assert client.delete("/api/thresholds/magento/latency_ms", headers=ADMIN).status_code == 404
    unknown_metric = client.delete("/api/thresholds/shopify/colour", headers=ADMIN)
    assert unknown_metric.status_code == 422 and field_of(unknown_metric) == ["metric"]
    view = client.get("/api/thresholds/shopify?tenant=nobody", headers=READ)
    assert view.status_code == 422 and field_of(view) == ["tenant"]


def test_every_bad_bound_is_named(client: TestClient, seeded: Seeded) -> None:
    response = client.put(
        "/api/thresholds/shopify/latency_ms", headers=ADMIN, json={"degraded": -5, "unhealthy": -1}
    )
    assert response.status_code == 422, response.text
    assert field_of(response) == ["degraded", "unhealthy"]
    assert list_overrides(seeded.runtime.engine) == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        # a balance on a credit line, and a credential already past its expiry, go below 0
        ("tiktok_ads/balance", {"degraded": -100, "unhealthy": -500, "inverse": True}),
        ("meta_ads/token_expires_in_days", {"degraded": 0, "unhealthy": -1, "inverse": True}),
        ("shopify/latency_ms", {"degraded": 0, "unhealthy": 0}),
    ],
)
def test_metrics_that_may_be_negative(
    client: TestClient, seeded: Seeded, path: str, body: dict[str, object]
) -> None:
    response = client.put(f"/api/thresholds/{path}", headers=ADMIN, json=body)
    assert response.status_code == 200, response.text
    metric = path.split("/")[1]
    assert (rules(response)[metric]["degraded"], rules(response)[metric]["unhealthy"]) == (
        body["degraded"],
        body["unhealthy"],
    )
