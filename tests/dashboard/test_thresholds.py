"""The thresholds page: validated overrides per service and per tenant, effective values and sources."""

from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest

from storage.thresholds import list_overrides
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, by_label, table, texts


def effective(at: AppTest) -> dict[str, tuple[float | None, float | None, str]]:
    rows = table(at, "metric", "degraded at", "unhealthy at").to_dict("records")

    def bound(value: float) -> float | None:
        return None if pd.isna(value) else value

    return {r["metric"]: (bound(r["degraded at"]), bound(r["unhealthy at"]), r["from"]) for r in rows}


def save(at: AppTest, degraded: float | None, unhealthy: float | None) -> None:
    by_label(at.number_input, "Degraded at").set_value(degraded)
    by_label(at.number_input, "Unhealthy at").set_value(unhealthy)
    by_label(at.button, "Save override").click().run()
    assert not at.exception


def test_service_override_is_validated_then_saved_and_cleared(dashboard: Dashboard) -> None:
    at = dashboard.open("thresholds")
    at.selectbox(key="thr_service").select("postgres").run()
    assert effective(at)["latency_ms"] == (250, 1000, "⚙️ default")
    at.selectbox(key="thr_metric").select("latency_ms").run()
    # the form starts from the effective rule
    assert by_label(at.number_input, "Degraded at").value == 250

    save(at, 900, 500)
    errors = [e.value for e in at.error]
    assert errors == [
        "Not saved — rule for 'latency_ms': degraded bound 900 is past the unhealthy bound 500 "
        "(above is worse, so degraded must be the lower)"
    ]
    assert list_overrides(dashboard.engine) == []

    save(at, 300, 900)
    assert not at.error
    (row,) = list_overrides(dashboard.engine)
    assert (row["service"], row["tenant_id"], row["metric"], row["degraded"], row["unhealthy"]) == (
        "postgres",
        "",
        "latency_ms",
        300,
        900,
    )
    assert row["updated_by"] == "dashboard"
    assert effective(at)["latency_ms"] == (300, 900, "🛠️ service override")
    assert "Saved the service-wide override of postgres latency_ms." in texts(at)

    by_label(at.selectbox, "Override").select(("", "latency_ms")).run()
    by_label(at.button, "Clear override").click().run()
    assert list_overrides(dashboard.engine) == []
    assert effective(at)["latency_ms"] == (250, 1000, "⚙️ default")


def test_tenant_override_and_inverse_rule(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    at = dashboard.open("thresholds")
    at.selectbox(key="thr_service").select("shopify").run()
    at.selectbox(key="thr_tenant").select("globex").run()
    at.selectbox(key="thr_metric").select("rate_limit_remaining_pct").run()
    assert by_label(at.checkbox, "Below is worse").value is True

    by_label(at.checkbox, "Below is worse").uncheck()
    save(at, 20, 5)  # "above is worse" with degraded above unhealthy: refused
    assert "degraded bound 20 is past the unhealthy bound 5" in at.error[0].value
    assert list_overrides(dashboard.engine) == []

    by_label(at.checkbox, "Below is worse").check()
    save(at, 30, 10)
    (row,) = list_overrides(dashboard.engine, "shopify")
    assert (row["tenant_id"], row["degraded"], row["unhealthy"], row["inverse"]) == ("globex", 30, 10, True)
    assert effective(at)["rate_limit_remaining_pct"] == (30, 10, "🏷️ tenant override")

    # other tenants keep the service's rule
    at.selectbox(key="thr_tenant").select("acme").run()
    assert effective(at)["rate_limit_remaining_pct"] == (20, 5, "⚙️ default")


def test_metric_of_its_own_needs_a_name_and_a_bound(dashboard: Dashboard) -> None:
    at = dashboard.open("thresholds")
    at.selectbox(key="thr_service").select("stripe").run()
    at.selectbox(key="thr_metric").select("another metric…").run()
    at.text_input(key="thr_metric_other").input("Queue Depth").run()
    by_label(at.button, "Save override").click().run()
    assert at.error[0].value.startswith("metric: ")

    at.text_input(key="thr_metric_other").input("queue_depth").run()
    # a metric without an effective rule starts with both bounds empty
    assert by_label(at.number_input, "Degraded at").value is None
    by_label(at.button, "Save override").click().run()
    assert at.error[0].value == "Not saved — rule for 'queue_depth' needs a degraded or an unhealthy bound"
    assert list_overrides(dashboard.engine) == []

    save(at, 100, None)
    (row,) = list_overrides(dashboard.engine)
    assert (row["metric"], row["degraded"], row["unhealthy"]) == ("queue_depth", 100, None)
    assert effective(at)["queue_depth"] == (100, None, "🛠️ service override")
