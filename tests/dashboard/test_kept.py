"""Figures kept in the background (dashboard/kept.py), the view decoded once per version
(context.cells) and the matrix grid in pages: what makes the dashboard usable at 10,000 tenants."""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import SecretStr

from healthmon.config import Settings
from healthmon.dashboard import context, frames, kept, kept_frames
from healthmon.dashboard.kept import Kept
from healthmon.flows.app import build_app
from healthmon.monitors.result import Status
from healthmon.storage.migrate import upgrade
from healthmon.storage.queries import Cell, invalidate_views, matrix_cells
from healthmon.storage.results import record_results
from tests.dashboard.seed import now, result
from tests.support.app import SECRET_KEY
from tests.support.waiting import wait_until


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_a_figure_is_computed_once_then_kept() -> None:
    store, compute = Kept(), Counter()
    assert store.get("k", compute, every_s=60, max_age_s=60) == 1
    assert store.get("k", compute, every_s=60, max_age_s=60) == 1
    assert compute.calls == 1


def test_an_expired_figure_is_computed_again_by_the_caller() -> None:
    store, compute = Kept(), Counter()
    store.get("k", compute, every_s=60, max_age_s=60)
    assert store.get("k", compute, every_s=60, max_age_s=0) == 2


def test_callers_waiting_on_one_figure_share_one_computation() -> None:
    store = Kept()
    release, calls = threading.Event(), []

    def slow() -> str:
        calls.append(1)
        assert release.wait(30), "the test never released the computation"
        return "done"

    answers: list[str] = []
    threads = [
        threading.Thread(target=lambda: answers.append(store.get("k", slow, 60, 60))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(30)
    assert answers == ["done"] * 3
    assert len(calls) == 1


def test_peek_without_a_refresher_computes_and_with_one_leaves_it_to_the_refresher() -> None:
    alone, compute = Kept(), Counter()
    assert alone.peek("k", compute, every_s=60) == 1
    served, later = Kept(), Counter()
    # a refresher that has not run a round yet: peek only names the figure
    served._thread = threading.Thread(target=lambda: None)
    assert served.peek("k", later, every_s=60) is None
    assert later.calls == 0
    assert served.refresh_due() == 1
    assert served.peek("k", later, every_s=60) == 1


def test_the_refresher_recomputes_due_figures_and_forgets_idle_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kept, "COST_FACTOR", 0.0)
    store, compute = Kept(), Counter()
    store.get("k", compute, every_s=0, max_age_s=60)
    assert store.refresh_due() == 1
    assert store.get("k", compute, every_s=0, max_age_s=60) == 2
    monkeypatch.setattr(kept, "IDLE_S", -1.0)
    assert store.refresh_due() == 0
    assert store.peek("k", compute, every_s=0) == 3  # forgotten: computed anew


def _pid_and(_runtime: object, word: str) -> tuple[int, str]:
    return os.getpid(), word


def test_a_figure_is_computed_in_the_worker_process_and_the_rest_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the server a Figure runs in the refresher's worker (on a runtime of its own, built
    from the same settings); a plain callable and everything without a worker runs here."""
    monkeypatch.setenv("HEALTHMON_DATABASE_URL", f"sqlite:///{tmp_path}/worker.db")
    monkeypatch.setenv("HEALTHMON_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("HEALTHMON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HEALTHMON_CONFIG", "")
    here = object()
    figure = kept.Figure(_pid_and, here, ("up",))  # type: ignore[arg-type]
    assert Kept().get("k", figure, every_s=60, max_age_s=60) == (os.getpid(), "up")
    store = Kept()
    store._pool = kept._new_pool()
    try:
        pid, word = store.get("k", figure, every_s=60, max_age_s=60)
        assert (word, pid != os.getpid()) == ("up", True)
        assert store.get("plain", lambda: os.getpid(), every_s=60, max_age_s=60) == os.getpid()
        # the worker stops (killed, out of memory): this figure is computed here, the next by a new one
        os.kill(pid, signal.SIGKILL)
        assert store.get("k", figure, every_s=60, max_age_s=0) == (os.getpid(), "up")
        again, _ = store.get("k", figure, every_s=60, max_age_s=0)
        assert again not in (pid, os.getpid())
    finally:
        assert store._pool is not None
        store._pool.shutdown()


def test_after_its_first_round_the_refresher_rests_three_times_each_cost() -> None:
    store, rests = Kept(), list[float]()
    store.get("a", Counter(), every_s=0, max_age_s=60)
    store.get("b", Counter(), every_s=0, max_age_s=60)
    for entry in store._entries.values():
        entry.cost_s = 0.0  # every_s 0 and no cost: due at once
    assert store.refresh_due(rest=rests.append) == 2
    assert len(rests) == 2
    assert all(r == pytest.approx(e.cost_s * 3) for r, e in zip(rests, store._entries.values(), strict=True))
    assert kept.REFRESH_SHARE == 0.25


def test_the_refreshers_first_round_waits_for_the_first_page_view(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kept, "FIRST_VIEW_GRACE_S", 0.0)
    store, compute = Kept(), Counter()
    waited: list[tuple[float | None, int]] = []

    class Gate(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waited.append((timeout, compute.calls))
            return super().wait(timeout)

    store._first_view = Gate()
    store.start(lambda: store.peek("k", compute, every_s=60), announce=False, first_view_wait_s=3600)
    wait_until(lambda: waited, 30, "the refresher to wait for a page view")
    # named, not computed: the first visitor's page has the cores to itself
    assert waited == [(3600, 0)] and store.peek("k", compute, every_s=60) is None
    store.page_served()
    wait_until(lambda: store.peek("k", compute, every_s=60) == 1, 30, "the first round")


def test_a_costly_figure_is_not_refreshed_sooner_than_its_cost_allows() -> None:
    store, compute = Kept(), Counter()
    store.get("k", compute, every_s=0, max_age_s=60)
    store._entries["k"].cost_s = 3600.0
    assert store.refresh_due() == 0
    assert compute.calls == 1


def test_context_cells_judge_like_matrix_cells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/kept.db"
    settings = Settings(database_url=url, secret_key=SecretStr(SECRET_KEY), data_dir=tmp_path)
    app = build_app(settings)
    try:
        upgrade(app.engine)
        at = now()
        record_results(
            app.engine,
            [
                result("postgres", None, Status.HEALTHY, at - timedelta(minutes=5)),
                result("shopify", "acme", Status.UNHEALTHY, at - timedelta(seconds=30)),
                result("meta_ads", "acme", Status.DEGRADED, at - timedelta(hours=2)),
            ],
        )
        rule = context.stale_rule(app)
        expected = matrix_cells(app.engine, context.view_cache(app), at, rule)
        assert list(context.cells(app, at, rule)) == expected
        assert {c.key: c.stale for c in expected} == {
            ("postgres", None): True,
            ("shopify", "acme"): False,
            ("meta_ads", "acme"): True,
        }
        later = at + timedelta(minutes=20)
        # the same version, judged again at another time
        assert list(context.cells(app, later, rule)) == matrix_cells(
            app.engine, context.view_cache(app), later, rule
        )
        assert [c.key for c in context.cells(app, later, rule, service="shopify")] == [("shopify", "acme")]
        # without `at`: judged at the current whole second, once for every caller in it
        clock = [at.replace(microsecond=250_000)]
        monkeypatch.setattr(context, "now", lambda: clock[0])
        first = context.cells(app, rule=rule)
        clock[0] = at.replace(microsecond=750_000)
        assert context.cells(app, rule=rule) is first
        assert list(first) == list(context.cells(app, at.replace(microsecond=0), rule))
        clock[0] = at.replace(microsecond=0) + timedelta(seconds=1)
        assert [c.age_s - 1 for c in context.cells(app, rule=rule)] == pytest.approx([c.age_s for c in first])
        record_results(app.engine, [result("shopify", "acme", Status.HEALTHY, at)])
        invalidate_views(app.cache)  # as the record step does after writing
        assert {c.key: c.status for c in context.cells(app, at, rule)}[("shopify", "acme")] == "healthy"
    finally:
        context.reset()
        app.close()


def test_the_breakdown_reads_the_cells_as_results() -> None:
    at = now()
    cell = Cell(
        "shopify", "acme", "core", "unhealthy", 120.0, at.isoformat(), at.isoformat(), "HTTP 503", 1.0, False
    )
    (found,) = frames.results_of([cell])
    assert (found.service, found.tenant_id, found.status, found.latency_ms) == (
        "shopify",
        "acme",
        Status.UNHEALTHY,
        120.0,
    )
    assert found.reason == "HTTP 503"
    assert found.checked_at == at


def test_the_matrix_grid_in_pages() -> None:
    tenants = pd.DataFrame({frames.TENANT_COLUMN: [f"t{i}" for i in range(5)]})
    grid = frames.Matrix(pd.DataFrame(), tenants, [], [])
    second = frames.page_of(grid, 2, rows=2)
    assert list(second.tenants[frames.TENANT_COLUMN]) == ["t2", "t3"]
    assert (second.first_row, second.total_rows) == (2, 5)
    assert list(frames.page_of(grid, 3, rows=2).tenants[frames.TENANT_COLUMN]) == ["t4"]


def _judged(version: str, stale: bool) -> context.Judged:
    at = now().isoformat()
    cells = (
        Cell("postgres", None, "critical", "healthy", 3.0, at, at, None, 1.0, False),
        Cell("shopify", "acme", "core", "unhealthy", 120.0, at, at, "HTTP 503", 1.0, stale),
        Cell("shopify", "globex", "core", "healthy", 80.0, at, at, None, 1.0, False),
    )
    rule = context.StaleRule()
    return context.Judged(
        (version, rule, now()),
        cells,
        {"postgres": cells[:1], "shopify": cells[1:]},
        (version, rule, hash((1,) if stale else ())),
    )


def test_the_matrix_grid_is_kept_while_its_inputs_are_unchanged() -> None:
    kept_frames.clear()
    options: dict[str, Any] = {
        "tiers": [], "statuses": [], "search": "", "sort": frames.SORT_WORST, "wanted": [],
        "response": {}, "names": {}, "tallies": None,
    }  # fmt: skip
    first = kept_frames.matrix_view(_judged("v1", False), **options)
    assert first.grid.tenants[frames.TENANT_COLUMN].tolist() == ["acme", "globex"]
    assert (first.counts["unhealthy"], first.stale, first.not_healthy) == (1, 0, 1)
    # judged again a second later, nothing changed but the ages: the same grid
    assert kept_frames.matrix_view(_judged("v1", False), **options) is first
    # a cell turned stale, a new version, another filter: built again
    stale = kept_frames.matrix_view(_judged("v1", True), **options)
    assert stale is not first and stale.stale == 1
    assert kept_frames.matrix_view(_judged("v2", False), **options) is not first
    # a new signature drops the frames of the others: nobody asks for them again
    assert len(kept_frames._GRIDS) == 1
    only = kept_frames.matrix_view(_judged("v1", False), **{**options, "search": "glob"})
    assert only.grid.tenants[frames.TENANT_COLUMN].tolist() == ["globex"] and only.shown == (2,)
    silenced = {("shopify", "acme"): frames.Response(None, True)}
    marked = kept_frames.matrix_view(_judged("v1", False), **{**options, "response": silenced})
    assert marked.grid.tenants.loc[0, "shopify"].endswith(frames.SILENCED_MARK)


def test_the_breakdown_is_built_once_and_gets_ages_and_names_each_run() -> None:
    kept_frames.clear()
    judged = _judged("v1", True)
    at = judged.key[2]
    uptimes: dict[tuple[str, str | None], dict[str, float | None]] = {("shopify", "acme"): {"24h": 0.5}}
    first = kept_frames.breakdown(judged, "shopify", at, {}, uptimes)
    assert first[["tenant", "status", "stale"]].values.tolist() == [
        ["acme", "🔴 unhealthy", False],
        ["globex", "🟢 healthy", False],
    ]
    assert first["uptime 24h %"].tolist()[0] == 50.0
    later = kept_frames.breakdown(judged, "shopify", at + timedelta(seconds=5), {"globex": "Globex"}, uptimes)
    assert (later["age s"] - first["age s"]).tolist() == [5.0, 5.0]
    assert later[frames.NAME_COLUMN].tolist() == ["", "Globex"]
    per_run = ["age s", frames.NAME_COLUMN]
    assert later.drop(columns=per_run).equals(first.drop(columns=per_run))
