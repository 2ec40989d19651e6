"""alerting's ports as storage implements them: the same spellings on both sides, and the
bookkeeping alerting decides (who hears of an alert's end) holding through the SQL store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from healthmon.alerting import outbox
from healthmon.alerting.lifecycle import AlertChange, AlertState, Decision
from healthmon.alerting.notification import Kind, Severity
from healthmon.alerting.ports import AlertStore, DeliveryQueue, Outcome, SendState
from healthmon.flows import alerts as flow_alerts
from healthmon.storage import alerts as store
from healthmon.storage.db import make_engine

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("storage_spelling", "alerting_spelling"),
    [
        (set(store.OPENING_KINDS), {k.value for k in outbox.OPENING_KINDS}),
        (set(store.FOLLOW_UP_KINDS), {k.value for k in outbox.FOLLOW_UP_KINDS}),
        ({store.OPEN, store.ACKNOWLEDGED, store.RESOLVED}, {s.value for s in AlertState}),
    ],
    ids=["opening kinds", "follow-up kinds", "alert states"],
)
def test_storage_spells_kinds_and_states_as_alerting_does(
    storage_spelling: set[str], alerting_spelling: set[str]
) -> None:
    assert storage_spelling == alerting_spelling


def _open(sql: store.SqlAlertStore, channels: list[str]) -> int:
    decision = Decision(
        changes=[AlertChange("redis|-|health", "redis", None, "health", Severity.P1, "redis down", {})],
        notify=[("redis|-|health", Kind.TRIGGER)],
    )
    outbox.apply_decision(sql, decision, lambda *_: channels, NOW)
    (alert,) = flow_alerts.live_alerts(sql.engine)
    return alert.id


def _resolved_by(sql: store.SqlAlertStore, alert_id: int) -> str | None:
    row = store.get_alert(sql.engine, alert_id)
    assert row is not None
    return row["resolved_by"]


def test_a_resolve_reaches_only_the_channels_whose_trigger_did_not_fail(db_url: str) -> None:
    sql = store.SqlAlertStore(make_engine(db_url))
    ledger_port: AlertStore = sql
    queue_port: DeliveryQueue = sql
    alert_id = _open(sql, ["slack", "webhook"])
    claimed = {r.channel: r for r in queue_port.claim(NOW, 60)}
    assert sorted(claimed) == ["slack", "webhook"]
    queue_port.settle(
        [
            Outcome(claimed["slack"].id, SendState.DELIVERED, ref="C1:1.2", attempts=1),
            Outcome(claimed["webhook"].id, SendState.FAILED, error="gone", attempts=1),
        ],
        NOW,
    )

    ids = outbox.resolve(ledger_port, alert_id, "alice", NOW + timedelta(minutes=1), lambda *_: [])

    rows = [d for d in store.deliveries_of(sql.engine) if d["id"] in ids]
    assert [(r["channel"], r["kind"], r["payload"]["ref"]) for r in rows] == [("slack", "resolve", "C1:1.2")]
    # resolving again changes nothing and tells nobody
    assert outbox.resolve(ledger_port, alert_id, "bob", NOW + timedelta(minutes=2), lambda *_: []) == []
    assert _resolved_by(sql, alert_id) == "alice"


def test_a_recovery_of_an_alert_resolved_meanwhile_sends_no_second_notice(db_url: str) -> None:
    sql = store.SqlAlertStore(make_engine(db_url))
    alert_id = _open(sql, ["slack"])
    assert len(outbox.resolve(sql, alert_id, "alice", NOW, lambda *_: [])) == 1

    late = Decision(resolve=[alert_id], notify=[(alert_id, Kind.RESOLVE)])

    assert outbox.apply_decision(sql, late, lambda *_: ["slack"], NOW + timedelta(seconds=5)) == []
    assert _resolved_by(sql, alert_id) == "alice"


def test_acknowledging_an_unknown_alert_says_so(db_url: str) -> None:
    sql = store.SqlAlertStore(make_engine(db_url))
    with pytest.raises(outbox.AlertNotFound):
        outbox.acknowledge(sql, 4242, "alice", NOW, lambda *_: [])
