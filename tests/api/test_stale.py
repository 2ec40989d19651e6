"""Stale is shown as stale (issue 10, point 2): every per-target object carries `stale` and
`age_s`, the master status counts stale targets and is never healthy while one that should be
checked is stale, /metrics exports the age. Results are planted with an old checked_at the way
a tier run records them; "stale" is older than `watchdog.stale_after` (2) x the tier's interval
(critical 60 s, core 300 s)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from healthmon.api.app import create_app
from healthmon.api.formats import rfc3339
from healthmon.api.matrix import MatrixViews, answer, build
from healthmon.flows.app import App
from healthmon.monitors.result import Status
from healthmon.storage.queries import StaleRule
from healthmon.storage.tenants import set_enabled, upsert_tenants
from tests.api.conftest import CONFIG, READ, TOKENS, meta, record, result, shopify, tenants_changed
from tests.support.app import AppFactory
from tests.support.waiting import wait_until

#: a critical result this old is stale (> 120 s), a core one is not (< 600 s)
EIGHT_MIN = timedelta(minutes=8)


def fresh_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def seed_tenants(runtime: App, enabled: dict[str, bool]) -> None:
    assert runtime.cipher is not None
    upsert_tenants(
        runtime.engine,
        runtime.cipher,
        [(t, t.title(), on, {"shopify": shopify(t)}) for t, on in enabled.items()],
    )


def cells_of(body: dict[str, Any]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(c[0], c[1]): dict(zip(body["fields"], c, strict=True)) for c in body["cells"]}


def age_at(generated_at: str, checked_at: datetime) -> float:
    return (datetime.fromisoformat(generated_at) - checked_at).total_seconds()


@pytest.fixture
def stale_postgres(runtime: App) -> datetime:
    """Every configured platform service healthy; postgres's result 8 minutes old, the rest new."""
    now = fresh_now()
    record(runtime, [result("postgres", None, Status.HEALTHY, at=now - EIGHT_MIN)])
    record(
        runtime,
        [
            result("redis", None, Status.HEALTHY, at=now),
            result("stripe", None, Status.HEALTHY, at=now - EIGHT_MIN),
        ],
    )
    return now


def test_matrix_cells_carry_age_and_stale(client: TestClient, stale_postgres: datetime) -> None:
    body = client.get("/api/platform/health/matrix", headers=READ).json()
    cells = cells_of(body)
    postgres, redis, stripe = cells[("postgres", None)], cells[("redis", None)], cells[("stripe", None)]
    # healthy as recorded, and marked stale: the status says what was seen, stale how old it is
    assert (postgres["status"], postgres["stale"]) == ("healthy", True)
    assert (redis["stale"], stripe["stale"]) == (False, False)  # core: 8 min < 2 x 5 min
    # ages and generated_at are read moments apart: within a second, whatever the load
    assert abs(postgres["age_s"] - age_at(body["generated_at"], stale_postgres - EIGHT_MIN)) <= 1.0
    assert abs(redis["age_s"] - age_at(body["generated_at"], stale_postgres)) <= 1.0
    assert body["stale"] == 1
    # a filtered answer is judged the same way
    filtered = client.get("/api/platform/health/matrix?tier=critical", headers=READ).json()
    assert {k: c["stale"] for k, c in cells_of(filtered).items()} == {
        ("postgres", None): True,
        ("redis", None): False,
    }
    assert filtered["stale"] == 1


def test_the_kept_matrix_answer_does_not_freeze_the_age(client: TestClient, stale_postgres: datetime) -> None:
    """The view is serialized once per version and its answer kept a while (ANSWER_MAX_AGE_S,
    short here); the age must still move with the next answer."""
    app: Any = client.app
    app.state.matrix_views = MatrixViews(answer_max_age_s=0.2)
    first = cells_of(client.get("/api/platform/health/matrix", headers=READ).json())[("redis", None)]

    def older() -> bool:
        body = client.get("/api/platform/health/matrix", headers=READ).json()
        return bool(cells_of(body)[("redis", None)]["age_s"] > first["age_s"])

    wait_until(older, 10, "the redis cell's age to grow between two answers of one view")


def test_kept_view_ages_like_the_stale_rule(runtime: App) -> None:
    """The matrix route's per-request arithmetic is the rule of monitors.result.staleness."""
    at = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    rule = StaleRule(stale_after=2)
    # around the critical limit (120 s) and the core one (600 s), and one from the future
    offsets = {"postgres": [0.0, 119.9, 120.0, 120.04, 120.1, -30.0], "stripe": [599.95, 600.0, 600.2]}
    rows = []
    for service, ages in offsets.items():
        tier = "critical" if service == "postgres" else "core"
        for n, age in enumerate(ages):
            checked = (at - timedelta(seconds=age)).isoformat()
            rows.append([service, f"t{n}", tier, "healthy", 1.0, checked, checked, None])
    # a reason is any text: a `%` in it must come out as it went in
    rows.append(["redis", None, "critical", "unhealthy", None, at.isoformat(), at.isoformat(), "100% %s %%"])
    view = build("v1", rows, at - timedelta(hours=1), rule)
    for now in (at, at + timedelta(seconds=0.05), at + timedelta(minutes=9)):
        body = json.loads(answer(view, now, {}))
        for cell in body["cells"]:
            expected = rule.judge(datetime.fromisoformat(cell[5]), cell[2], now)
            assert (cell[8], cell[9]) == expected, (cell, now)
        assert body["stale"] == sum(1 for c in body["cells"] if c[9])
        # as it went in, times in the API's spelling (api/formats)
        redis = rows[-1]
        assert body["cells"][-1][:8] == [*redis[:5], rfc3339(str(redis[5])), rfc3339(str(redis[6])), redis[7]]


def test_master_status_is_never_healthy_while_a_target_is_stale(
    client: TestClient, runtime: App, stale_postgres: datetime
) -> None:
    body = client.get("/api/platform/health", headers=READ).json()
    # every result is healthy, but postgres has not been checked for 8 minutes
    assert body["status"] == "unknown"
    assert (body["stale"], body["missing"], body["targets"]) == (1, 0, 3)
    assert body["counts"] == {"healthy": 3, "degraded": 0, "unhealthy": 0, "unknown": 0}
    assert body["stale_after"] == 2
    by_service = {s["service"]: s for s in body["services"]}
    assert (by_service["postgres"]["status"], by_service["postgres"]["stale"]) == ("unknown", 1)
    assert by_service["postgres"]["max_age_s"] >= EIGHT_MIN.total_seconds()
    assert (by_service["stripe"]["status"], by_service["stripe"]["stale"]) == ("healthy", 0)

    # a new result makes it fresh: healthy again
    record(runtime, [result("postgres", None, Status.HEALTHY, at=fresh_now())])
    body = client.get("/api/platform/health", headers=READ).json()
    assert (body["status"], body["stale"]) == ("healthy", 0)


def test_a_stale_failure_stays_a_failure(client: TestClient, runtime: App) -> None:
    now = fresh_now()
    record(
        runtime,
        [
            result("postgres", None, Status.UNHEALTHY, at=now - EIGHT_MIN, reason="timeout"),
            result("redis", None, Status.HEALTHY, at=now),
            result("stripe", None, Status.HEALTHY, at=now),
        ],
    )
    body = client.get("/api/platform/health", headers=READ).json()
    assert (body["status"], body["stale"]) == ("unhealthy", 1)


def test_stale_rule_follows_the_config(db_url: str, make_app: AppFactory) -> None:
    runtime = make_app(db_url, {**CONFIG, "watchdog": {"stale_after": 10}})
    now = fresh_now()
    record(runtime, [result("postgres", None, Status.HEALTHY, at=now - EIGHT_MIN)])
    with TestClient(create_app(runtime, TOKENS)) as http:
        cells = cells_of(http.get("/api/platform/health/matrix", headers=READ).json())
        assert cells[("postgres", None)]["stale"] is False  # 8 min < 10 x 1 min
        assert http.get("/api/platform/health", headers=READ).json()["stale_after"] == 10


def test_master_status_counts_expected_targets_only(client: TestClient, runtime: App) -> None:
    """A tenant without a result yet is missing; a disabled tenant's old result does not count."""
    now = fresh_now()
    seed_tenants(runtime, {"acme": True, "globex": True, "initech": True})
    record(
        runtime,
        [
            result(s, None, Status.HEALTHY, at=now)
            for s in ("postgres", "redis", "stripe")
        ]
        + [
            result("shopify", "acme", Status.HEALTHY, at=now),
            result("shopify", "initech", Status.UNHEALTHY, at=now - timedelta(hours=3), reason="timeout"),
        ],
    )
    body = client.get("/api/platform/health", headers=READ).json()
    shopify_row = {s["service"]: s for s in body["services"]}["shopify"]
    # globex never checked, initech stale (core: 3 h > 10 min)
    assert (shopify_row["missing"], shopify_row["stale"], shopify_row["status"]) == (1, 1, "unhealthy")
    assert (body["missing"], body["stale"]) == (1, 1)

    # initech disabled: nobody refreshes its result, so it no longer counts
    assert set_enabled(runtime.engine, "initech", False)
    tenants_changed(client)
    body = client.get("/api/platform/health", headers=READ).json()
    shopify_row = {s["service"]: s for s in body["services"]}["shopify"]
    assert (shopify_row["missing"], shopify_row["stale"], shopify_row["targets"]) == (1, 0, 1)
    assert shopify_row["status"] == "unknown"  # globex still has no result

    record(runtime, [result("shopify", "globex", Status.HEALTHY, at=fresh_now())])
    body = client.get("/api/platform/health", headers=READ).json()
    assert (body["status"], body["stale"], body["missing"]) == ("healthy", 0, 0)
    # the disabled tenant's cell is still in the matrix, and says it is stale
    cells = cells_of(client.get("/api/platform/health/matrix?service=shopify", headers=READ).json())
    assert cells[("shopify", "initech")]["stale"] is True


def test_service_route_targets_carry_age_and_stale(client: TestClient, runtime: App) -> None:
    now = fresh_now()
    seed_tenants(runtime, {"acme": True, "globex": True, "initech": False})
    record(
        runtime,
        [
            result("shopify", "acme", Status.HEALTHY, at=now),
            result("shopify", "globex", Status.HEALTHY, at=now - timedelta(hours=1)),
            result("shopify", "initech", Status.HEALTHY, at=now - timedelta(days=2)),
        ],
    )
    body = client.get("/api/platform/health/shopify", headers=READ).json()
    targets = {t["tenant"]: t for t in body["targets"]}
    assert {t: (v["stale"], v["status"]) for t, v in targets.items()} == {
        "acme": (False, "healthy"),
        "globex": (True, "healthy"),
        "initech": (True, "healthy"),
    }
    assert abs(targets["globex"]["age_s"] - age_at(body["generated_at"], now - timedelta(hours=1))) <= 1.0
    assert body["stale"] == 2
    assert body["status"] == "unknown"  # globex should be checked and is not fresh

    # only the disabled tenant is stale: shown stale, but it does not hold the status down
    record(runtime, [result("shopify", "globex", Status.HEALTHY, at=fresh_now())])
    body = client.get("/api/platform/health/shopify", headers=READ).json()
    assert (body["status"], body["stale"]) == ("healthy", 1)

    platform = client.get("/api/platform/health/postgres", headers=READ).json()
    assert platform["targets"] == [] and platform["stale"] == 0


def test_tenant_route_services_carry_age_and_stale(client: TestClient, runtime: App) -> None:
    now = fresh_now()
    assert runtime.cipher is not None
    upsert_tenants(
        runtime.engine,
        runtime.cipher,
        [("acme", "Acme", True, {"shopify": shopify("acme"), "meta_ads": meta("act_1")})],
    )
    record(runtime, [result("shopify", "acme", Status.HEALTHY, at=now - timedelta(hours=1))])
    body = client.get("/api/platform/health/tenant/acme", headers=READ).json()
    services = {s["service"]: s for s in body["services"]}
    assert (services["shopify"]["stale"], services["shopify"]["status"]) == (True, "healthy")
    assert services["shopify"]["age_s"] >= 3600
    # never checked: no age, and no fresh result either
    assert (services["meta_ads"]["stale"], services["meta_ads"]["age_s"]) == (True, None)
    assert (body["status"], body["stale"]) == ("unknown", 2)

    record(
        runtime,
        [
            result("shopify", "acme", Status.HEALTHY, at=fresh_now()),
            result("meta_ads", "acme", Status.HEALTHY, at=fresh_now()),
        ],
    )
    body = client.get("/api/platform/health/tenant/acme", headers=READ).json()
    assert (body["status"], body["stale"]) == ("healthy", 0)
    assert {s["service"]: s["stale"] for s in body["services"]} == {"meta_ads": False, "shopify": False}


def test_metrics_export_age_and_stale(client: TestClient, stale_postgres: datetime) -> None:
    text = client.get("/metrics", headers=READ).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    age = {s.labels["service"]: s.value for s in families["healthmon_result_age_seconds"].samples}
    stale = {s.labels["service"]: s.value for s in families["healthmon_result_stale"].samples}
    assert stale == {"postgres": 1.0, "redis": 0.0, "stripe": 0.0}
    assert age["postgres"] >= EIGHT_MIN.total_seconds() > age["redis"]
    assert {s.labels["tenant"] for s in families["healthmon_result_stale"].samples} == {""}
