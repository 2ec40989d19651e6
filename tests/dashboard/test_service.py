"""The service detail page: current status, the latency chart's data, status changes and alerts
in the window, and the per-tenant breakdown."""

from __future__ import annotations

import json

from healthmon.alerting.notification import Severity
from healthmon.monitors.result import Status
from healthmon.storage.results import record_results
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, table, texts


def test_platform_service_history(dashboard: Dashboard) -> None:
    history = seed.seed_history(dashboard.engine, "postgres", hours=6)
    alert_id = seed.open_alert(dashboard.engine, "postgres", severity=Severity.P1, title="postgres down")
    at = dashboard.open("service", service="postgres")

    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status"] == "🔴 unhealthy"
    assert metrics["Latency"] == f"{history[-1].latency_ms:,.0f} ms"
    assert "**Reason:** postgres is unhealthy" in [e.value for e in at.error]
    assert json.loads(at.json[0].value) == {"reason": "postgres is unhealthy"}

    # 24 h window, 10-minute buckets: one check per bucket, so p50 = p95 = that check's latency
    series = table(at, "at", "p50", "p95")
    assert len(series) == len(history)
    assert series["p50"].tolist() == [r.latency_ms for r in history]
    assert series["p95"].tolist() == series["p50"].tolist()
    assert set(series["checks"]) == {1}

    changes = table(at, "at", "from", "to")
    assert changes[["from", "to"]].values.tolist() == [["healthy", "unhealthy"]]
    assert changes["at"].iloc[0].to_pydatetime() == history[-3].checked_at

    alerts = table(at, "id", "severity", "state")
    assert alerts[["id", "title"]].values.tolist() == [[alert_id, "postgres down"]]

    (chart,) = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    # p50/p95 lines, the status strip, status-change rules, the alert's rule and marker
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line", "rect", "rule", "rule", "point"]
    assert f"{len(history)} checks · 1 status changes · 1 alerts" in texts(at)

    at.segmented_control(key="window").set_value("7d").run()
    series = table(at, "at", "p50", "p95")
    # hourly buckets now: 6 hours of checks span 6 or 7 of them, depending on the minute
    assert len(series) in (6, 7)
    assert {t.minute for t in series["at"]} == {0}
    assert series["checks"].sum() == len(history)


def test_per_tenant_service_breakdown_and_tenant(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    seed.seed_results(dashboard.engine)
    at = dashboard.open("service", service="shopify")

    breakdown = table(at, "tenant", "status", "latency ms")
    assert breakdown[["tenant", "status"]].values.tolist() == [
        ["globex", "🔴 unhealthy"],
        ["initech", "🟠 degraded"],
        ["acme", "🟢 healthy"],
    ]
    assert breakdown["reason"].tolist() == ["shopify is unhealthy", "shopify is degraded", ""]
    # history is per target (pick a tenant first): only the overview's charts, no layered history
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert [c["mark"]["type"] for c in charts] == ["line", "line", "bar"]

    at.selectbox(key="tenant").select("initech").run()
    assert {m.label: m.value for m in at.metric}["Status"] == "🟠 degraded"
    series = table(at, "at", "p50", "p95")
    assert series["checks"].sum() == 2  # the seeded check an hour ago and the latest
    changes = table(at, "at", "from", "to")
    assert changes[["from", "to"]].values.tolist() == [["healthy", "degraded"]]
    # every tenant's table under one tenant: drawn only once its expander is opened
    assert [e.label for e in at.expander].count("Every tenant of shopify") == 1
    assert not [d for d in at.dataframe if "latency ms" in d.value.columns]
    at.session_state["service_every_tenant"] = True
    at.run()
    assert table(at, "tenant", "status", "latency ms")["tenant"].tolist() == ["globex", "initech", "acme"]


def test_past_a_thousand_tenants_the_breakdown_lists_the_worst_thousand(dashboard: Dashboard) -> None:
    at_time = seed.now()
    results = [
        seed.result("shopify", f"shop-{i:04d}", Status.UNHEALTHY if i % 500 == 7 else Status.HEALTHY, at_time)
        for i in range(1005)
    ]
    record_results(dashboard.engine, results)
    at = dashboard.open("service", service="shopify")
    breakdown = table(at, "tenant", "status", "latency ms")
    assert len(breakdown) == 1000
    assert breakdown["tenant"].tolist()[:3] == ["shop-0007", "shop-0507", "shop-0000"]
    assert "the 1,000 worst of 1,005 tenants, worst first; pick a tenant above for any other" in texts(at)


def test_service_without_results(dashboard: Dashboard) -> None:
    at = dashboard.open("service", service="wise")
    assert "No result for wise yet." in texts(at)
    assert "No checks recorded in this window." in texts(at)
