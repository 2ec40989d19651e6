"""/metrics: Prometheus exposition over the current matrix and live alerts."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import NOW, READ, Seeded


def test_metrics(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/metrics", headers=READ)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert set(families) == {
        "healthmon_status",
        "healthmon_latency_ms",
        "healthmon_last_check_timestamp_seconds",
        "healthmon_result_age_seconds",
        "healthmon_result_stale",
        "healthmon_alerts",
    }
    status = {
        (s.labels["service"], s.labels["tenant"], s.labels["tier"]): s.value
        for s in families["healthmon_status"].samples
    }
    assert status == {
        ("postgres", "", "critical"): 0.0,
        ("redis", "", "critical"): 2.0,
        ("stripe", "", "core"): 0.0,
        ("shopify", "acme", "core"): 0.0,
        ("shopify", "globex", "core"): 3.0,
        ("meta_ads", "acme", "integration"): 1.0,
    }
    latency = {
        (s.labels["service"], s.labels["tenant"]): s.value for s in families["healthmon_latency_ms"].samples
    }
    assert latency[("shopify", "acme")] == 120.5
    assert ("shopify", "globex") not in latency  # no latency: no sample, rather than a fake 0
    checked = families["healthmon_last_check_timestamp_seconds"].samples
    assert {s.value for s in checked} == {NOW.timestamp()}
    alerts = {
        (s.labels["status"], s.labels["severity"]): s.value for s in families["healthmon_alerts"].samples
    }
    assert alerts == {
        ("open", "p1"): 0.0,
        ("open", "p2"): 1.0,
        ("open", "p3"): 1.0,
        ("acknowledged", "p1"): 0.0,
        ("acknowledged", "p2"): 0.0,
        ("acknowledged", "p3"): 0.0,
    }


def test_metrics_follow_changes(client: TestClient, seeded: Seeded) -> None:
    from tests.api.conftest import ADMIN

    client.post(f"/api/alerts/{seeded.shopify_alert}/acknowledge", headers=ADMIN)
    text = client.get("/metrics", headers=READ).text
    alerts = {
        (s.labels["status"], s.labels["severity"]): s.value
        for f in text_string_to_metric_families(text)
        if f.name == "healthmon_alerts"
        for s in f.samples
    }
    assert alerts[("open", "p2")] == 0.0 and alerts[("acknowledged", "p2")] == 1.0


def test_metrics_empty(client: TestClient) -> None:
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics", headers=READ).text)}
    assert families["healthmon_status"].samples == []
    assert len(families["healthmon_alerts"].samples) == 6
