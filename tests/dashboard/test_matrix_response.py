"""The matrix shows how on-call responds to each cell: an open or an acknowledged alert, a
silence; with a legend, and the filters alerted, unacknowledged and silenced."""

from __future__ import annotations

from datetime import timedelta

from streamlit.testing.v1 import AppTest

from healthmon.alerting import outbox
from healthmon.alerting.lifecycle import ROLLUP, AlertChange, Decision
from healthmon.alerting.notification import Severity
from healthmon.dashboard import frames
from healthmon.flows import alerts as flow_alerts
from healthmon.monitors.registry import MONITORS
from healthmon.storage import alerts as store
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, texts
from tests.dashboard.test_matrix import grids, metrics
from tests.support.alert_groups import open_group


def respond(board: Dashboard) -> None:
    """stripe (platform): an open alert; shopify for globex: acknowledged; redis (platform):
    silenced, no alert; meta_ads for acme: both an open alert and a silence."""
    seed.seed_tenants(board.engine, board.cipher)
    seed.seed_results(board.engine)
    seed.open_alert(board.engine, "stripe", severity=Severity.P2)
    (globex,) = open_group(board.engine, "shopify", ["globex"], Severity.P2)
    open_group(board.engine, "meta_ads", ["acme"])
    now = seed.now()
    for service, tenant in (("redis", None), ("meta_ads", "acme")):
        store.add_silence(
            board.engine,
            service=service,
            tenant_id=tenant,
            starts_at=now - timedelta(minutes=5),
            ends_at=now + timedelta(hours=1),
            reason="maintenance",
            created_by="test",
        )
    acknowledge(board, globex)


def acknowledge(board: Dashboard, alert_id: int) -> None:
    outbox.acknowledge(store.SqlAlertStore(board.engine), alert_id, "oncall", seed.now(), lambda *_: [])


def test_cells_carry_their_response_marks_and_a_legend(dashboard: Dashboard) -> None:
    respond(dashboard)
    at = dashboard.open()
    platform, tenants = grids(at)
    assert platform == {
        "postgres": "🟢 healthy",
        "redis": "🟠 degraded · 🔕",
        "stripe": "🔴 unhealthy · 🔔",
        "mux": "⚪ unknown",
    }
    # (other columns, such as the tenant's name, are not this test's business)
    assert {k: tenants["globex"][k] for k in ("worst", "shopify", "meta_ads")} == {
        "worst": "🔴 unhealthy",
        "shopify": "🔴 unhealthy · 👀",
        "meta_ads": "🟢 healthy",
    }
    assert tenants["acme"]["meta_ads"] == "🟢 healthy · 🔔🔕"
    assert tenants["initech"]["shopify"] == "🟠 degraded"
    assert frames.RESPONSE_LEGEND in texts(at)
    assert "🔔 open alert (unacknowledged) · 👀 acknowledged alert · 🔕 silenced" in texts(at)


def shown(at: AppTest) -> set[tuple[str, str | None]]:
    """The targets whose cells the grids show (a grid left empty by the filters is not drawn)."""
    cells: set[tuple[str, str | None]] = set()
    for grid in at.dataframe:
        if not str(grid.key or "").startswith(("matrix_platform", "matrix_tenants")):
            continue
        for row in grid.value.to_dict("records"):
            tenant = None if row["tenant"] == frames.PLATFORM_ROW else row["tenant"]
            cells |= {(s, tenant) for s, v in row.items() if v and s in MONITORS}
    return cells


def test_response_filters(dashboard: Dashboard) -> None:
    respond(dashboard)
    at = dashboard.open()
    assert metrics(at)["targets"] == "9"
    cases = [
        (["alerted"], {("stripe", None), ("shopify", "globex"), ("meta_ads", "acme")}),
        (["unacknowledged"], {("stripe", None), ("meta_ads", "acme")}),
        (["silenced"], {("redis", None), ("meta_ads", "acme")}),
        (["alerted", "silenced"], {("meta_ads", "acme")}),
        (["unacknowledged", "silenced"], {("meta_ads", "acme")}),
    ]
    for wanted, expected in cases:
        at.multiselect(key="matrix_response").set_value(wanted).run()
        assert not at.exception
        assert shown(at) == expected, wanted
        assert metrics(at)["targets"] == str(len(expected)), wanted
    at.multiselect(key="matrix_response").set_value([]).run()
    assert metrics(at)["targets"] == "9"


def test_a_rollup_alert_marks_every_tenant_it_lists(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    seed.seed_results(dashboard.engine)
    decision = Decision(
        changes=[
            AlertChange(
                "shopify|-|rollup",
                "shopify",
                None,
                ROLLUP,
                Severity.P2,
                "shopify failing for 2 of 3 tenants",
                {"status": "unhealthy", "tenants": ["globex", "initech"]},
            )
        ]
    )
    flow_alerts.apply_decision(dashboard.engine, decision, lambda *_: [], seed.now())
    at = dashboard.open()
    _platform, tenants = grids(at)
    assert tenants["globex"]["shopify"] == "🔴 unhealthy · 🔔"
    assert tenants["initech"]["shopify"] == "🟠 degraded · 🔔"
    assert tenants["acme"]["shopify"] == "🟢 healthy"
