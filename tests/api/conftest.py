"""An API over a real database (SQLite and PostgreSQL), seeded the way a tier run writes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthmon.alerting import outbox
from healthmon.alerting.lifecycle import AlertChange, Decision
from healthmon.alerting.notification import Kind, Severity
from healthmon.api.app import create_app
from healthmon.flows import alerts as flow_alerts
from healthmon.flows.app import App
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import CheckResult, Status
from healthmon.storage import alerts as store
from healthmon.storage.alerts import SqlAlertStore
from healthmon.storage.queries import invalidate_views
from healthmon.storage.results import record_results
from healthmon.storage.status import cache_entries
from healthmon.storage.tenants import IntegrationInput, upsert_tenants
from tests.support.app import AppFactory

ADMIN_TOKEN = "admin-token-0123456789abcdef"
READ_TOKEN = "read-token-0123456789abcdef"
TOKENS = f"ops-bot:admin:{ADMIN_TOKEN}, grafana:read:{READ_TOKEN}"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READ = {"Authorization": f"Bearer {READ_TOKEN}"}

CONFIG: dict[str, Any] = {
    "services": {
        "postgres": {"dsn": "postgresql://monitor@127.0.0.1:1/platform"},
        "redis": {"url": "redis://127.0.0.1:1/0"},
        "stripe": {"api_key": "sk_test_0123456789"},
    },
    "channels": {"webhook": {"url": "http://127.0.0.1:1/hook"}},
}
NOW = datetime.now(UTC).replace(microsecond=0)
EARLIER = NOW - timedelta(minutes=5)


def result(
    service: str,
    tenant: str | None,
    status: Status,
    latency_ms: float | None = 42.0,
    at: datetime = NOW,
    **details: Any,
) -> CheckResult:
    return CheckResult(service, tenant, MONITORS[service].tier, status, latency_ms, details, at)


def record(runtime: App, results: Sequence[CheckResult], ttl_s: int = 300) -> None:
    """What a tier run's record step does: history and status rows, the cache, the views."""
    record_results(runtime.engine, results, run_id=None)
    runtime.cache.set_many(cache_entries(results), ttl_s)
    invalidate_views(runtime.cache)


def tenants_changed(client: TestClient) -> None:
    """After a test changed tenants through storage (as another process would): the API keeps a
    tenant snapshot for api.tenant_snapshot.TTL_S and reads it again in the background after
    that (tests/api/test_tenant_snapshot.py); here the next request reads it at once, as after
    a change through the API itself."""
    app: Any = client.app
    app.state.tenant_snapshots.forget()


def shopify(shop: str) -> IntegrationInput:
    return IntegrationInput({"shop": f"{shop}.myshopify.com"}, {"access_token": f"shpat_{shop}_secret_0123"})


def meta(account: str) -> IntegrationInput:
    return IntegrationInput({"ad_account_id": account}, {"access_token": f"EAAB{account}secret0123"})


@dataclass
class Seeded:
    runtime: App
    #: the live p2 alert (shopify for globex), notified to the webhook channel
    shopify_alert: int
    #: the live p3 alert (redis), never notified (held by a silence)
    redis_alert: int
    #: a resolved alert
    resolved_alert: int


def seed(runtime: App) -> Seeded:
    assert runtime.cipher is not None
    upsert_tenants(
        runtime.engine,
        runtime.cipher,
        [
            ("acme", "Acme Corp", True, {"shopify": shopify("acme"), "meta_ads": meta("act_1001")}),
            ("globex", "Globex", True, {"shopify": shopify("globex")}),
            ("initech", "Initech", False, {"shopify": shopify("initech")}),
        ],
    )
    # globex was healthy before: its `since` is the later result's time
    record(runtime, [result("shopify", "globex", Status.HEALTHY, at=EARLIER)])
    record(
        runtime,
        [
            result("postgres", None, Status.HEALTHY, 3.2, connections_used_pct=12.0),
            result("redis", None, Status.DEGRADED, 1.5, reason="memory_used_pct 92 >= 90"),
            result("stripe", None, Status.HEALTHY, 180.0),
            result("shopify", "acme", Status.HEALTHY, 120.5, rate_limit_remaining_pct=88.0),
            result("shopify", "globex", Status.UNHEALTHY, None, reason="timeout", error="timeout"),
            result("meta_ads", "acme", Status.UNKNOWN, None, reason="token expired"),
        ],
    )
    decision = Decision(
        changes=[
            AlertChange(
                "shopify|globex|health",
                "shopify",
                "globex",
                "health",
                Severity.P2,
                "shopify unhealthy (tenant globex)",
                {"status": "unhealthy", "reason": "timeout"},
            ),
            AlertChange(
                "redis|-|health",
                "redis",
                None,
                "health",
                Severity.P3,
                "redis degraded (platform)",
                {"status": "degraded", "reason": "memory_used_pct 92 >= 90"},
                held="silence:1",
            ),
            AlertChange(
                "stripe|-|health",
                "stripe",
                None,
                "health",
                Severity.P2,
                "stripe unhealthy (platform)",
                {"status": "unhealthy"},
            ),
        ],
        notify=[("shopify|globex|health", Kind.TRIGGER)],
    )
    flow_alerts.apply_decision(runtime.engine, decision, lambda *_: ["webhook"], EARLIER)
    ids = {a["signature"]: a["id"] for a in store.list_alerts(runtime.engine)}
    outbox.resolve(SqlAlertStore(runtime.engine), ids["stripe|-|health"], "recovery", NOW, lambda *_: [])
    return Seeded(runtime, ids["shopify|globex|health"], ids["redis|-|health"], ids["stripe|-|health"])


@pytest.fixture
def runtime(db_url: str, make_app: AppFactory) -> App:
    return make_app(db_url, CONFIG)


@pytest.fixture
def seeded(runtime: App) -> Seeded:
    return seed(runtime)


@pytest.fixture
def client(runtime: App) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, TOKENS)) as test_client:
        yield test_client


def field_of(response: Any) -> list[str]:
    """The fields a 422 names."""
    body = response.json()
    return [e["field"] for e in body.get("errors") or []]
