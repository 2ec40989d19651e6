"""`GET /api/platform/health/{service}` a page at a time (issue 15): `limit`, an opaque `cursor`,
and the totals over every tenant, not just the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthmon.api.paging import DEFAULT_LIMIT, MAX_LIMIT, next_cursor
from healthmon.flows.app import App
from healthmon.monitors.result import Status
from healthmon.storage.tenants import upsert_tenants
from tests.api.conftest import READ, field_of, record, result, shopify, tenants_changed

TENANTS = [f"shop-{n:03d}" for n in range(23)]
#: a status per tenant, so that every page holds a mix
STATUSES = [Status.HEALTHY, Status.HEALTHY, Status.DEGRADED, Status.UNHEALTHY, Status.UNKNOWN]


@pytest.fixture
def shops(runtime: App, client: TestClient) -> dict[str, Status]:
    """23 shops, each with a shopify result; shop-004 hours old (stale)."""
    assert runtime.cipher is not None
    upsert_tenants(
        runtime.engine, runtime.cipher, [(t, t.upper(), True, {"shopify": shopify(t)}) for t in TENANTS]
    )
    now = datetime.now(UTC)
    statuses = {t: STATUSES[n % len(STATUSES)] for n, t in enumerate(TENANTS)}
    record(
        runtime,
        [
            result("shopify", t, s, at=now - timedelta(hours=3) if t == "shop-004" else now)
            for t, s in statuses.items()
        ],
    )
    tenants_changed(client)
    return statuses


def page(client: TestClient, query: str) -> dict[str, Any]:
    response = client.get(f"/api/platform/health/shopify?{query}", headers=READ)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def walk(client: TestClient, limit: int) -> tuple[list[str], list[dict[str, Any]]]:
    tenants: list[str] = []
    bodies: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = page(client, f"limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        bodies.append(body)
        tenants += [t["tenant"] for t in body["targets"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return tenants, bodies
        assert len(bodies) <= len(TENANTS), "the pages never end"


@pytest.mark.parametrize("limit", [1, 5, 10, 23, 100])
def test_the_pages_give_every_tenant_once_in_order(
    client: TestClient, shops: dict[str, Status], limit: int
) -> None:
    tenants, bodies = walk(client, limit)
    assert tenants == sorted(TENANTS)
    assert len(bodies) == -(-len(TENANTS) // limit)
    assert all(len(b["targets"]) == limit for b in bodies[:-1])
    assert all(b["limit"] == limit for b in bodies)


def test_the_totals_are_over_every_tenant_on_every_page(client: TestClient, shops: dict[str, Status]) -> None:
    whole = page(client, f"limit={MAX_LIMIT}")
    assert whole["next_cursor"] is None and len(whole["targets"]) == len(TENANTS)
    expected = {s.value: 0 for s in Status}
    for status in shops.values():
        expected[status.value] += 1
    # the unpaged counts, from the targets themselves
    listed = {s.value: 0 for s in Status}
    for target in whole["targets"]:
        listed[target["status"]] += 1
    assert listed == expected
    _tenants, bodies = walk(client, 4)
    for body in bodies:
        assert body["total"] == len(TENANTS)
        assert body["counts"] == expected
        assert body["stale"] == 1  # shop-004, whichever page shows it
        assert body["status"] == "unhealthy"


def test_without_paging_parameters_the_first_page(client: TestClient, shops: dict[str, Status]) -> None:
    body = page(client, "")
    assert body["limit"] == DEFAULT_LIMIT
    # 23 tenants fit on the default page: every target, and no next page
    assert [t["tenant"] for t in body["targets"]] == sorted(TENANTS) and body["next_cursor"] is None
    # every field a target had before paging is still there
    assert set(body["targets"][0]) >= {"service", "tenant", "tenant_name", "tier", "status", "latency_ms"}
    assert {"checked_at", "since", "reason", "details", "age_s", "stale"} <= set(body["targets"][0])
    assert body["targets"][0]["checked_at"].endswith("Z")


def test_a_cursor_past_the_end_gives_an_empty_page(client: TestClient, shops: dict[str, Status]) -> None:
    body = page(client, f"cursor={next_cursor('zzz')}")
    assert (body["targets"], body["next_cursor"], body["total"]) == ([], None, len(TENANTS))
    # a cursor names a place in tenant order, not a tenant that must still exist
    after = page(client, f"cursor={next_cursor('shop-010a')}&limit=2")
    assert [t["tenant"] for t in after["targets"]] == ["shop-011", "shop-012"]


def test_a_platform_service_has_one_page(client: TestClient, runtime: App) -> None:
    record(runtime, [result("postgres", None, Status.HEALTHY)])
    first = client.get("/api/platform/health/postgres?limit=1", headers=READ).json()
    assert [t["tenant"] for t in first["targets"]] == [None]
    assert (first["next_cursor"], first["total"]) == (None, 1)
    later = client.get(f"/api/platform/health/postgres?cursor={next_cursor('a')}", headers=READ).json()
    assert (later["targets"], later["total"]) == ([], 1)


BAD = [
    ("limit=0", "limit", "greater than or equal to 1"),
    (f"limit={MAX_LIMIT + 1}", "limit", f"less than or equal to {MAX_LIMIT}"),
    ("limit=ten", "limit", "integer"),
    ("cursor=%%%", "cursor", "not a cursor"),
    ("cursor=bm90IGEgY3Vyc29y", "cursor", "not a cursor"),  # base64 of text without our prefix
    (f"cursor={next_cursor('x')[:-1]}!", "cursor", "not a cursor"),
    ("cursor=" + "A" * 201, "cursor", "at most 200 characters"),
    ("limit=1&limit=2", "limit", "more than once"),
]


def test_bad_limit_or_cursor_is_a_422_naming_it(
    client: TestClient, shops: dict[str, Status], subtests: pytest.Subtests
) -> None:
    for query, field, words in BAD:
        with subtests.test(query=query):
            response = client.get(f"/api/platform/health/shopify?{query}", headers=READ)
            assert response.status_code == 422, response.text
            assert field_of(response) == [field]
            assert words in response.json()["detail"]
            assert response.json()["detail"].startswith(f"{field}: ")


def test_a_cursor_naming_a_malformed_tenant_is_refused(client: TestClient) -> None:
    import base64

    bad = base64.urlsafe_b64encode(b"t:Not A Tenant").decode().rstrip("=")
    response = client.get(f"/api/platform/health/shopify?cursor={bad}", headers=READ)
    assert response.status_code == 422 and field_of(response) == ["cursor"]
