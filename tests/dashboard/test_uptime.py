"""Uptime and error budgets in the dashboard: the cards of service detail for a target and for a
whole per-tenant service, every tenant's uptime in the breakdown, the budget and its burn-down
with an SLO, and the matrix's uptime column."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from healthmon.monitors.result import Status
from healthmon.storage.results import record_results
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, table, texts
from tests.support.history import history_rows, write_history

H, U, X = Status.HEALTHY, Status.UNHEALTHY, Status.UNKNOWN
UPTIME_CARDS = ("Uptime 24h", "Uptime 7d", "Uptime 30d")


def metrics(at: object) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}  # type: ignore[attr-defined]


def postgres_hour(board: Dashboard) -> None:
    """An hour of postgres checks a minute apart: 59 up, 1 down, then an unknown one (no data
    from there on, so the figures do not move while the test runs)."""
    start = seed.now() - timedelta(minutes=61)
    write_history(board.engine, history_rows("postgres", None, [H] * 58 + [U] + [H] + [X], start))


def test_a_target_shows_uptime_over_three_windows(dashboard: Dashboard) -> None:
    postgres_hour(dashboard)
    at = dashboard.open("service", service="postgres")
    found = metrics(at)
    # 59 of 60 observed minutes up, in every window (the history is an hour long)
    assert [found[card] for card in UPTIME_CARDS] == ["98.333 %"] * 3
    assert found["Error budget"] == "no SLO"
    assert "Degraded counts as up" in texts(at)


def test_a_service_with_an_slo_shows_its_budget_and_burn_down(
    dashboard: Dashboard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "healthmon.yaml"
    postgres = {
        "dsn": "postgresql://monitor@127.0.0.1:1/platform",
        "slo": {"objective": 95, "window_days": 7},
    }
    config.write_text(yaml.safe_dump({"services": {"postgres": postgres}}))
    monkeypatch.setenv("HEALTHMON_CONFIG", str(config))
    postgres_hour(dashboard)
    at = dashboard.open("service", service="postgres")
    # 1/60 down against a 5 % budget: a third of it spent
    assert metrics(at)["Budget left (95 % over 7 d)"] == "66.7 %"
    # the last five minutes saw four observed minutes, one of them down: 25 % / 5 %. The
    # windows end when the page renders, seconds after the seeding on a loaded box: the oldest
    # minute in them shrinks by as much, so the figures may move a little from 5.0x and 0.7x
    burn = r"Burn rate \(1x spends the budget in exactly 7 d\): 5m ([\d.]+)x · 30m ([\d.]+)x"
    line = re.search(burn, texts(at))
    assert line is not None, texts(at)
    assert float(line.group(1)) == pytest.approx(5.0, abs=0.3)
    assert float(line.group(2)) == pytest.approx(0.7, abs=0.1)
    budget = table(at, "at", "budget left %")
    assert len(budget) == 7 and budget["budget left %"].iloc[-1] == pytest.approx(66.67, abs=0.01)
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert any(
        [layer["mark"]["type"] for layer in spec.get("layer", [])] == ["line", "rule"] for spec in charts
    )


def test_every_tenant_has_its_uptime(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    start = seed.now() - timedelta(hours=1)
    # shopify is core tier: five-minute checks; the latest result (unknown: no data from there
    # on) is recorded as a tier run does, so the breakdown lists the tenant
    write_history(dashboard.engine, history_rows("shopify", "acme", [H] * 11, start))
    write_history(dashboard.engine, history_rows("shopify", "globex", [U] * 6 + [H] * 5, start))
    latest = start + timedelta(minutes=55)
    record_results(dashboard.engine, [seed.result("shopify", t, X, latest) for t in ("acme", "globex")])
    at = dashboard.open("service", service="shopify")
    breakdown = table(at, "tenant", "status", "latency ms").set_index("tenant")
    assert breakdown.loc["acme", "uptime 24h %"] == 100.0
    assert breakdown.loc["globex", "uptime 24h %"] == pytest.approx(500 / 11, abs=0.001)
    assert breakdown.loc["globex", "uptime 30d %"] == breakdown.loc["globex", "uptime 24h %"]
    found = metrics(at)
    assert all(found[card].endswith(" %") for card in UPTIME_CARDS)  # every tenant together
    assert "Uptime and error budget, every tenant together" in texts(at)

    at = dashboard.open("service", service="shopify", tenant="globex")
    assert metrics(at)["Uptime 24h"] == "45.455 %"


def test_the_matrix_uptime_column(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    seed.seed_results(dashboard.engine)
    at = dashboard.open()
    platform, tenants = at.dataframe[0].value, at.dataframe[1].value  # on by default
    rows = tenants.set_index("tenant")["uptime 24h %"]
    # acme's services are all healthy; globex's shopify is unhealthy since the latest check
    assert rows["acme"] == 100.0
    assert rows["globex"] <= 100.0
    assert platform["uptime 24h %"].iloc[0] is not None
    at.toggle(key="matrix_uptime").set_value(False).run()
    assert all("uptime 24h %" not in d.value.columns for d in at.dataframe)
