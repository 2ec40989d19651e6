"""Stale is shown as stale (issue 10, point 2): a target whose latest result is older than
`watchdog.stale_after` (2) x its tier's interval is marked on the matrix (never green), counted,
and the page says how old its data is; the service detail shows the target's age."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from healthmon.dashboard import frames, status_style
from healthmon.monitors.result import Status
from healthmon.storage.results import record_results
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, table, texts
from tests.dashboard.test_matrix import grids, metrics

STALE_HEALTHY = "⏳ stale (healthy)"


def plant(board: Dashboard) -> datetime:
    """postgres healthy 8 minutes ago (critical: stale after 2 min); globex's shopify healthy
    3 hours ago (core: stale after 10 min); the rest fresh."""
    now = seed.now()
    seed.seed_tenants(board.engine, board.cipher, ["acme", "globex"])
    record_results(
        board.engine,
        [
            seed.result("postgres", None, Status.HEALTHY, now - timedelta(minutes=8)),
            seed.result("redis", None, Status.HEALTHY, now),
            seed.result("shopify", "acme", Status.HEALTHY, now),
            seed.result("shopify", "globex", Status.HEALTHY, now - timedelta(hours=3)),
        ],
    )
    return now


def test_a_stale_cell_is_marked_counted_and_dated(dashboard: Dashboard) -> None:
    plant(dashboard)
    at = dashboard.open()

    platform, tenants = grids(at)
    assert platform == {"postgres": STALE_HEALTHY, "redis": "🟢 healthy"}
    # a stale tenant sorts before a fresh healthy one: old good news is no good news
    assert list(tenants) == ["globex", "acme"]
    assert tenants["globex"] == {"worst": STALE_HEALTHY, "shopify": STALE_HEALTHY}
    assert tenants["acme"]["shopify"] == "🟢 healthy"

    counted = metrics(at)
    assert counted["⏳ stale"] == "2" and counted["targets"] == "4"
    assert counted["🟢 healthy"] == "4"  # counted by the status each last had, too
    said = texts(at)
    assert "2 of 4 targets are stale" in said
    # the newest result is a second or so old by now: the oldest one's age is what matters here
    assert re.search(r"Data from \d s ago \(newest result\) to 3 h ago \(oldest\) · 2 stale", said)
    assert "Updated" not in said  # the age of the data, not the time of the refresh
    assert status_style.legend(2.0) in said

    attention = table(at, "status", "service", "tenant")
    assert attention[["status", "service", "tenant", "reason"]].values.tolist() == [
        # longest-standing first
        [STALE_HEALTHY, "shopify", "globex", "no newer result"],
        [STALE_HEALTHY, "postgres", "(platform)", "no newer result"],
    ]
    assert "Not healthy or stale (2)" in [e.label for e in at.expander]


def test_everything_stale_says_how_old_the_data_is(dashboard: Dashboard) -> None:
    """What on-call saw after `healthmon serve` stopped: all green, 8 minutes old."""
    eight_minutes_ago = seed.now() - timedelta(minutes=8)
    record_results(
        dashboard.engine,
        [seed.result(s, None, Status.HEALTHY, eight_minutes_ago) for s in ("postgres", "redis")],
    )
    at = dashboard.open()
    platform, _ = grids(at)
    assert set(platform.values()) == {STALE_HEALTHY}
    assert "Data from 8 min ago — stale" in texts(at)
    assert not any("🟢" in v for v in platform.values())


def test_a_stale_cell_is_not_coloured_like_any_status() -> None:
    css = frames._cell_css(STALE_HEALTHY)
    assert status_style.STALE_BACKGROUND in css and status_style.STALE_COLOUR in css
    for status, colour in status_style.COLOURS.items():
        assert colour not in css and status_style.BACKGROUNDS[status] not in css
    assert status_style.status_of(STALE_HEALTHY) == "healthy"
    assert status_style.is_stale(STALE_HEALTHY) and not status_style.is_stale("🟢 healthy")


def test_service_detail_shows_age_and_stale(dashboard: Dashboard) -> None:
    plant(dashboard)
    at = dashboard.open("service", service="postgres")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Status"] == "🟢 healthy"  # the status it last had...
    assert shown["Freshness"] == "⏳ stale"  # ...and that it is old
    assert shown["Checked"] == "8 min ago"
    assert any(
        "**Stale:** the latest result is 8 min old, older than 2 intervals of the critical tier (1 min each)"
        in w.value
        for w in at.warning
    )

    at = dashboard.open("service", service="redis")
    assert {m.label: m.value for m in at.metric}["Freshness"] == "fresh"
    assert not [w for w in at.warning if "Stale" in w.value]


def test_service_breakdown_marks_stale_tenants(dashboard: Dashboard) -> None:
    plant(dashboard)
    at = dashboard.open("service", service="shopify")
    breakdown = table(at, "tenant", "status", "latency ms")
    assert breakdown[["tenant", "status", "stale"]].values.tolist() == [
        ["globex", STALE_HEALTHY, True],
        ["acme", "🟢 healthy", False],
    ]
    assert breakdown["age s"].iloc[0] >= 3 * 3600
    assert {m.label: m.value for m in at.metric}["⏳ stale"] == "1"
