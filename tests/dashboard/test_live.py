"""Freshness: a writer's new result reaches the next refresh; the dashboard's own copy of the
matrix view lives at most VIEW_TTL_S; database trouble is a message, not a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from healthmon.dashboard import context
from healthmon.monitors.result import Status
from healthmon.storage.cache import MemoryCache, RedisCache
from healthmon.storage.queries import MATRIX_KEY, invalidate_views
from healthmon.storage.results import record_results
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, texts

#: a Redis database of its own: the matrix view's key is the same for every healthmon
REDIS_DB = 13


@pytest.fixture
def redis_db(redis_url: str) -> Iterator[str]:
    url = make_url(redis_url).set(database=str(REDIS_DB)).render_as_string(hide_password=False)
    cache = RedisCache(url)
    cache.delete([MATRIX_KEY])
    yield url
    cache.delete([MATRIX_KEY])
    cache.close()


def test_a_writers_result_shows_on_the_next_refresh(
    dashboard: Dashboard, redis_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTHMON_REDIS_URL", redis_db)
    seed.seed_results(dashboard.engine)
    at = dashboard.open()
    assert at.dataframe[0].value.iloc[0]["mux"] == "⚪ unknown"
    assert "cache: redis" in at.sidebar.caption[0].value

    # another process records a result and, like every writer, drops the shared view
    record_results(dashboard.engine, [seed.result("mux", None, Status.UNHEALTHY, seed.now())])
    writer = RedisCache(redis_db)
    invalidate_views(writer)
    writer.close()

    at.run()  # what the fragment's timer does every LIVE_EVERY_S
    assert at.dataframe[0].value.iloc[0]["mux"] == "🔴 unhealthy"
    assert {m.label: m.value for m in at.metric}["🔴 unhealthy"] == "3"


def test_the_dashboards_own_view_is_short_lived() -> None:
    """Without Redis no writer can reach this process's cache: the view's life bounds staleness."""
    now = [0.0]
    inner = MemoryCache(clock=lambda: now[0])
    view = context.ViewCache(inner)
    view.set_many({MATRIX_KEY: {"cells": []}}, 5)
    now[0] = context.VIEW_TTL_S - 0.1
    assert view.get_many([MATRIX_KEY]) == {MATRIX_KEY: {"cells": []}}
    now[0] = context.VIEW_TTL_S
    assert view.get_many([MATRIX_KEY]) == {}
    # a new result shows within 5 s: view life plus the refresh interval
    assert context.VIEW_TTL_S + context.LIVE_EVERY_S <= 5


def test_a_database_without_tables_says_what_to_run(
    tmp_path: Path, dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTHMON_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    at = dashboard.open()
    assert "run `healthmon db upgrade`" in texts(at)
    at.switch_page("views/alerts.py").run()
    assert not at.exception
    assert "run `healthmon db upgrade`" in texts(at)
