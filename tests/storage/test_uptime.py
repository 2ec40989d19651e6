"""Uptime from history (storage/uptime.py) on SQLite and PostgreSQL: time-weighted, capped at
the stale limit, with unknown, stale and silenced time counted as no data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from healthmon.monitors.result import Status
from healthmon.storage.db import make_engine
from healthmon.storage.uptime import Span, Tally, counts_as_up, merge_spans, silence_groups, tally, total
from tests.support.history import history_rows, write_history

H, U, D, X = Status.HEALTHY, Status.UNHEALTHY, Status.DEGRADED, Status.UNKNOWN
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
#: stripe is core tier (300 s); stale_after 2 caps a result at 600 s
STALE_AFTER = 2.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def engine(db_url: str) -> Engine:
    return make_engine(db_url)


def whole(end_s: float) -> dict[str, Span]:
    return {"all": (T0, at(end_s))}


def test_up_is_healthy_or_degraded_and_unknown_is_no_data() -> None:
    assert [counts_as_up(s) for s in (H, D, U, X)] == [True, True, False, None]


def test_each_result_counts_until_the_next(engine: Engine) -> None:
    write_history(engine, history_rows("stripe", None, [H, U, H], T0))
    found = tally(engine, "stripe", whole(900), at(900), STALE_AFTER)
    assert found == {("stripe", None): {"all": Tally(600.0, 300.0)}}
    assert found["stripe", None]["all"].uptime == pytest.approx(2 / 3)


def test_time_beyond_the_stale_limit_is_no_data(engine: Engine) -> None:
    # the healthy result counts 600 s (2 x 300 s), the hour after it nobody looked
    write_history(engine, history_rows("stripe", None, [H, U], T0, every_s=3600))
    found = tally(engine, "stripe", whole(3900), at(3900), STALE_AFTER)
    assert found["stripe", None]["all"] == Tally(600.0, 300.0)


def test_unknown_and_degraded(engine: Engine) -> None:
    write_history(engine, history_rows("stripe", None, [X, D, U, X], T0))
    found = tally(engine, "stripe", whole(1200), at(1200), STALE_AFTER)
    assert found["stripe", None]["all"] == Tally(300.0, 300.0)


def test_spans_clip_and_results_after_now_are_ignored(engine: Engine) -> None:
    write_history(engine, history_rows("stripe", None, [U, H, H, U, U], T0))
    spans = {"last5m": (at(600), at(900)), "first": (at(150), at(450)), "all": (T0, at(900))}
    found = tally(engine, "stripe", spans, at(900), STALE_AFTER)["stripe", None]
    # the result at 900 s and after are not counted: now is 900 s
    assert found == {"last5m": Tally(300.0, 0.0), "first": Tally(150.0, 150.0), "all": Tally(600.0, 300.0)}


def test_empty_history_has_no_target(engine: Engine) -> None:
    assert tally(engine, "stripe", whole(900), at(900), STALE_AFTER) == {}


def test_silenced_time_is_no_data(engine: Engine) -> None:
    write_history(engine, history_rows("stripe", None, [H, U, U, H], T0))
    # the two silences overlap: the 300-750 s period is subtracted once
    silenced = [(None, at(300), at(600)), (None, at(450), at(750))]
    found = tally(engine, "stripe", whole(1200), at(1200), STALE_AFTER, silenced)
    assert found["stripe", None]["all"] == Tally(600.0, 150.0)


def test_a_tenant_silence_holds_only_that_tenant(engine: Engine) -> None:
    for tenant in ("acme", "globex"):
        write_history(engine, history_rows("shopify", tenant, [U, H], T0))
    silenced = [("acme", T0, at(300))]
    found = tally(engine, "shopify", whole(600), at(600), STALE_AFTER, silenced)
    assert found[("shopify", "acme")]["all"] == Tally(300.0, 0.0)
    assert found[("shopify", "globex")]["all"] == Tally(300.0, 300.0)
    assert total(found, ["all"]) == {"all": Tally(600.0, 300.0)}
    only = tally(engine, "shopify", whole(600), at(600), STALE_AFTER, silenced, tenant_ids=["globex"])
    assert list(only) == [("shopify", "globex")]


def test_silence_groups_merge_service_wide_and_own_periods() -> None:
    groups = silence_groups([(None, T0, at(60)), ("acme", at(30), at(90)), ("acme", at(200), at(210))])
    assert groups == {"acme": [(T0, at(90)), (at(200), at(210))], "*": [(T0, at(60))]}
    assert merge_spans([(at(10), at(20)), (at(20), at(30)), (at(5), at(5))]) == [(at(10), at(30))]
