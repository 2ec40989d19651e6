"""POST /api/thresholds/{service}/preview: a proposed rule replayed over the stored history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthmon.monitors.result import Status
from healthmon.storage.thresholds import list_overrides
from tests.api.conftest import ADMIN, EARLIER, READ, Seeded, field_of, record, result

ZEROS = {"alerts": 0, "resolved": 0, "tenants": 0, "degraded_s": 0.0, "unhealthy_s": 0.0}


def preview(client: TestClient, service: str, body: dict[str, Any], headers: dict[str, str] = READ) -> Any:
    return client.post(f"/api/thresholds/{service}/preview", headers=headers, json=body)


def test_empty_history_answers_zeros_with_the_read_scope(client: TestClient) -> None:
    response = preview(client, "stripe", {"metric": "latency_ms", "degraded": 100.0})
    assert response.status_code == 200, response.text
    assert response.json() == {"window_days": 30, "current": ZEROS, "proposed": ZEROS}


def test_a_tighter_rule_shows_what_it_would_have_opened(client: TestClient, seeded: Seeded) -> None:
    runtime = seeded.runtime
    # acme's shopify answered in 120-130 ms three runs in a row; globex was unhealthy once
    record(
        runtime,
        [
            result("shopify", "acme", Status.HEALTHY, 130.0, at=EARLIER - timedelta(minutes=m))
            for m in (10, 5)
        ],
    )
    body = {"metric": "latency_ms", "degraded": 100.0, "unhealthy": 5000.0}
    response = preview(client, "shopify", body, headers=ADMIN)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["window_days"] == 30
    # one unhealthy result opens nothing (open_after 2); 100 ms would have opened acme's
    assert answer["current"] == ZEROS | {"unhealthy_s": answer["current"]["unhealthy_s"]}
    assert answer["current"]["unhealthy_s"] > 0
    assert (answer["proposed"]["alerts"], answer["proposed"]["resolved"], answer["proposed"]["tenants"]) == (
        1,
        0,
        1,
    )
    assert answer["proposed"]["degraded_s"] > 0
    # one tenant's override replays that tenant only
    globex = preview(client, "shopify", {**body, "tenant": "globex"}).json()
    assert globex["proposed"]["alerts"] == 0 and globex["proposed"]["degraded_s"] == 0
    acme = preview(client, "shopify", {**body, "tenant": "acme"}).json()["proposed"]
    assert (acme["alerts"], acme["resolved"], acme["tenants"], acme["unhealthy_s"]) == (1, 0, 1, 0.0)
    # acme's three results 5 minutes apart: the first two count 300 s each, the last until now
    assert acme["degraded_s"] >= 600.0
    # nothing is saved
    assert list_overrides(runtime.engine) == []


def test_it_needs_a_token(client: TestClient) -> None:
    response = client.post("/api/thresholds/stripe/preview", json={"metric": "latency_ms", "degraded": 1.0})
    assert response.status_code == 401


def test_the_metric_routes_leave_preview_to_post(client: TestClient) -> None:
    put = client.put("/api/thresholds/shopify/preview", headers=ADMIN, json={"degraded": 1.0})
    assert put.status_code == 405 and "POST" in put.headers["allow"]


def test_unknown_service_is_404(client: TestClient) -> None:
    response = preview(client, "nosuch", {"metric": "latency_ms", "degraded": 1.0})
    assert response.status_code == 404 and "nosuch" in response.json()["detail"]


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("shopify", {"metric": "connections_used_pct", "degraded": 80.0}, "metric", "reports no metric"),
    (
        "shopify",
        {"metric": "latency_ms", "degraded": 5000.0, "unhealthy": 1000.0},
        "degraded",
        "past the unhealthy",
    ),
    ("shopify", {"metric": "latency_ms"}, "degraded", "needs a degraded or an unhealthy"),
    ("shopify", {"metric": "latency_ms", "degraded": -1.0}, "degraded", "negative"),
    ("shopify", {"degraded": 80.0}, "metric", "Field required"),
    ("shopify", {"metric": "latency_ms", "degraded": 80.0, "tenant": "nobody"}, "tenant", "no tenant"),
    ("postgres", {"metric": "latency_ms", "degraded": 80.0, "tenant": "acme"}, "tenant", "platform service"),
    ("shopify", {"metric": "latency_ms", "degraded": 80.0, "colour": "red"}, "colour", "Extra inputs"),
]


@pytest.mark.parametrize(("service", "body", "field", "says"), BAD, ids=[f"{b[2]}: {b[3]}" for b in BAD])
def test_bad_input_is_422_as_for_put(
    client: TestClient, seeded: Seeded, service: str, body: dict[str, Any], field: str, says: str
) -> None:
    response = preview(client, service, body)
    assert response.status_code == 422, response.text
    assert field in field_of(response)
    assert says in response.text
