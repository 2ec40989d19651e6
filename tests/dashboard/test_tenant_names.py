"""Tenants' display names in the dashboard (issue 13, point 3): the service-detail picker shows
"name (id)" while the URL and its value keep the id, the per-tenant table and the matrix grid
show the name beside the id, and the matrix's tenant search matches either."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from healthmon.monitors.result import Status
from healthmon.storage.results import record_results
from healthmon.storage.tenants import upsert_tenants
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, table


def seeded(board: Dashboard) -> None:
    """The seeded tenants (named Acme, Globex, Initech), hooli without a name (stored as its
    id) and t-0042 named "Northwind Store", each of the last two with a shopify result."""
    seed.seed_tenants(board.engine, board.cipher)
    shop = {"shopify": seed.INTEGRATIONS["shopify"]}
    added = [("hooli", "hooli", True, shop), ("t-0042", "Northwind Store", True, shop)]
    upsert_tenants(board.engine, board.cipher, added)
    at = seed.seed_results(board.engine)
    record_results(
        board.engine,
        [seed.result("shopify", t, Status.HEALTHY, at) for t in ("hooli", "t-0042")],
    )


def tenant_rows(at: AppTest) -> dict[str, str]:
    """{tenant id: name} of the matrix's tenants grid, in its order."""
    (grid,) = [d.value for d in at.dataframe if str(d.key).startswith("matrix_tenants")]
    return dict(zip(grid["tenant"], grid["name"], strict=True))


def test_the_tenant_picker_shows_names_and_keeps_the_id_in_value_and_url(dashboard: Dashboard) -> None:
    seeded(dashboard)
    at = dashboard.open("service", service="shopify", tenant="globex")
    picker = at.selectbox(key="tenant")
    assert picker.options == [
        "Acme (acme)",
        "Globex (globex)",
        "hooli",  # no name: the id alone
        "Initech (initech)",
        "Northwind Store (t-0042)",
    ]
    # opened from a link by id: the value is the id, the heading names the tenant
    assert picker.value == "globex"
    assert "shopify — Globex (globex)" in [s.value for s in at.subheader]
    assert {m.label: m.value for m in at.metric}["Status"] == "🔴 unhealthy"

    at.selectbox(key="tenant").select("t-0042").run()
    assert not at.exception
    assert at.query_params["tenant"] == "t-0042"  # the id, never the label
    assert "shopify — Northwind Store (t-0042)" in [s.value for s in at.subheader]

    at.selectbox(key="tenant").set_value(None).run()
    assert "tenant" not in at.query_params
    assert "shopify — every tenant" in [s.value for s in at.subheader]

    # picked here, then away and linked back for another tenant (a matrix cell): the link wins
    at.selectbox(key="tenant").select("initech").run()
    at.switch_page("views/matrix.py").run()
    at.query_params.update(service="shopify", tenant="acme")
    at.switch_page("views/service.py").run()
    assert not at.exception
    assert at.selectbox(key="tenant").value == "acme"
    assert "shopify — Acme (acme)" in [s.value for s in at.subheader]


def test_the_per_tenant_table_shows_the_name_beside_the_id(dashboard: Dashboard) -> None:
    seeded(dashboard)
    at = dashboard.open("service", service="shopify")
    breakdown = table(at, "tenant", "status", "latency ms")
    assert dict(zip(breakdown["tenant"], breakdown["name"], strict=True)) == {
        "globex": "Globex",
        "initech": "Initech",
        "acme": "Acme",
        "hooli": "",
        "t-0042": "Northwind Store",
    }
    # last in the frame (where readers of it look it up), shown right after the id
    (shown,) = [d for d in at.dataframe if "name" in d.value.columns]
    assert list(shown.proto.column_order[:3]) == ["tenant", "name", "status"]


def test_the_matrix_names_each_tenant_and_its_search_matches_id_or_name(dashboard: Dashboard) -> None:
    seeded(dashboard)
    at = dashboard.open()
    assert tenant_rows(at) == {
        "globex": "Globex",
        "initech": "Initech",
        "acme": "Acme",
        "hooli": "",
        "t-0042": "Northwind Store",
    }
    (grid,) = [d.value for d in at.dataframe if str(d.key).startswith("matrix_tenants")]
    assert list(grid.columns[:3]) == ["tenant", "name", "worst"]
    search = at.text_input(key="matrix_search")
    assert search.placeholder == "search tenant id or name"

    search.input("north").run()  # by name only: the id is t-0042
    assert tenant_rows(at) == {"t-0042": "Northwind Store"}
    at.text_input(key="matrix_search").input("T-00").run()  # by id
    assert tenant_rows(at) == {"t-0042": "Northwind Store"}
    at.text_input(key="matrix_search").input("o").run()  # either
    assert set(tenant_rows(at)) == {"globex", "hooli", "t-0042"}
