"""Service detail of a per-tenant service with no tenant picked: latency across tenants, the
failing tenants over time and the uptime distribution, above the per-tenant table. On SQLite
and PostgreSQL, whose bucketing SQL differs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from healthmon.monitors.result import CheckResult, Status
from healthmon.storage.results import record_results
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, table, texts

TENANTS = ("acme", "globex", "initech", "umbrella")
BUCKET = timedelta(minutes=10)  # the 24 h window's


def _history(start: datetime) -> list[CheckResult]:
    """Six 10-minute buckets of one check per tenant (tenant i, bucket k: 10 (i + 1) + k ms);
    umbrella degraded in bucket 3, globex unhealthy in 4 and 5, initech unhealthy then degraded
    in bucket 5 (a second check there, 100 ms)."""
    results = []
    for k in range(6):
        for i, tenant in enumerate(TENANTS):
            status = Status.HEALTHY
            if tenant == "umbrella" and k == 3:
                status = Status.DEGRADED
            if (tenant == "globex" and k >= 4) or (tenant == "initech" and k == 5):
                status = Status.UNHEALTHY
            at = start + k * BUCKET + timedelta(minutes=1)
            results.append(seed.result("shopify", tenant, status, at, 10.0 * (i + 1) + k))
    results.append(
        seed.result("shopify", "initech", Status.DEGRADED, start + 5 * BUCKET + timedelta(minutes=2), 100.0)
    )
    return sorted(results, key=lambda r: r.checked_at)


@pytest.mark.parametrize("store", ["dashboard", "pg_dashboard"])
def test_per_tenant_service_overview(store: str, request: pytest.FixtureRequest) -> None:
    board: Dashboard = request.getfixturevalue(store)
    seed.seed_tenants(board.engine, board.cipher, TENANTS)
    now = seed.now()
    start = datetime.fromtimestamp(now.timestamp() // 600 * 600, now.tzinfo) - timedelta(hours=2)
    for result in _history(start):
        # one result per write, as tier runs record them
        record_results(board.engine, [result])
    at = board.open("service", service="shopify")

    assert "shopify across tenants, last 24h" in texts(at)
    buckets = [start + k * BUCKET for k in range(6)]
    latency = table(at, "at", "p50", "p95")
    assert [t.to_pydatetime() for t in latency["at"]] == buckets
    # nearest rank of 4 values: p50 the 2nd, p95 the 4th; of 5 values, the 3rd and the 5th
    assert latency["p50"].tolist() == [20.0, 21.0, 22.0, 23.0, 24.0, 35.0]
    assert latency["p95"].tolist() == [40.0, 41.0, 42.0, 43.0, 44.0, 100.0]
    assert latency["checks"].tolist() == [4, 4, 4, 4, 4, 5]

    failing = table(at, "at", "degraded", "unhealthy")
    assert [t.to_pydatetime() for t in failing["at"]] == buckets
    assert failing["degraded"].tolist() == [0, 0, 0, 1, 0, 0]
    # initech was unhealthy and then degraded in the last bucket: it counts by its worst
    assert failing["unhealthy"].tolist() == [0, 0, 0, 0, 1, 2]
    assert set(failing["tenants"]) == {4}

    # acme and umbrella (degraded is up) always up; initech down 1 of 61 minutes; globex a third
    uptime = table(at, "uptime", "tenants")
    assert dict(zip(uptime["uptime"], uptime["tenants"], strict=True)) == {
        "100%": 2,
        "99.9-100%": 0,
        "99-99.9%": 0,
        "95-99%": 1,
        "< 95%": 1,
        "no data": 0,
    }

    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert [c.get("mark", {}).get("type") for c in charts] == ["line", "line", "bar"]
    # the overview comes first, then the table of every tenant (worst first)
    breakdown = table(at, "tenant", "status", "latency ms")
    assert breakdown["tenant"].tolist()[:2] == ["globex", "initech"]
    headings = [h.value for h in at.subheader]
    assert headings.index("shopify across tenants, last 24h") < headings.index("shopify — every tenant")


def test_overview_without_history(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    at = dashboard.open("service", service="shopify")
    assert "shopify across tenants, last 24h" in texts(at)
    assert "No checks recorded in this window." in texts(at)
    assert not at.get("vega_lite_chart")


def test_overview_is_not_shown_for_one_tenant(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    seed.seed_results(dashboard.engine)
    at = dashboard.open("service", service="shopify", tenant="initech")
    assert "shopify across tenants" not in texts(at)
    assert {m.label: m.value for m in at.metric}["Status"] == "🟠 degraded"
