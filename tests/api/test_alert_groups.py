"""Alert groups over HTTP: every alert names its group, `?group=` filters by it, and
acknowledge and resolve take many ids or a whole group with one note."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthmon.storage import alerts as store
from tests.api.conftest import ADMIN, READ, Seeded, field_of
from tests.support.alert_groups import open_group, tenants

ACTIONS = ("acknowledge", "resolve")
#: the answer's field for what a call changed
DONE = {"acknowledge": "acknowledged", "resolve": "resolved"}


def listed(client: TestClient, query: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/alerts?{query}", headers=READ)
    assert response.status_code == 200, response.text
    alerts: list[dict[str, Any]] = response.json()["alerts"]
    return alerts


def post(client: TestClient, action: str, body: object, headers: dict[str, str] = ADMIN) -> Any:
    return client.post(f"/api/alerts/{action}", headers=headers, json=body)


def states(seeded: Seeded, ids: list[int]) -> list[str]:
    rows = store.alerts_by_ids(seeded.runtime.engine, ids)
    return [rows[i]["status"] for i in ids]


def test_every_alert_names_its_group(client: TestClient, seeded: Seeded) -> None:
    groups = {a["id"]: a["group"] for a in listed(client, "limit=10")}
    assert groups == {
        seeded.shopify_alert: "shopify|health",
        seeded.redis_alert: "redis|health",
        seeded.resolved_alert: "stripe|health",
    }
    one = client.get(f"/api/alerts/{seeded.shopify_alert}", headers=READ).json()
    assert one["group"] == "shopify|health"


def test_group_filter(client: TestClient, seeded: Seeded) -> None:
    acme = open_group(seeded.runtime.engine, "shopify", ["acme"], channel="webhook")
    assert [a["id"] for a in listed(client, "group=shopify|health")] == [acme[0], seeded.shopify_alert]
    assert [a["id"] for a in listed(client, "group=shopify|health&tenant=acme")] == acme
    assert [a["id"] for a in listed(client, "group=shopify|health&service=shopify")] == [
        acme[0],
        seeded.shopify_alert,
    ]
    # filters add up: a group of another service than `service` has nothing in it
    assert listed(client, "group=shopify|health&service=redis") == []
    assert [a["id"] for a in listed(client, "group=stripe|health&status=resolved")] == [seeded.resolved_alert]
    # a well-formed group that matches nothing is an empty list, not an error
    assert listed(client, "group=mux|health") == []
    assert listed(client, "group=shopify|rollup") == []


@pytest.mark.parametrize(
    "group", ["shopify", "shopify|", "|health", "Shopify|health", "shopify|health|acme", "a|b c", "x" * 130]
)
def test_group_filter_rejects_a_malformed_key(client: TestClient, group: str) -> None:
    response = client.get("/api/alerts", params={"group": group}, headers=READ)
    assert response.status_code == 422, response.text
    assert field_of(response) == ["group"]
    assert "group" in response.json()["detail"]


@pytest.mark.parametrize("action", ACTIONS)
def test_bulk_changes_need_an_admin_token(client: TestClient, seeded: Seeded, action: str) -> None:
    body = {"ids": [seeded.shopify_alert]}
    assert client.post(f"/api/alerts/{action}", json=body).status_code == 401
    assert post(client, action, body, {"Authorization": "Bearer nope-0123456789abcdef"}).status_code == 401
    forbidden = post(client, action, body, READ)
    assert forbidden.status_code == 403 and "admin" in forbidden.json()["detail"]
    assert states(seeded, [seeded.shopify_alert]) == ["open"]


BAD_BODIES: list[tuple[object, str]] = [
    ({}, "body"),  # neither ids nor group
    ({"ids": [1], "group": "shopify|health"}, "body"),  # both
    ({"ids": []}, "ids"),
    ({"ids": list(range(1, 1002))}, "ids"),  # over the cap of 1,000
    ({"ids": [0]}, "ids"),
    ({"ids": [2**31]}, "ids"),
    ({"ids": ["1"]}, "ids"),
    ({"ids": 1}, "ids"),
    ({"group": ""}, "group"),
    ({"group": "not a group"}, "group"),
    ({"group": "shopify|health", "note": "x" * 1001}, "note"),
    ({"group": "shopify|health", "note": "a\x00b"}, "note"),
    ({"group": "shopify|health", "who": "mallory"}, "who"),
    ([1, 2], "body"),
]


@pytest.mark.parametrize("action", ACTIONS)
def test_bulk_changes_reject_bad_bodies(
    client: TestClient, seeded: Seeded, action: str, subtests: pytest.Subtests
) -> None:
    for body, field in BAD_BODIES:
        with subtests.test(body=str(body)[:60]):
            response = post(client, action, body)
            assert response.status_code == 422, response.text
            assert field_of(response) == [field]
            assert response.json()["detail"]
    assert states(seeded, [seeded.shopify_alert, seeded.redis_alert]) == ["open", "open"]


@pytest.mark.parametrize("action", ACTIONS)
def test_unknown_ids_change_nothing(client: TestClient, seeded: Seeded, action: str) -> None:
    response = post(client, action, {"ids": [seeded.shopify_alert, 999_999, 999_998]})
    assert response.status_code == 404, response.text
    assert response.json()["detail"] == "no alert 999998, 999999: nothing was changed"
    assert states(seeded, [seeded.shopify_alert]) == ["open"]


@pytest.mark.parametrize("action", ACTIONS)
def test_a_group_without_live_alerts_changes_nothing(client: TestClient, seeded: Seeded, action: str) -> None:
    for group in ("mux|health", "stripe|health"):  # nothing ever; only a resolved alert
        response = post(client, action, {"group": group, "note": "n/a"})
        assert response.status_code == 200, response.text
        assert response.json() == {DONE[action]: [], "unchanged": [], "not_found": [], "notices": 0}


def kinds_queued(seeded: Seeded, alert_id: int) -> list[str]:
    return [d["kind"] for d in store.deliveries_of(seeded.runtime.engine, alert_id)]


def test_acknowledge_by_ids(client: TestClient, seeded: Seeded) -> None:
    chosen = [seeded.shopify_alert, seeded.redis_alert, seeded.resolved_alert, seeded.shopify_alert]
    response = post(client, "acknowledge", {"ids": chosen, "note": "vendor incident INC-7"})
    assert response.status_code == 200, response.text
    # each id once; a resolved alert is unchanged, not an error; only the notified alert's
    # channel is told (the redis alert was held by a silence and never sent)
    assert response.json() == {
        "acknowledged": [seeded.shopify_alert, seeded.redis_alert],
        "unchanged": [seeded.resolved_alert],
        "not_found": [],
        "notices": 1,
    }
    for alert_id in (seeded.shopify_alert, seeded.redis_alert):
        row = client.get(f"/api/alerts/{alert_id}", headers=READ).json()
        assert (row["status"], row["acknowledged_by"], row["note"]) == (
            "acknowledged",
            "ops-bot",
            "vendor incident INC-7",
        )
    assert kinds_queued(seeded, seeded.shopify_alert) == ["trigger", "acknowledge"]
    assert kinds_queued(seeded, seeded.redis_alert) == []

    again = post(client, "acknowledge", {"ids": chosen})
    assert again.json() == {
        "acknowledged": [],
        "unchanged": [seeded.shopify_alert, seeded.redis_alert, seeded.resolved_alert],
        "not_found": [],
        "notices": 0,
    }
    assert kinds_queued(seeded, seeded.shopify_alert) == ["trigger", "acknowledge"]


def test_resolve_by_ids(client: TestClient, seeded: Seeded) -> None:
    response = post(client, "resolve", {"ids": [seeded.redis_alert, seeded.resolved_alert], "note": "fixed"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "resolved": [seeded.redis_alert],
        "unchanged": [seeded.resolved_alert],
        "not_found": [],
        "notices": 0,
    }
    row = client.get(f"/api/alerts/{seeded.redis_alert}", headers=READ).json()
    assert (row["status"], row["resolved_by"], row["note"]) == ("resolved", "ops-bot", "fixed")
    # the stripe alert was resolved by recovery before: that stays
    assert (
        client.get(f"/api/alerts/{seeded.resolved_alert}", headers=READ).json()["resolved_by"] == "recovery"
    )


def test_a_group_of_60_is_acknowledged_in_one_call(client: TestClient, seeded: Seeded) -> None:
    group = open_group(seeded.runtime.engine, "meta_ads", tenants(60), channel="webhook")
    assert len(listed(client, "group=meta_ads|health&limit=1000")) == 60

    response = post(client, "acknowledge", {"group": "meta_ads|health", "note": "token rotation tonight"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["acknowledged"] == group and body["unchanged"] == [] and body["not_found"] == []
    # one acknowledge notice per alert, to the channel that got its trigger
    assert body["notices"] == 60
    rows = listed(client, "group=meta_ads|health&limit=1000")
    assert {(a["status"], a["acknowledged_by"], a["note"]) for a in rows} == {
        ("acknowledged", "ops-bot", "token rotation tonight")
    }
    assert all(kinds_queued(seeded, i) == ["trigger", "acknowledge"] for i in group)
    # other groups are untouched
    assert states(seeded, [seeded.shopify_alert]) == ["open"]


def test_resolve_a_group(client: TestClient, seeded: Seeded) -> None:
    group = open_group(seeded.runtime.engine, "shopify", ["acme", "initech"], channel="webhook")
    members = [seeded.shopify_alert, *group]
    first = post(client, "acknowledge", {"ids": [group[0]]}).json()
    assert first["acknowledged"] == [group[0]]

    response = post(client, "resolve", {"group": "shopify|health", "note": "shopify recovered"})
    assert response.status_code == 200, response.text
    body = response.json()
    # an acknowledged alert of the group is resolved too
    assert (body["resolved"], body["unchanged"], body["notices"]) == (members, [], 3)
    assert states(seeded, members) == ["resolved"] * 3
    assert listed(client, "group=shopify|health&status=open&status=acknowledged") == []
    assert states(seeded, [seeded.redis_alert]) == ["open"]
