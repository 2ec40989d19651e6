"""The dashboard's rough edges: a chart of one bucket, where service detail opens, deep links,
the metrics the thresholds page offers, missing values in tables, and grids cut off."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pandas as pd
from streamlit.testing.v1 import AppTest

from healthmon.alerting.thresholds import settable_metrics
from healthmon.dashboard import context
from healthmon.monitors.result import Status
from healthmon.storage.results import record_results
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, by_label, table, texts


def _specs(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def _line_points(spec: dict[str, Any]) -> list[Any]:
    """The `point` option of every line mark in a chart, layered or not."""
    marks = [layer["mark"] for layer in spec.get("layer", [spec])]
    return [m.get("point") for m in marks if m["type"] == "line"]


def test_a_single_bucket_is_drawn_as_a_point(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    at = seed.now() - timedelta(minutes=3)
    record_results(
        dashboard.engine,
        [
            seed.result("stripe", None, Status.HEALTHY, at, 2.00254),
            seed.result("shopify", "acme", Status.DEGRADED, at, 50.0),
        ],
    )
    page = dashboard.open("service", service="stripe")
    assert len(table(page, "at", "p50", "p95")) == 1
    (spec,) = _specs(page)
    assert [bool(p) for p in _line_points(spec)] == [True]

    # the overview of a per-tenant service too: latency and failing tenants, one bucket each
    page = dashboard.open("service", service="shopify")
    latency, failing, _uptime = _specs(page)
    assert [bool(p) for p in _line_points(latency) + _line_points(failing)] == [True, True]


def test_more_buckets_are_lines_without_points(dashboard: Dashboard) -> None:
    seed.seed_history(dashboard.engine, "stripe", hours=1)
    (spec,) = _specs(dashboard.open("service", service="stripe"))
    assert [bool(p) for p in _line_points(spec)] == [False]


def test_service_detail_opens_on_the_worst_service_checked_here(dashboard: Dashboard) -> None:
    # no config: only the per-tenant services are checked; postgres, redis and stripe have
    # results (seeded), but nothing here checks them
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    seed.seed_results(dashboard.engine)
    at = dashboard.open("service")
    assert at.selectbox(key="service").value == "shopify"  # unhealthy for globex
    assert "shopify across tenants, last 24h" in texts(at)


def test_service_detail_opens_on_a_checked_service_when_nothing_has_results(dashboard: Dashboard) -> None:
    at = dashboard.open("service")
    assert at.selectbox(key="service").value == "shopify"  # the first service checked here
    assert context.per_tenant("shopify")


def test_deep_link_to_a_tenant_of_a_service(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    seed.seed_results(dashboard.engine)
    at = dashboard.open("service", service="shopify", tenant="globex")
    assert (at.selectbox(key="service").value, at.selectbox(key="tenant").value) == ("shopify", "globex")
    # the tenant by its id (and its display name where it has one)
    heading = next(h.value for h in at.subheader if h.value.startswith("shopify — "))
    assert heading.endswith("globex)"), heading
    assert {m.label: m.value for m in at.metric}["Status"] == "🔴 unhealthy"


def test_thresholds_list_only_the_metrics_the_service_emits(dashboard: Dashboard) -> None:
    at = dashboard.open("thresholds")
    for service in ("postgres", "meta_ads"):
        at.selectbox(key="thr_service").select(service).run()
        listed = table(at, "metric", "degraded at", "unhealthy at")["metric"].tolist()
        assert listed and set(listed) <= set(settable_metrics(service)), (service, listed)
        assert by_label(at.selectbox, "Metric").options == settable_metrics(service)
        assert ("token_expires_in_days" in listed) == (service == "meta_ads")


def _cells(frame: pd.DataFrame) -> list[object]:
    return [v for column in frame.columns for v in frame[column].tolist()]


def test_no_table_says_none(dashboard: Dashboard) -> None:
    """Missing values show as "—" (Streamlit's own is the word "None"), and no cell holds the
    text "None" or "NULL", on every page."""
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    seed.seed_results(dashboard.engine)
    seed.seed_history(dashboard.engine, "postgres", hours=2)
    record_results(dashboard.engine, [seed.result("stripe", None, Status.UNHEALTHY, seed.now(), None)])
    alert_id = seed.open_alert(dashboard.engine, "stripe")
    pages: list[AppTest] = [
        dashboard.open("matrix"),
        dashboard.open("service", service="shopify"),
        dashboard.open("service", service="postgres"),
        dashboard.open("service", service="shopify", tenant="globex"),
        dashboard.open("thresholds"),
        dashboard.open("tenants"),
    ]
    alerts = dashboard.open("alerts")
    by_label(alerts.selectbox, "Alert").select(alert_id).run()
    # the notifications table: a pending row has no last error and no delivery time
    deliveries = table(alerts, "channel", "kind", "status")
    assert deliveries["delivered_at"].isna().all()
    pages.append(alerts)
    shown = 0
    for page in pages:
        for frame in page.dataframe:
            shown += 1
            assert frame.proto.placeholder == context.MISSING
            cells = _cells(frame.value)
            assert not {"None", "NULL", "nan", "NaN"} & {str(c) for c in cells if isinstance(c, str)}
    assert shown >= 10


def test_a_grid_that_cuts_rows_off_says_so(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher, [f"tenant-{n:02d}" for n in range(12)])
    at = dashboard.open("tenants")
    assert {m.label: m.value for m in at.metric}["Tenants"] == "12"
    assert "showing 10 of 12 rows; scroll for the rest" in texts(at)

    seed.seed_results(dashboard.engine)
    at = dashboard.open("service", service="shopify")
    # three tenants fit
    assert "scroll for the rest" not in texts(at)
