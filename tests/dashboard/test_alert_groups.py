"""The Alerts page's groups: listed with their counts, expandable to their alerts, many of
them acknowledged or resolved with one note; and the links `?alert=<id>` and `?group=KEY`."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest

from healthmon.alerting.notification import Severity
from healthmon.storage import alerts as store
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, by_label, texts
from tests.support.alert_groups import open_group, tenants

META = "meta_ads|health"


def expander(at: AppTest, label: str) -> Any:
    """The one group expander whose label starts with this group's readable key."""
    found = [e for e in at.expander if e.label.startswith(f"**{label}**")]
    assert len(found) == 1, [e.label for e in at.expander]
    return found[0]


def opened(at: AppTest, *keys: str) -> AppTest:
    """The page with these groups' expanders opened, as a click does: a closed group's table
    and form are not drawn."""
    for key in keys:
        at.session_state[f"group_open_{key}"] = True
    return at.run()


def group_labels(at: AppTest) -> list[str]:
    return [e.label.split("**")[1] for e in at.expander if e.label.startswith("**")]


def states(board: Dashboard, ids: list[int]) -> list[tuple[str, str | None, str | None]]:
    rows = store.alerts_by_ids(board.engine, ids)
    return [
        (rows[i]["status"], rows[i]["acknowledged_by"] or rows[i]["resolved_by"], rows[i]["note"])
        for i in ids
    ]


def test_groups_are_listed_with_counts_and_expand_to_their_alerts(dashboard: Dashboard) -> None:
    meta = open_group(
        dashboard.engine, "meta_ads", ["acme", "globex", "initech"], reason="token expires in 4 days"
    )
    stripe = seed.open_alert(dashboard.engine, "stripe", severity=Severity.P2)
    at = dashboard.open("alerts")
    # the worst group first: a p2 before the p3s
    assert group_labels(at) == ["stripe · health", "meta_ads · health"]
    assert "Groups (2)" in texts(at)
    label = expander(at, "meta_ads · health").label
    assert "3 alerts" in label and "🔥 open 3" in label and "🟡 p3 3" in label
    assert "token expires in 4 days" in label
    assert "1 alerts" in expander(at, "stripe · health").label
    assert not expander(at, "meta_ads · health").dataframe  # closed: not drawn

    opened(at, META, "stripe|health")
    rows = expander(at, "meta_ads · health").dataframe[0].value
    assert rows[["tenant", "id", "state", "reason"]].values.tolist() == [
        [tenant, alert_id, "🔥 open", "token expires in 4 days"]
        for tenant, alert_id in zip(["acme", "globex", "initech"], meta, strict=True)
    ]
    assert expander(at, "stripe · health").dataframe[0].value["id"].tolist() == [stripe]
    # every alert of the group is picked at first
    assert at.multiselect(key=f"group_pick_{META}").value == meta


def test_select_many_and_acknowledge_with_one_note(dashboard: Dashboard) -> None:
    meta = open_group(dashboard.engine, "meta_ads", ["acme", "globex", "initech"])
    other = seed.open_alert(dashboard.engine, "stripe", severity=Severity.P2)
    at = opened(dashboard.open("alerts"), META)
    at.multiselect(key=f"group_pick_{META}").set_value(meta[:2])
    at.text_input(key=f"group_note_{META}").input("rotating the tokens tonight")
    at.button(key=f"group_ack_{META}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert states(dashboard, meta) == [
        ("acknowledged", "dashboard", "rotating the tokens tonight"),
        ("acknowledged", "dashboard", "rotating the tokens tonight"),
        ("open", None, None),
    ]
    assert states(dashboard, [other]) == [("open", None, None)]
    assert "2 alerts of meta_ads · health acknowledged by dashboard." in texts(at)
    # the acknowledge notices go to the channel that got each alert
    kinds = [d["kind"] for i in meta[:2] for d in store.deliveries_of(dashboard.engine, i)]
    assert kinds == ["trigger", "acknowledge"] * 2
    label = expander(at, "meta_ads · health").label
    assert "🔥 open 1" in label and "👀 acknowledged 2" in label

    # the whole group, resolved: the acknowledged ones too
    at.text_input(key=f"group_note_{META}").input("tokens rotated")
    at.button(key=f"group_resolve_{META}").click().run()
    assert states(dashboard, meta) == [("resolved", "dashboard", "tokens rotated")] * 3
    assert "3 alerts of meta_ads · health resolved by dashboard." in texts(at)
    assert group_labels(at) == ["stripe · health"]


def test_a_group_of_60_is_acknowledged_at_once_on_postgres(pg_dashboard: Dashboard) -> None:
    group = open_group(pg_dashboard.engine, "meta_ads", tenants(60))
    at = pg_dashboard.open("alerts")
    assert "60 alerts" in expander(at, "meta_ads · health").label
    at.text_input(key=f"group_note_{META}").input("one note for all")
    at.button(key=f"group_ack_{META}").click().run()
    assert states(pg_dashboard, group) == [("acknowledged", "dashboard", "one note for all")] * 60
    assert "60 alerts of meta_ads · health acknowledged by dashboard." in texts(at)


def test_an_alert_link_opens_that_alert(dashboard: Dashboard) -> None:
    first = seed.open_alert(dashboard.engine, "stripe", severity=Severity.P2, title="stripe unhealthy")
    seed.open_alert(dashboard.engine, "mux", severity=Severity.P3)
    at = dashboard.open("alerts", alert=str(first))
    assert by_label(at.selectbox, "Alert").value == first
    assert f"#{first} stripe unhealthy" in texts(at)
    assert "Acknowledge" in [b.label for b in at.button]

    missing = dashboard.open("alerts", alert="999999")
    assert "Alert #999999 no longer exists." in texts(missing)
    bad = dashboard.open("alerts", alert="nope")
    assert by_label(bad.selectbox, "Alert").value is None


def test_a_group_link_shows_that_group(dashboard: Dashboard) -> None:
    open_group(dashboard.engine, "meta_ads", ["acme", "globex"])
    seed.open_alert(dashboard.engine, "stripe", severity=Severity.P2)
    at = dashboard.open("alerts", group=META)
    assert group_labels(at) == ["meta_ads · health"]
    # markdown source: the key's underscore escaped, as everything typed into a link is
    assert "Showing the group meta\\_ads · health from the link only." in texts(at)
    assert expander(at, "meta_ads · health").proto.expanded
    empty = dashboard.open("alerts", group="tiktok_ads|health")
    assert group_labels(empty) == []
    assert "No live alert (open or acknowledged) matches the filters." in texts(empty)
