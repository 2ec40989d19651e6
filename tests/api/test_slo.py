"""GET /api/platform/health/{service}/slo: uptime, objective, budget and burn rates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthmon.api.app import create_app
from healthmon.flows.app import App
from healthmon.monitors.result import Status
from healthmon.storage.tenants import upsert_tenants
from tests.api.conftest import CONFIG, READ, TOKENS, field_of, shopify
from tests.support.app import AppFactory
from tests.support.history import history_rows, write_history

H, U = Status.HEALTHY, Status.UNHEALTHY
SLO_CONFIG: dict[str, Any] = {
    **CONFIG,
    "services": {
        **CONFIG["services"],
        "stripe": {**CONFIG["services"]["stripe"], "slo": {"objective": 99.0, "window_days": 7}},
    },
}
URL = "/api/platform/health/{}/slo"


@pytest.fixture
def runtime(db_url: str, make_app: AppFactory) -> App:
    found = make_app(db_url, SLO_CONFIG)
    assert found.cipher is not None
    upsert_tenants(
        found.engine,
        found.cipher,
        [
            ("acme", "Acme", True, {"shopify": shopify("acme")}),
            ("globex", "Globex", True, {"shopify": shopify("globex")}),
        ],
    )
    return found


@pytest.fixture
def client(runtime: App) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, TOKENS)) as test_client:
        yield test_client


def test_needs_a_token(client: TestClient) -> None:
    assert client.get(URL.format("stripe")).status_code == 401


@pytest.mark.parametrize(
    ("service", "tenant", "code", "field"),
    [
        ("nope", None, 404, None),
        ("stripe", "acme", 422, "tenant"),  # a platform service has no tenants
        ("shopify", "Not A Tenant!", 422, "tenant"),
        ("shopify", "nobody", 404, None),
    ],
)
def test_bad_input(
    client: TestClient, service: str, tenant: str | None, code: int, field: str | None
) -> None:
    response = client.get(URL.format(service), params={"tenant": tenant} if tenant else {}, headers=READ)
    assert response.status_code == code, response.text
    if field is not None:
        assert any(name.endswith(field) for name in field_of(response)), response.json()


def test_empty_history_answers_nulls(client: TestClient) -> None:
    response = client.get(URL.format("stripe"), headers=READ)
    assert response.status_code == 200
    body = response.json()
    assert body["uptime"] == {"24h": None, "7d": None, "30d": None}
    assert body["objective"] == 99.0 and body["window_days"] == 7
    assert body["budget_remaining"] is None
    assert body["burn_rates"] == {"5m": None, "30m": None, "1h": None, "6h": None, "3d": None}
    assert body["generated_at"].endswith("Z")
    # without an SLO: objective and budget null
    plain = client.get(URL.format("redis"), headers=READ).json()
    assert plain["objective"] is None and plain["budget_remaining"] is None and plain["burn_rates"] is None


def test_uptime_budget_and_burn_rates(runtime: App, client: TestClient) -> None:
    now = datetime.now(UTC)
    # two days of stripe checks, the newest 12 (one hour) unhealthy: 576 checks in all
    start = now - timedelta(days=2)
    write_history(runtime.engine, history_rows("stripe", None, [H] * 564 + [U] * 12, start))
    body = client.get(URL.format("stripe"), headers=READ).json()
    assert body["uptime"]["24h"] == pytest.approx(23 / 24, abs=1e-3)
    assert body["uptime"]["7d"] == pytest.approx(47 / 48, abs=1e-3)
    assert body["uptime"]["30d"] == body["uptime"]["7d"]
    # 1/48 down against a 1 % budget over 7 days: more than twice spent
    assert body["budget_remaining"] == pytest.approx(1 - (1 / 48) / 0.01, abs=0.05)
    assert body["burn_rates"]["1h"] == pytest.approx(100.0, abs=2)
    # the history holds two days: three days see the same hour down in 48 observed hours
    assert body["burn_rates"]["3d"] == pytest.approx(100 / 48, abs=0.1)


def test_one_tenant_or_the_whole_service(runtime: App, client: TestClient) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    write_history(runtime.engine, history_rows("shopify", "acme", [H] * 12, start))
    write_history(runtime.engine, history_rows("shopify", "globex", [U] * 6 + [H] * 6, start))
    acme = client.get(URL.format("shopify"), params={"tenant": "acme"}, headers=READ).json()
    globex = client.get(URL.format("shopify"), params={"tenant": "globex"}, headers=READ).json()
    whole = client.get(URL.format("shopify"), headers=READ).json()
    assert acme["tenant"] == "acme" and acme["uptime"]["24h"] == 1.0
    assert globex["uptime"]["24h"] == pytest.approx(0.5, abs=0.01)
    assert whole["tenant"] is None and whole["uptime"]["24h"] == pytest.approx(0.75, abs=0.01)
    assert whole["objective"] is None and whole["burn_rates"] is None
