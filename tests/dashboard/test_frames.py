"""The table shaping behind the pages, at the size the matrix must handle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from healthmon.dashboard import frames
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import Tier
from healthmon.storage.queries import Cell

AT = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def cell(service: str, tenant: str | None, status: str) -> Cell:
    tier = MONITORS[service].tier.value
    return Cell(service, tenant, tier, status, 12.0, AT.isoformat(), AT.isoformat(), None, 5.0, False)


def test_matrix_of_a_thousand_tenants_is_one_table() -> None:
    statuses = ["healthy"] * 7 + ["degraded", "unhealthy", "unknown"]
    cells = [
        cell(service, f"t{n:04d}", statuses[(n + i) % len(statuses)])
        for n in range(1000)
        for i, service in enumerate(MONITORS)
    ]
    grid = frames.matrix(cells)  # how long 17,000 cells take: benchmarks/wall_clock.py
    assert grid.tenants.shape == (1000, 2 + len(MONITORS))
    critical = sorted(s for s, m in MONITORS.items() if m.tier is Tier.CRITICAL)
    assert grid.tenant_services[: len(critical)] == critical  # critical tier first
    assert grid.tenants[frames.WORST_COLUMN].iloc[0] == "🔴 unhealthy"
    assert grid.platform.empty
    # too many cells to colour through pandas' Styler: emoji only
    assert isinstance(frames.styled(grid.tenants, grid.tenant_services), pd.DataFrame)


def test_cell_target_maps_a_click_to_service_and_tenant() -> None:
    grid = frames.matrix([cell("shopify", "acme", "healthy"), cell("redis", None, "degraded")])
    assert frames.cell_target(grid.tenants, {"cells": [(0, "shopify")]}, grid.tenant_services) == (
        "shopify",
        "acme",
    )
    assert frames.cell_target(grid.platform, {"cells": [(0, "redis")]}, grid.platform_services) == (
        "redis",
        None,
    )
    assert frames.cell_target(grid.tenants, {"cells": [(0, "worst")]}, grid.tenant_services) is None
    assert frames.cell_target(grid.tenants, {"cells": []}, grid.tenant_services) is None


def test_status_segments_cover_the_window() -> None:
    changes = [
        {"at": AT + timedelta(hours=1), "from": "healthy", "to": "unhealthy"},
        {"at": AT + timedelta(hours=2), "from": "unhealthy", "to": "healthy"},
    ]
    segments = frames.status_segments("healthy", changes, AT, AT + timedelta(hours=3))
    assert segments.values.tolist() == [
        [AT, AT + timedelta(hours=1), "healthy"],
        [AT + timedelta(hours=1), AT + timedelta(hours=2), "unhealthy"],
        [AT + timedelta(hours=2), AT + timedelta(hours=3), "healthy"],
    ]


def test_a_tenants_worst_counts_a_stale_cell_as_unknown_at_least() -> None:
    def aged(service: str, tenant: str, status: str, stale: bool) -> Cell:
        tier = MONITORS[service].tier.value
        return Cell(service, tenant, tier, status, 1.0, AT.isoformat(), AT.isoformat(), None, 9.0, stale)

    grid = frames.matrix(
        [
            # a fresh failure decides over a stale healthy result
            aged("shopify", "globex", "unhealthy", False),
            aged("meta_ads", "globex", "healthy", True),
            # all healthy, one of them stale: the tenant is not shown healthy
            aged("shopify", "acme", "healthy", False),
            aged("meta_ads", "acme", "healthy", True),
            aged("shopify", "initech", "degraded", False),
            aged("shopify", "hooli", "healthy", False),
        ]
    )
    worst = dict(zip(grid.tenants[frames.TENANT_COLUMN], grid.tenants[frames.WORST_COLUMN], strict=True))
    assert list(worst.items()) == [
        ("globex", "🔴 unhealthy"),
        ("initech", "🟠 degraded"),
        ("acme", "⏳ stale (healthy)"),
        ("hooli", "🟢 healthy"),
    ]
