"""The thresholds page: validated overrides per service and per tenant, effective values and sources."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from healthmon.alerting.thresholds import settable_metrics
from healthmon.storage.thresholds import list_overrides
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, by_label, table, texts


def effective(at: AppTest) -> dict[str, tuple[float | None, float | None, str]]:
    rows = table(at, "metric", "degraded at", "unhealthy at").to_dict("records")

    def bound(value: float) -> float | None:
        return None if pd.isna(value) else value

    return {r["metric"]: (bound(r["degraded at"]), bound(r["unhealthy at"]), r["from"]) for r in rows}


def save(at: AppTest, degraded: str, unhealthy: str) -> None:
    by_label(at.text_input, "Degraded at").input(degraded)
    by_label(at.text_input, "Unhealthy at").input(unhealthy)
    by_label(at.button, "Save override").click().run()
    assert not at.exception


def errors_under(at: AppTest, label: str) -> list[str]:
    """The errors shown in the form column of the field labelled `label`: next to it."""
    for column in at.columns:
        labels = [e.label for e in column.text_input] + [e.label for e in column.checkbox]
        if label in labels:
            return [e.value for e in column.error]
    raise AssertionError(f"no column holds {label!r}")


def test_service_override_is_validated_then_saved_and_cleared(dashboard: Dashboard) -> None:
    at = dashboard.open("thresholds")
    at.selectbox(key="thr_service").select("postgres").run()
    assert effective(at)["latency_ms"] == (250, 1000, "⚙️ default")
    at.selectbox(key="thr_metric").select("latency_ms").run()
    # the form starts from the effective rule
    assert by_label(at.text_input, "Degraded at").value == "250"

    save(at, "900", "500")
    assert errors_under(at, "Degraded at") == [
        "Not saved — degraded: rule for 'latency_ms': degraded bound 900 is past the unhealthy bound 500 "
        "(above is worse, so degraded must be the lower)"
    ]
    assert errors_under(at, "Unhealthy at") == []
    assert list_overrides(dashboard.engine) == []

    save(at, "300", "900")
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
    save(at, "20", "5")  # "above is worse" with degraded above unhealthy: refused
    assert "degraded bound 20 is past the unhealthy bound 5" in errors_under(at, "Degraded at")[0]
    assert list_overrides(dashboard.engine) == []

    by_label(at.checkbox, "Below is worse").check()
    save(at, "30", "10")
    (row,) = list_overrides(dashboard.engine, "shopify")
    assert (row["tenant_id"], row["degraded"], row["unhealthy"], row["inverse"]) == ("globex", 30, 10, True)
    assert effective(at)["rate_limit_remaining_pct"] == (30, 10, "🏷️ tenant override")

    # other tenants keep the service's rule
    at.selectbox(key="thr_tenant").select("acme").run()
    assert effective(at)["rate_limit_remaining_pct"] == (20, 5, "⚙️ default")


#: (metric, inverse, degraded, unhealthy) typed into the service-wide form of shopify (every
#: Shopify tenant) -> the field whose column shows the error, and words of it
BAD_FORMS: list[tuple[str, bool, str, str, str, str]] = [
    (
        "latency_ms",
        False,
        "-5",
        "",
        "Degraded at",
        "degraded: must not be negative: latency_ms cannot go below 0",
    ),
    ("latency_ms", False, "abc", "3000", "Degraded at", "degraded: must be a number, not 'abc'"),
    ("latency_ms", False, "800", "1e", "Unhealthy at", "unhealthy: must be a number, not '1e'"),
    ("latency_ms", False, "800", "-1", "Unhealthy at", "unhealthy: must not be negative"),
    ("latency_ms", False, "900", "500", "Degraded at", "so degraded must be the lower"),
    ("rate_limit_remaining_pct", True, "5", "20", "Degraded at", "so degraded must be the higher"),
    ("latency_ms", False, "", " ", "Degraded at", "needs a degraded or an unhealthy bound"),
    ("latency_ms", False, "nan", "", "Degraded at", "must be a finite number"),
]


def test_bad_bounds_are_refused_next_to_the_field(dashboard: Dashboard, subtests: pytest.Subtests) -> None:
    at = dashboard.open("thresholds")
    at.selectbox(key="thr_service").select("shopify").run()
    for metric, inverse, degraded, unhealthy, label, words in BAD_FORMS:
        with subtests.test(metric=metric, degraded=degraded, unhealthy=unhealthy):
            at.selectbox(key="thr_metric").select(metric).run()
            checkbox = by_label(at.checkbox, "Below is worse")
            (checkbox.check() if inverse else checkbox.uncheck()).run()
            save(at, degraded, unhealthy)
            shown = errors_under(at, label)
            assert len(shown) == 1 and words in shown[0], [e.value for e in at.error]
            other = "Unhealthy at" if label == "Degraded at" else "Degraded at"
            assert errors_under(at, other) == []
            # nothing saved, and never the field's old value instead of what was typed
            assert list_overrides(dashboard.engine) == []
    assert effective(at)["latency_ms"][2] == "⚙️ default"


def test_negative_bounds_where_the_metric_can_be_negative(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    at = dashboard.open("thresholds")
    at.selectbox(key="thr_service").select("tiktok_ads").run()
    at.selectbox(key="thr_metric").select("balance").run()
    assert by_label(at.checkbox, "Below is worse").value is True
    save(at, "-100", "-500")
    assert not at.error
    (row,) = list_overrides(dashboard.engine)
    assert (row["metric"], row["degraded"], row["unhealthy"], row["inverse"]) == ("balance", -100, -500, True)


def test_only_metrics_the_monitor_reports_can_be_picked(dashboard: Dashboard) -> None:
    at = dashboard.open("thresholds")
    at.selectbox(key="thr_service").select("stripe").run()
    options = at.selectbox(key="thr_metric").options
    assert options == settable_metrics("stripe")
    # the common default rule stripe never reports, and a made-up name, cannot be chosen
    assert "rate_limit_remaining_pct" not in options and "queue_depth" not in options
    # nor listed among the effective rules (issue 13: only what the service emits)
    assert "rate_limit_remaining_pct" not in effective(at)
