"""The matrix page: seeded statuses, counts, filters, sorting, the way to the service detail."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from healthmon.dashboard import context, frames
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, by_label, texts


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def grids(at: AppTest) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(platform row, tenant rows) as {service: cell}, {tenant: {column: cell}}; the tenants'
    display names are left to `names`."""
    platform, tenants = at.dataframe[0].value, at.dataframe[1].value
    row = platform.iloc[0].to_dict() if len(platform) else {}
    keys = ("tenant", "name", frames.UPTIME_COLUMN)
    return (
        {k: v for k, v in row.items() if k not in keys},
        {r["tenant"]: {k: v for k, v in r.items() if k not in keys} for r in tenants.to_dict("records")},
    )


def names(at: AppTest) -> dict[str, str]:
    """{tenant id: display name} as the tenants grid shows them beside the id."""
    tenants = at.dataframe[1].value
    return dict(zip(tenants["tenant"], tenants["name"], strict=True))


def seeded(board: Dashboard) -> None:
    seed.seed_tenants(board.engine, board.cipher)
    seed.seed_results(board.engine)


def test_matrix_shows_seeded_statuses(dashboard: Dashboard) -> None:
    seeded(dashboard)
    at = dashboard.open()

    assert metrics(at) == {
        "🔴 unhealthy": "2",
        "🟠 degraded": "2",
        "⚪ unknown": "1",
        "🟢 healthy": "4",
        "⏳ stale": "0",
        "targets": "9",
    }
    platform, tenants = grids(at)
    assert platform == {
        "postgres": "🟢 healthy",
        "redis": "🟠 degraded",
        "stripe": "🔴 unhealthy",
        "mux": "⚪ unknown",
    }
    # worst status first by default; a tenant without an integration has an empty cell
    assert list(tenants) == ["globex", "initech", "acme"]
    assert tenants["globex"] == {"worst": "🔴 unhealthy", "shopify": "🔴 unhealthy", "meta_ads": "🟢 healthy"}
    assert tenants["initech"] == {"worst": "🟠 degraded", "shopify": "🟠 degraded", "meta_ads": ""}
    assert names(at) == {"globex": "Globex", "initech": "Initech", "acme": "Acme"}
    attention = at.dataframe[2].value
    assert attention[["service", "tenant", "reason"]].head(2).values.tolist() == [
        ["shopify", "globex", "shopify is unhealthy"],
        ["stripe", "(platform)", "stripe is unhealthy"],
    ]
    assert len(attention) == 5


def test_matrix_filters_and_sort(dashboard: Dashboard) -> None:
    seeded(dashboard)
    at = dashboard.open()

    at.multiselect(key="matrix_statuses").select("unhealthy").run()
    platform, tenants = grids(at)
    assert platform == {"stripe": "🔴 unhealthy"}
    assert tenants == {"globex": {"worst": "🔴 unhealthy", "shopify": "🔴 unhealthy"}}
    assert metrics(at)["targets"] == "2"

    at.multiselect(key="matrix_statuses").set_value([])
    at.multiselect(key="matrix_tiers").select("critical").run()
    platform, tenants = grids(at)
    assert platform == {"postgres": "🟢 healthy", "redis": "🟠 degraded"}
    assert "No tenant matches the filters." in texts(at)

    at.multiselect(key="matrix_tiers").set_value([])
    at.text_input(key="matrix_search").input("GLO").run()
    assert list(at.dataframe[0].value["tenant"]) == ["globex"]  # platform services never match a search
    assert "No platform service matches the filters." in texts(at)

    at.text_input(key="matrix_search").set_value("")
    at.segmented_control(key="matrix_sort").set_value("by tenant").run()
    assert list(at.dataframe[1].value["tenant"]) == ["acme", "globex", "initech"]


def test_matrix_leads_to_service_detail(dashboard: Dashboard) -> None:
    seeded(dashboard)
    at = dashboard.open()
    at.selectbox(key="matrix_goto_service").select("shopify").run()
    at.text_input(key="matrix_goto_tenant").input("globex")
    at.button(key="matrix_goto").click().run()
    assert not at.exception
    assert at.title[0].value == "📈 Service detail"
    assert at.selectbox(key="service").value == "shopify"
    assert at.selectbox(key="tenant").value == "globex"
    assert {m.label: m.value for m in at.metric}["Status"] == "🔴 unhealthy"


def test_matrix_without_results(dashboard: Dashboard) -> None:
    at = dashboard.open()
    assert context.NO_RESULTS in texts(at)
    assert not at.dataframe


def test_matrix_on_postgres(pg_dashboard: Dashboard) -> None:
    seeded(pg_dashboard)
    at = pg_dashboard.open()
    platform, tenants = grids(at)
    assert platform["stripe"] == "🔴 unhealthy"
    assert list(tenants) == ["globex", "initech", "acme"]
    at.multiselect(key="matrix_statuses").select("degraded").run()
    platform, tenants = grids(at)
    assert platform == {"redis": "🟠 degraded"}
    assert tenants == {"initech": {"worst": "🟠 degraded", "shopify": "🟠 degraded"}}
    assert by_label(at.metric, "targets").value == "2"
