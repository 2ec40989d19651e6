"""The threshold form's Preview: the proposed rule replayed beside the current one, before saving."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from healthmon.storage.thresholds import list_overrides
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, by_label, table, texts
from tests.dashboard.test_thresholds import errors_under


def open_form(dashboard: Dashboard, degraded: str, unhealthy: str) -> AppTest:
    at = dashboard.open("thresholds")
    at.selectbox(key="thr_service").select("postgres").run()
    at.selectbox(key="thr_metric").select("latency_ms").run()
    by_label(at.text_input, "Degraded at").input(degraded)
    by_label(at.text_input, "Unhealthy at").input(unhealthy)
    by_label(at.button, "Preview").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_preview_shows_current_and_proposed_side_by_side_and_saves_nothing(dashboard: Dashboard) -> None:
    # postgres every 10 minutes for 6 hours, latency 10..45 ms, unhealthy for the last three checks
    seed.seed_history(dashboard.engine)
    at = open_form(dashboard, "20", "40")
    shown = table(at, "", "current rule", "proposed rule").set_index("")
    assert shown.loc["alerts opened"].tolist() == ["1", "1"]
    assert shown.loc["alerts resolved"].tolist() == ["0", "0"]
    assert shown.loc["tenants affected"].tolist() == ["0", "0"]
    # each result counts until the next one, at most the critical tier's staleness bound (2 min):
    # 20 results from 20 ms up are degraded under the proposal, none under the default (250 ms)
    assert shown.loc["time degraded"].tolist() == ["0 min", "40 min"]
    assert "Preview: latency_ms over the last 30 days (service-wide)" in texts(at)
    assert "Nothing is saved yet" in texts(at)
    assert list_overrides(dashboard.engine) == []


def test_preview_with_an_empty_history_shows_zeros(dashboard: Dashboard) -> None:
    at = open_form(dashboard, "20", "40")
    shown = table(at, "", "current rule", "proposed rule").set_index("")
    assert shown["proposed rule"].tolist() == ["0", "0", "0", "0 min", "0 min"]


def test_a_bad_rule_is_not_previewed(dashboard: Dashboard) -> None:
    at = open_form(dashboard, "abc", "40")
    assert errors_under(at, "Degraded at") == ["Not previewed — degraded: must be a number, not 'abc'"]
    assert not [d for d in at.dataframe if list(d.value.columns[:2]) == ["", "current rule"]]
    assert list_overrides(dashboard.engine) == []
