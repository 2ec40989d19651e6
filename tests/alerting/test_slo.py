"""Error budgets and burn-rate alerts: the pure decision (alerting/slo.py), and history written
at chosen times evaluated at a chosen `now` through the lifecycle, the routes and the alert step."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from healthmon.alerting.lifecycle import AlertView, Decision
from healthmon.alerting.notification import Kind, Severity
from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.silences import SilenceView
from healthmon.alerting.slo import (
    FAST,
    SLOW,
    Objective,
    TargetBurn,
    budget_remaining,
    burn_rate,
    decide_burns,
    silenced_periods,
)
from healthmon.flows import alerts as flow_alerts
from healthmon.flows.app import App
from healthmon.flows.refs import RunRef
from healthmon.flows.slo import slo_decision, slo_report
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.storage import alerts as store
from healthmon.storage.results import record_results
from tests.support.app import AppFactory
from tests.support.history import history_rows, write_history

H, U = Status.HEALTHY, Status.UNHEALTHY
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SLO = Objective(99.9, 30)
ROUTES = [{"severity": ["p1"], "channels": ["webhook"]}, {"severity": ["p3"], "channels": ["slack"]}]
CONFIG: dict[str, Any] = {
    "services": {"stripe": {"api_key": "sk_test_0123456789", "slo": {"objective": 99.9, "window_days": 30}}},
    "channels": {
        "webhook": {"url": "http://127.0.0.1:1/hook"},
        "slack": {"webhook_url": "http://127.0.0.1:1/slack"},
    },
    "routes": ROUTES,
}
#: 5-minute checks (stripe is core tier) for three days before NOW
CHECKS = 3 * 24 * 12


def rates(**given: float | None) -> dict[str, float | None]:
    return {"5m": None, "30m": None, "1h": None, "6h": None, "3d": None, **given}


def view(condition: str, severity: Severity, id_: int = 7) -> AlertView:
    return AlertView(
        id_, f"stripe|-|{condition}", "stripe", None, condition, severity, "open", 1, NOW, severity, False
    )


def decided(
    found: dict[str, float | None], live: Sequence[AlertView] = (), silences: Sequence[SilenceView] = ()
) -> Decision:
    return decide_burns([TargetBurn("stripe", None, SLO, found)], live, silences, AlertPolicy(), NOW)


def test_budget_and_burn_rate() -> None:
    # 0.2 % down against a 0.1 % budget: twice as fast as sustainable, the budget overspent
    assert burn_rate(998.0, 2.0, SLO) == pytest.approx(2.0)
    assert budget_remaining(998.0, 2.0, SLO) == pytest.approx(-1.0)
    assert budget_remaining(9995.0, 5.0, SLO) == pytest.approx(0.5)
    assert burn_rate(0.0, 0.0, SLO) is None and budget_remaining(0.0, 0.0, SLO) is None


@pytest.mark.parametrize(
    ("found", "opened"),
    [
        (rates(**{"1h": 14.4, "5m": 14.4}), {FAST: Severity.P1}),
        (rates(**{"1h": 20.0, "5m": 14.0}), {}),  # not confirmed by the short window
        (rates(**{"6h": 6.0, "30m": 7.0}), {FAST: Severity.P1}),
        (rates(**{"6h": 6.0, "30m": 5.9}), {}),
        (rates(**{"3d": 1.0, "6h": 1.2}), {SLOW: Severity.P3}),
        (rates(**{"3d": 0.9, "6h": 30.0}), {}),
        (rates(**{"1h": 15.0, "5m": 15.0, "3d": 2.0, "6h": 2.0}), {FAST: Severity.P1, SLOW: Severity.P3}),
    ],
)
def test_the_workbook_rules(found: dict[str, float | None], opened: dict[str, Severity]) -> None:
    decision = decided(found)
    assert {c.condition: c.severity for c in decision.changes} == opened
    assert [kind for _key, kind in decision.notify] == [Kind.TRIGGER] * len(opened)
    for change in decision.changes:
        assert change.signature == f"stripe|-|{change.condition}"
        assert "error budget" in change.details["reason"]


def test_resolves_when_the_burn_stops_and_waits_without_data() -> None:
    live = [view(FAST, Severity.P1, 7), view(SLOW, Severity.P3, 8)]
    stopped = decided(rates(**{"5m": 0.0, "30m": 0.0, "1h": 20.0, "6h": 8.0, "3d": 0.5}), live)
    assert stopped.resolve == [7, 8]
    assert stopped.notify == [(7, Kind.RESOLVE), (8, Kind.RESOLVE)]
    assert decided(rates(), live).resolve == []  # everything silenced or stale: no data, no change


def test_a_silence_holds_a_burn_alert() -> None:
    silence = SilenceView(3, "stripe", None, NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    decision = decided(rates(**{"1h": 30.0, "5m": 30.0}), silences=[silence])
    assert [c.held for c in decision.changes] == ["silence:3"]
    assert decision.notify == []


def test_silenced_periods_expand_recurring_windows() -> None:
    start, end = datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 19, tzinfo=UTC)  # Mon..Thu
    weekly = SilenceView(
        1, None, "acme", start - timedelta(days=30), end + timedelta(days=30),
        {"weekdays": [0, 2], "start": "23:30", "duration_min": 60},
    )  # fmt: skip
    ended = SilenceView(2, "stripe", None, start, end, ended_at=start + timedelta(hours=2))
    other = SilenceView(3, "shopify", None, start, end)
    found = silenced_periods([weekly, ended, other], "stripe", start, end)
    assert found == [
        ("acme", start + timedelta(hours=23, minutes=30), start + timedelta(days=1, minutes=30)),  # Monday
        ("acme", start + timedelta(days=2, hours=23, minutes=30), end),  # Wednesday's, cut at the end
        (None, start, start + timedelta(hours=2)),  # ended early
    ]


# -- history written at chosen times, evaluated at a chosen `now` ---------------------------------


@pytest.fixture
def app(db_url: str, make_app: AppFactory) -> App:
    return make_app(db_url, CONFIG)


def stripe_history(app: App, bad_at: set[int]) -> None:
    """Three days of stripe checks before NOW, unhealthy at the given check numbers (0 = oldest)."""
    start = NOW - timedelta(minutes=5 * CHECKS)
    write_history(
        app.engine, history_rows("stripe", None, [U if i in bad_at else H for i in range(CHECKS)], start)
    )


def evaluate(app: App, now: datetime = NOW) -> list[int]:
    live = flow_alerts.live_alerts(app.engine)
    decision = slo_decision(app, [("stripe", None)], live, [], now)
    alerting = app.alerting
    return flow_alerts.apply_decision(app.engine, decision, alerting.router, now, alerting.dashboard_url)


def alert_channels(app: App) -> dict[tuple[str, str, str], list[str]]:
    return {
        (a["condition"], a["severity"], a["status"]): [
            d["channel"] for d in store.deliveries_of(app.engine, a["id"])
        ]
        for a in store.list_alerts(app.engine)
    }


def test_a_fast_burn_pages_through_the_routes(app: App) -> None:
    # healthy for three days, then down for the last hour (12 checks)
    stripe_history(app, set(range(CHECKS - 12, CHECKS)))
    report = slo_report(app, "stripe", None, NOW)
    assert report.burn_rates["1h"] == pytest.approx(1000.0)
    assert evaluate(app)
    found = alert_channels(app)
    assert found[(FAST, "p1", "open")] == ["webhook"]
    # three days at 1.4 % down burns the slow budget too: a p3 ticket besides the page
    assert found[(SLOW, "p3", "open")] == ["slack"]
    # the burn stops: 35 minutes later, with healthy checks since, the page resolves
    later = NOW + timedelta(minutes=35)
    write_history(app.engine, history_rows("stripe", None, [H] * 7, NOW))
    evaluate(app, later)
    found = alert_channels(app)
    assert found[(FAST, "p1", "resolved")] == ["webhook", "webhook"]
    assert (SLOW, "p3", "open") in found  # six hours still burn at more than 1x


def test_a_slow_burn_gives_a_p3(app: App) -> None:
    # one failed check every six hours, none in the last hour: 1.4 % down, 13.9x over 3 d and 6 h
    stripe_history(app, {i for i in range(CHECKS) if i % 72 == 36})
    report = slo_report(app, "stripe", None, NOW)
    assert report.burn_rates["30m"] == 0.0 and report.burn_rates["3d"] == pytest.approx(
        12 * 300 / 259200 / 0.001
    )
    evaluate(app)
    assert alert_channels(app) == {(SLOW, "p3", "open"): ["slack"]}


async def test_the_alert_step_evaluates_burn_rates(app: App) -> None:
    """Wired into the tier run's alert step: the run's result and the history before it."""
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=2)
    write_history(app.engine, history_rows("stripe", None, [H] * 12 + [U] * 11, start))
    latest = CheckResult(
        "stripe", None, Tier.CORE, U, None, {"reason": "HTTP 503"}, start + timedelta(minutes=115)
    )
    record_results(app.engine, [latest], run_id="run-1")
    run = RunRef("run-1", MONITORS["stripe"].tier, checks_end_at=now.timestamp())
    alerted = await flow_alerts.alert_run(app, run)
    assert alerted.summary.opened >= 1
    conditions = {a["condition"]: a["severity"] for a in store.list_alerts(app.engine)}
    assert conditions[FAST] == "p1"
