"""Silences over HTTP: one-off and weekly windows, listing, ending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from healthmon.storage.alerts import load_silences
from tests.api.conftest import ADMIN, READ, Seeded, field_of


def test_add_list_end(client: TestClient, seeded: Seeded) -> None:
    response = client.post(
        "/api/silences",
        headers=ADMIN,
        json={"service": "shopify", "tenant": "acme", "duration_min": 30, "reason": "Shopify maintenance"},
    )
    assert response.status_code == 201, response.text
    silence = response.json()
    assert (silence["service"], silence["tenant"], silence["created_by"]) == ("shopify", "acme", "ops-bot")
    assert silence["active_now"] is True
    length = datetime.fromisoformat(silence["ends_at"]) - datetime.fromisoformat(silence["starts_at"])
    assert length == timedelta(minutes=30)
    # the alert step sees it
    assert [s.id for s in load_silences(seeded.runtime.engine, datetime.now(UTC))] == [silence["id"]]

    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    window = client.post(
        "/api/silences",
        headers=ADMIN,
        json={
            "everything": True,
            "starts_at": datetime.now(UTC).isoformat(),
            "ends_at": later,
            "reason": "Sunday deploys",
            "recurrence": {"weekdays": [6], "start": "02:00", "duration_min": 60},
        },
    )
    assert window.status_code == 201, window.text
    assert window.json()["recurrence"] == {"weekdays": [6], "start": "02:00", "duration_min": 60.0}

    listed = client.get("/api/silences", headers=READ)
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["silences"]] == [window.json()["id"], silence["id"]]

    ended = client.post(f"/api/silences/{silence['id']}/end", headers=ADMIN)
    assert ended.status_code == 200
    assert ended.json()["ended_at"] is not None and ended.json()["active_now"] is False
    assert [s["id"] for s in client.get("/api/silences?active=true", headers=READ).json()["silences"]] == [
        window.json()["id"]
    ]
    again = client.post(f"/api/silences/{silence['id']}/end", headers=ADMIN)
    assert again.status_code == 404
    assert client.post("/api/silences/999999/end", headers=ADMIN).status_code == 404


def test_recurring_window_defaults_to_a_year(client: TestClient, seeded: Seeded) -> None:
    response = client.post(
        "/api/silences",
        headers=ADMIN,
        json={
            "service": "postgres",
            "reason": "nightly backup",
            "recurrence": {"start": "03:00", "duration_min": 30},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    span = datetime.fromisoformat(body["ends_at"]) - datetime.fromisoformat(body["starts_at"])
    assert span == timedelta(days=365)
    assert body["recurrence"]["weekdays"] == [0, 1, 2, 3, 4, 5, 6]


NOW = datetime.now(UTC)
#: a matcher, so that each case below is about its own field
BASE = {"service": "shopify"}


BAD_INPUT: list[tuple[dict[str, object], str]] = [
    ({"duration_min": 10}, "reason"),
    ({"reason": "", "duration_min": 10}, "reason"),
    ({"reason": "x"}, "ends_at"),
    ({"reason": "x", "duration_min": 0}, "duration_min"),
    (
        {"reason": "x", "duration_min": 10, "ends_at": (NOW + timedelta(hours=1)).isoformat()},
        "duration_min",
    ),
    (
        {
            "reason": "x",
            "starts_at": (NOW + timedelta(hours=2)).isoformat(),
            "ends_at": (NOW + timedelta(hours=1)).isoformat(),
        },
        "ends_at",
    ),
    ({"reason": "x", "ends_at": (NOW - timedelta(hours=1)).isoformat()}, "ends_at"),
    ({"reason": "x", "ends_at": "2030-01-01T00:00:00"}, "ends_at"),
    ({"reason": "x", "starts_at": "9999-12-31T23:59:59+00:00", "duration_min": 10}, "starts_at"),
    ({"reason": "x", "duration_min": 10, "service": "magento"}, "service"),
    ({"reason": "x", "duration_min": 10, "tenant": "nobody"}, "tenant"),
    ({"reason": "x", "duration_min": 10, "tenant": "No Such"}, "tenant"),
    ({"reason": "x", "recurrence": {"start": "25:00", "duration_min": 30}}, "recurrence.start"),
    ({"reason": "x", "recurrence": {"start": "0200", "duration_min": 30}}, "recurrence.start"),
    (
        {"reason": "x", "recurrence": {"start": "02:00", "duration_min": 30, "weekdays": [7]}},
        "recurrence.weekdays",
    ),
    ({"reason": "x", "recurrence": {"start": "02:00"}}, "recurrence.duration_min"),
    ({"reason": "x", "duration_min": 10, "by": "someone"}, "by"),
    ({"reason": "x", "duration_min": "10"}, "duration_min"),
    ({"reason": "x", "ends_at": 1893456000}, "ends_at"),
]


def test_add_rejects_bad_input(client: TestClient, seeded: Seeded, subtests: pytest.Subtests) -> None:
    for body, field in BAD_INPUT:
        with subtests.test(body=body):
            response = client.post("/api/silences", headers=ADMIN, json={**BASE, **body})
            assert response.status_code == 422, response.text
            assert field_of(response) == [field], response.text
    assert client.get("/api/silences", headers=READ).json()["silences"] == []


BAD_MATCHERS: list[tuple[dict[str, object], list[str], str]] = [
    ({}, ["service"], "give service, tenant or both"),
    ({"everything": False}, ["service"], "choose everything explicitly"),
    ({"everything": True, "service": "redis"}, ["everything"], "give it without service and tenant"),
    ({"everything": True, "tenant": "acme"}, ["everything"], "give it without service and tenant"),
    ({"everything": "yes"}, ["everything"], "boolean"),
    ({"service": "postgres", "tenant": "acme"}, ["tenant"], "platform service"),
    ({"service": "redis", "reason": "   "}, ["reason"], "required: say why"),
    ({"service": "redis", "reason": None}, ["reason"], ""),
    ({"tenant": "nobody", "reason": "\t"}, ["tenant", "reason"], "no tenant 'nobody'"),
]


def test_a_silence_needs_a_matcher_and_a_comment(
    client: TestClient, seeded: Seeded, subtests: pytest.Subtests
) -> None:
    for changes, fields, words in BAD_MATCHERS:
        with subtests.test(changes=changes):
            body = {"reason": "maintenance", "duration_min": 30, **changes}
            response = client.post("/api/silences", headers=ADMIN, json=body)
            assert response.status_code == 422, response.text
            assert field_of(response) == fields, response.text
            assert words in response.json()["detail"]
    assert client.get("/api/silences", headers=READ).json()["silences"] == []


def test_everything_said_outright_is_accepted_and_listed_with_author_and_comment(
    client: TestClient, seeded: Seeded
) -> None:
    response = client.post(
        "/api/silences",
        headers=ADMIN,
        json={"everything": True, "duration_min": 30, "reason": "  datacenter   move  "},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["service"], created["tenant"], created["everything"]) == (None, None, True)
    (listed,) = client.get("/api/silences", headers=READ).json()["silences"]
    assert (listed["created_by"], listed["reason"], listed["everything"]) == (
        "ops-bot",
        "datacenter move",
        True,
    )
    narrow = client.post(
        "/api/silences", headers=ADMIN, json={"tenant": "acme", "duration_min": 30, "reason": "migration"}
    )
    assert narrow.status_code == 201 and narrow.json()["everything"] is False


def test_malformed_silence_id(client: TestClient) -> None:
    response = client.post("/api/silences/0/end", headers=ADMIN)
    assert response.status_code == 422 and field_of(response) == ["silence_id"]
