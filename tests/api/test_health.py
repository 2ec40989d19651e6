"""The four status routes of DESIGN.md: master status, matrix, one service, one tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from healthmon.flows.app import App
from healthmon.monitors.result import Status
from healthmon.storage.status import cache_entries
from tests.api.conftest import EARLIER, NOW, READ, Seeded, field_of, record, result
from tests.support.app import AppFactory


def test_master_status(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/api/platform/health", headers=READ)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["status"] == "unhealthy"
    by_service = {s["service"]: s for s in body["services"]}
    # configured platform services, and per-tenant services with an enabled tenant
    assert sorted(by_service) == ["meta_ads", "postgres", "redis", "shopify", "stripe"]
    assert by_service["shopify"]["status"] == "unhealthy"
    assert by_service["shopify"]["targets"] == 2
    assert by_service["shopify"]["counts"] == {"healthy": 1, "degraded": 0, "unhealthy": 1, "unknown": 0}
    assert by_service["redis"]["status"] == "degraded"
    assert by_service["postgres"]["tier"] == "critical"


def test_master_status_lists_a_configured_service_without_results(client: TestClient) -> None:
    body = client.get("/api/platform/health", headers=READ).json()
    assert body["status"] == "unknown"
    assert {s["service"]: (s["status"], s["targets"]) for s in body["services"]} == {
        "postgres": ("unknown", 0),
        "redis": ("unknown", 0),
        "stripe": ("unknown", 0),
    }


def test_matrix(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/api/platform/health/matrix", headers=READ)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["fields"] == [
        "service",
        "tenant",
        "tier",
        "status",
        "latency_ms",
        "checked_at",
        "since",
        "reason",
        "age_s",
        "stale",
    ]
    assert body["services"] == ["meta_ads", "postgres", "redis", "shopify", "stripe"]
    assert body["tenants"] == ["acme", "globex"]
    assert body["counts"] == {"healthy": 3, "degraded": 1, "unhealthy": 1, "unknown": 1}
    cells = {(c[0], c[1]): dict(zip(body["fields"], c, strict=True)) for c in body["cells"]}
    globex = cells[("shopify", "globex")]
    assert globex["status"] == "unhealthy" and globex["reason"] == "timeout" and globex["latency_ms"] is None
    # the status changed at the second result: that is its since, not the first check
    assert datetime.fromisoformat(globex["since"]) == NOW
    assert datetime.fromisoformat(cells[("shopify", "acme")]["since"]) == NOW
    assert cells[("postgres", None)]["tier"] == "critical"


MATRIX_FILTERS: list[tuple[str, set[tuple[str, str | None]]]] = [
    ("tier=critical", {("postgres", None), ("redis", None)}),
    ("tier=critical&tier=integration", {("postgres", None), ("redis", None), ("meta_ads", "acme")}),
    ("status=unhealthy&status=unknown", {("shopify", "globex"), ("meta_ads", "acme")}),
    ("tenant=ACM", {("shopify", "acme"), ("meta_ads", "acme")}),
    ("service=shopify", {("shopify", "acme"), ("shopify", "globex")}),
    ("service=shopify&service=redis&status=healthy", {("shopify", "acme")}),
    ("tenant=nobody", set()),
]


def test_matrix_filters(client: TestClient, seeded: Seeded, subtests: pytest.Subtests) -> None:
    for query, expected in MATRIX_FILTERS:
        with subtests.test(query=query):
            body = client.get(f"/api/platform/health/matrix?{query}", headers=READ).json()
            assert {(c[0], c[1]) for c in body["cells"]} == expected
            assert sum(body["counts"].values()) == len(expected)
            assert body["services"] == sorted({s for s, _ in expected})


BAD_FILTERS = [
    ("tier=urgent", "tier"),
    ("status=down", "status"),
    ("service=shopify&service=magento", "service"),
    ("tenant=" + "x" * 65, "tenant"),
]


def test_matrix_rejects_bad_filters(client: TestClient, subtests: pytest.Subtests) -> None:
    for query, field in BAD_FILTERS:
        with subtests.test(query=query):
            response = client.get(f"/api/platform/health/matrix?{query}", headers=READ)
            assert response.status_code == 422
            assert field_of(response) == [field]
            assert response.json()["detail"].startswith(f"{field}: ")
            assert response.headers["cache-control"] == "no-store"


def test_matrix_sees_a_new_result_at_once(client: TestClient, seeded: Seeded) -> None:
    client.get("/api/platform/health/matrix", headers=READ)  # the view is cached now
    record(seeded.runtime, [result("shopify", "globex", Status.HEALTHY)])
    body = client.get("/api/platform/health/matrix?tenant=globex", headers=READ).json()
    assert [c[3] for c in body["cells"]] == ["healthy"]


def test_one_service(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/api/platform/health/shopify", headers=READ)
    assert response.status_code == 200
    body = response.json()
    assert body["service"] == "shopify" and body["tier"] == "core" and body["per_tenant"] is True
    assert body["status"] == "unhealthy"
    targets = {t["tenant"]: t for t in body["targets"]}
    assert sorted(targets) == ["acme", "globex"]
    assert targets["acme"]["details"]["rate_limit_remaining_pct"] == 88.0
    assert targets["globex"]["reason"] == "timeout"
    assert datetime.fromisoformat(targets["globex"]["since"]) == NOW
    platform = client.get("/api/platform/health/postgres", headers=READ).json()
    assert [(t["tenant"], t["status"], t["latency_ms"]) for t in platform["targets"]] == [
        (None, "healthy", 3.2)
    ]


def test_one_service_reads_the_cache_first(client: TestClient, seeded: Seeded) -> None:
    # a result only the cache holds (written by another process's tier run): the API shows it
    fresher = result("shopify", "acme", Status.DEGRADED, 900.0, reason="latency_ms 900 >= 800")
    seeded.runtime.cache.set_many(cache_entries([fresher]), 60)
    targets = {
        t["tenant"]: t for t in client.get("/api/platform/health/shopify", headers=READ).json()["targets"]
    }
    assert targets["acme"]["status"] == "degraded" and targets["acme"]["latency_ms"] == 900.0


def test_service_without_results_and_unknown_service(client: TestClient) -> None:
    empty = client.get("/api/platform/health/vercel", headers=READ)
    assert empty.status_code == 200
    assert empty.json()["status"] == "unknown" and empty.json()["targets"] == []
    missing = client.get("/api/platform/health/magento", headers=READ)
    assert missing.status_code == 404
    assert "magento" in missing.json()["detail"] and "shopify" in missing.json()["detail"]


def test_one_tenant(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/api/platform/health/tenant/acme", headers=READ)
    assert response.status_code == 200
    body = response.json()
    assert body["tenant"] == {"id": "acme", "name": "Acme Corp", "enabled": True}
    assert body["status"] == "unknown"
    assert [(s["service"], s["status"]) for s in body["services"]] == [
        ("meta_ads", "unknown"),
        ("shopify", "healthy"),
    ]
    assert body["counts"] == {"healthy": 1, "degraded": 0, "unhealthy": 0, "unknown": 1}


def test_tenant_never_checked(client: TestClient, seeded: Seeded) -> None:
    body = client.get("/api/platform/health/tenant/initech", headers=READ).json()
    assert body["tenant"]["enabled"] is False
    assert [(s["service"], s["status"], s["checked_at"], s["reason"]) for s in body["services"]] == [
        ("shopify", "unknown", None, "not checked yet")
    ]


def test_unknown_tenant(client: TestClient, seeded: Seeded) -> None:
    for tenant_id in ("nobody", "Bad%20Id", "%00"):
        response = client.get(f"/api/platform/health/tenant/{tenant_id}", headers=READ)
        assert response.status_code == 404, tenant_id
        assert response.json()["detail"].startswith("no tenant")


def test_matrix_through_redis(db_url: str, make_app: AppFactory, redis_url: str) -> None:
    """With Redis, the matrix view travels through it as JSON: the answer is the same."""
    from fastapi.testclient import TestClient as Client

    from healthmon.api.app import create_app
    from tests.api.conftest import CONFIG, TOKENS, seed

    # a database index of its own: the matrix key is the same in every deployment sharing a
    # Redis database, and other suites write it on db 0
    own_db = urlsplit(redis_url)._replace(path="/11").geturl()
    runtime: App = make_app(db_url, CONFIG, redis_url=own_db)
    assert runtime.cache.backend == "redis"
    seed(runtime)
    with Client(create_app(runtime, TOKENS)) as http:
        first = http.get("/api/platform/health/matrix", headers=READ).json()
        second = http.get("/api/platform/health/matrix", headers=READ).json()
        # the same cells; only their age (read at each answer) may have moved on
        assert [c[:-2] for c in first["cells"]] == [c[:-2] for c in second["cells"]]
        assert len(first["cells"]) == 6
        assert all(b[-2] >= a[-2] for a, b in zip(first["cells"], second["cells"], strict=True))
        assert EARLIER < datetime.fromisoformat(first["generated_at"]) <= datetime.now(UTC)
        # a writer's invalidation reaches the API through Redis
        record(runtime, [result("redis", None, Status.HEALTHY)])
        after = http.get("/api/platform/health/matrix?service=redis", headers=READ).json()
        assert [c[3] for c in after["cells"]] == ["healthy"]


def test_unknown_or_repeated_query_parameters(client: TestClient, subtests: pytest.Subtests) -> None:
    for path, field, words in [
        ("/api/platform/health/matrix?teir=core", "teir", "unknown query parameter"),
        ("/api/platform/health/matrix?tenant=a&tenant=b", "tenant", "more than once"),
        ("/api/platform/health?verbose=1", "verbose", "accepts: none"),
        ("/healthz?x=1", "x", "unknown query parameter"),
    ]:
        with subtests.test(path=path):
            response = client.get(path, headers=READ)
            assert response.status_code == 422
            assert field_of(response) == [field] and words in response.json()["detail"]


def test_repeatable_filters_still_repeat(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/api/platform/health/matrix?tier=core&tier=critical", headers=READ)
    assert response.status_code == 200 and len(response.json()["cells"]) == 5
