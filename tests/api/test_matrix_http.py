"""The whole matrix over HTTP (issue 15): gzip when asked, a strong ETag, 304 on a match,
`Vary: Accept-Encoding`; a kept answer is the same bytes until something a client sees changes."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from healthmon.api.health import accepts_gzip, none_match
from healthmon.api.matrix import MatrixViews, build, stale_from_us
from healthmon.flows.app import App
from healthmon.monitors.result import Status
from healthmon.storage.cache import MemoryCache
from healthmon.storage.queries import MATRIX_TTL_S, StaleRule, invalidate_views
from healthmon.storage.results import record_results
from tests.api.conftest import READ, Seeded, record, result
from tests.support.waiting import wait_until

MATRIX = "/api/platform/health/matrix"
GZIP = {**READ, "Accept-Encoding": "gzip"}
IDENTITY = {**READ, "Accept-Encoding": "identity"}


@dataclass(frozen=True)
class Raw:
    status_code: int
    headers: httpx.Headers
    #: the body as sent, not decoded
    content: bytes


def raw(client: TestClient, headers: dict[str, str], path: str = MATRIX) -> Raw:
    """The answer as sent: the test client would otherwise decode the gzip itself."""
    response = client.send(client.build_request("GET", path, headers=headers), stream=True)
    try:
        return Raw(response.status_code, response.headers, b"".join(response.iter_raw()))
    finally:
        response.close()


def test_gzip_when_asked_decodes_to_the_same_json(client: TestClient, seeded: Seeded) -> None:
    plain = raw(client, IDENTITY)
    packed = raw(client, GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert plain.headers["vary"] == packed.headers["vary"] == "Accept-Encoding"
    assert packed.headers["cache-control"] == "no-store"
    # the same kept answer: byte for byte, generated_at and ages included
    assert gzip.decompress(packed.content) == plain.content
    assert len(json.loads(plain.content)["cells"]) == 6
    # each encoding has its own strong ETag
    assert plain.headers["etag"].startswith('"') and not plain.headers["etag"].startswith("W/")
    assert packed.headers["etag"] != plain.headers["etag"]


def test_a_filtered_answer_is_gzipped_too_and_has_no_etag(client: TestClient, seeded: Seeded) -> None:
    for n in range(40):  # enough cells that compressing is worth it
        record(seeded.runtime, [result("shopify", f"shop-{n:02d}", Status.UNHEALTHY, reason="timeout " * 5)])
    packed = raw(client, GZIP, f"{MATRIX}?status=unhealthy")
    plain = raw(client, IDENTITY, f"{MATRIX}?status=unhealthy")
    assert packed.headers["content-encoding"] == "gzip" and "etag" not in packed.headers
    # made per request: the same cells, only their age (read at each answer) may have moved on
    unpacked = json.loads(gzip.decompress(packed.content))["cells"]
    assert [c[:-2] for c in unpacked] == [c[:-2] for c in json.loads(plain.content)["cells"]]
    assert len(unpacked) == 41


def test_if_none_match_gives_304_until_a_status_changes(client: TestClient, seeded: Seeded) -> None:
    first = raw(client, GZIP)
    etag = first.headers["etag"]
    again = raw(client, {**GZIP, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag and again.headers["vary"] == "Accept-Encoding"
    assert again.headers["cache-control"] == "no-store"
    # the weak form and a list match too (If-None-Match compares weakly)
    assert raw(client, {**GZIP, "If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert raw(client, {**GZIP, "If-None-Match": '"other"'}).status_code == 200

    record(seeded.runtime, [result("redis", None, Status.HEALTHY)])
    changed = raw(client, {**GZIP, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    cells = json.loads(gzip.decompress(changed.content))["cells"]
    assert [c[3] for c in cells if c[0] == "redis"] == ["healthy"]
    assert raw(client, {**GZIP, "If-None-Match": changed.headers["etag"]}).status_code == 304


def test_the_kept_answer_is_made_again_when_a_cell_turns_stale() -> None:
    """Without any write, a cell turning stale changes what a client sees: a new answer."""
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    rule = StaleRule()
    checked = at - timedelta(seconds=119)  # critical: stale after 120 s
    rows = [["postgres", None, "critical", "healthy", 1.0, checked.isoformat(), checked.isoformat(), None]]
    view = build("v1", rows, at, rule)
    views = MatrixViews(answer_max_age_s=3600)
    first = views.answer(view, {}, "n", at)
    assert views.answer(view, {}, "n", at + timedelta(seconds=0.9)) is first
    turned = views.answer(view, {}, "n", at + timedelta(seconds=1.1))
    assert turned is not first and turned.etag != first.etag
    assert json.loads(first.body)["cells"][0][9] is False
    assert json.loads(turned.body)["cells"][0][9] is True
    # and after ANSWER_MAX_AGE_S, so that ages stay near
    short = MatrixViews(answer_max_age_s=5)
    kept = short.answer(view, {}, "n", at)
    assert short.answer(view, {}, "n", at + timedelta(seconds=6)) is not kept


@pytest.mark.parametrize("limit", [0.05, 119.95, 120.0, 600.0, 1800.0, 3600.0])
def test_stale_from_us_is_the_stale_rule(limit: float) -> None:
    first = stale_from_us(limit)
    assert first / 1_000_000 > limit >= (first - 1) / 1_000_000


def test_the_age_moves_once_the_answer_is_made_again(client: TestClient, seeded: Seeded) -> None:
    app: Any = client.app
    app.state.matrix_views = MatrixViews(answer_max_age_s=0.2)
    first = json.loads(raw(client, IDENTITY).content)

    def newer() -> bool:
        body = json.loads(raw(client, IDENTITY).content)
        return bool(
            body["generated_at"] > first["generated_at"] and body["cells"][0][8] > first["cells"][0][8]
        )

    wait_until(newer, 10, "a new answer with older ages")


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("*", True),
        ("*;q=0", False),
        ("deflate", False),
        ("", False),
        (None, False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding(header: str | None, allowed: bool) -> None:
    assert accepts_gzip(header) is allowed


def test_if_none_match_parsing() -> None:
    tags = ('"abc"', '"abc-gzip"')
    assert none_match('"abc"', tags) and none_match('W/"abc"', tags) and none_match("*", tags)
    assert none_match('"x", "abc-gzip"', tags)
    assert not none_match('"abcd"', tags) and not none_match("", tags) and not none_match(None, tags)


def test_the_schema_documents_304(client: TestClient, runtime: App) -> None:
    operation = client.get("/openapi.json").json()["paths"][MATRIX]["get"]
    assert "304" in operation["responses"]
    assert "ETag" in operation["responses"]["200"]["description"]


def test_an_expired_view_is_served_while_it_is_read_again(runtime: App) -> None:
    """Only an invalidated view (a writer recorded) is waited for; one whose TTL ran out is
    served as it was while one thread reads it again."""
    clock = [0.0]
    cache = MemoryCache(clock=lambda: clock[0])
    views = MatrixViews()
    record_results(runtime.engine, [result("redis", None, Status.HEALTHY)])
    first = views.current(runtime.engine, cache, datetime.now(UTC))
    assert [r[3] for r in first.rows] == ["healthy"]

    # another process records; its invalidation cannot reach this cache, whose entry expires
    record_results(runtime.engine, [result("redis", None, Status.UNHEALTHY)])
    clock[0] = MATRIX_TTL_S + 1
    assert views.current(runtime.engine, cache, datetime.now(UTC)) is first

    def reread() -> bool:
        return [r[3] for r in views.current(runtime.engine, cache, datetime.now(UTC)).rows] == ["unhealthy"]

    wait_until(reread, 10, "the expired view read again in the background")

    # a writer's invalidation: the next request waits for the new view
    record_results(runtime.engine, [result("redis", None, Status.DEGRADED)])
    invalidate_views(cache)
    assert [r[3] for r in views.current(runtime.engine, cache, datetime.now(UTC)).rows] == ["degraded"]
