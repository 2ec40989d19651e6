"""The alerts page: filters, acknowledge and resolve with a note, and each notice's delivery."""

from __future__ import annotations

from healthmon.alerting.notification import Severity
from healthmon.storage import alerts as store
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, by_label, table, texts


def acknowledge_and_resolve(board: Dashboard) -> None:
    alert_id = seed.open_alert(board.engine, "stripe", severity=Severity.P2, title="stripe unhealthy")
    at = board.open("alerts")
    listed = table(at, "id", "severity", "state")
    assert listed[["id", "state", "title"]].values.tolist() == [[alert_id, "🔥 open", "stripe unhealthy"]]

    by_label(at.selectbox, "Alert").select(alert_id).run()
    # the trigger was queued for slack when the alert opened
    deliveries = table(at, "channel", "kind", "status")
    assert deliveries[["channel", "kind", "status", "attempts"]].values.tolist() == [
        ["slack", "trigger", "pending", 0]
    ]

    at.text_area[0].input("vendor incident INC-42, watching")
    by_label(at.button, "Acknowledge").click().run()
    assert not at.exception
    row = store.get_alert(board.engine, alert_id)
    assert row is not None
    assert (row["status"], row["acknowledged_by"], row["note"]) == (
        "acknowledged",
        "dashboard",
        "vendor incident INC-42, watching",
    )
    assert f"Alert #{alert_id} acknowledged by dashboard." in texts(at)
    # the acknowledge notice goes to the channel that got the alert, queued behind the trigger
    # that channel has not received yet: notices of one alert reach a channel in order
    deliveries = table(at, "channel", "kind", "status")
    assert deliveries[["channel", "kind", "status", "attempts"]].values.tolist() == [
        ["slack", "trigger", "pending", 0],
        ["slack", "acknowledge", "pending", 0],
    ]
    assert "acknowledged by **dashboard**" in texts(at)

    at.text_area[0].input("fixed upstream")
    by_label(at.button, "Resolve").click().run()
    row = store.get_alert(board.engine, alert_id)
    assert row is not None
    assert (row["status"], row["resolved_by"], row["note"]) == ("resolved", "dashboard", "fixed upstream")
    # resolved alerts leave the default filter (open, acknowledged) but the one acted on stays in view
    assert "No alert matches the filters." in texts(at)
    assert not [b for b in at.button if b.label in ("Acknowledge", "Resolve")]


def test_acknowledge_and_resolve_with_a_note(dashboard: Dashboard) -> None:
    acknowledge_and_resolve(dashboard)


def test_acknowledge_and_resolve_on_postgres(pg_dashboard: Dashboard) -> None:
    acknowledge_and_resolve(pg_dashboard)


def test_alert_filters(dashboard: Dashboard) -> None:
    first = seed.open_alert(dashboard.engine, "stripe", severity=Severity.P2)
    second = seed.open_alert(dashboard.engine, "shopify", "acme", severity=Severity.P1)
    at = dashboard.open("alerts")
    assert table(at, "id", "severity", "state")["id"].tolist() == [second, first]

    at.multiselect(key="alerts_severities").select("p1").run()
    assert table(at, "id", "severity", "state")["id"].tolist() == [second]

    at.multiselect(key="alerts_severities").set_value([])
    at.text_input(key="alerts_tenant").input("acme").run()
    assert table(at, "id", "severity", "state")["tenant"].tolist() == ["acme"]

    at.text_input(key="alerts_tenant").set_value("")
    at.selectbox(key="alerts_service").select("stripe").run()
    assert table(at, "id", "severity", "state")["id"].tolist() == [first]
    # one alert left: it is picked, ready to act on
    assert by_label(at.selectbox, "Alert").value == first
    assert "Acknowledge" in [b.label for b in at.button]

    at.multiselect(key="alerts_states").set_value(["resolved"]).run()
    assert "No alert matches the filters." in texts(at)
