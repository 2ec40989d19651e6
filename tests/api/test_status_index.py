"""api/status_index.py answers what storage.queries.platform_health answers, for any cells,
expected targets and moment: the master status counted once per view, bisected per request."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from healthmon.api.matrix import build
from healthmon.api.status_index import StatusIndex
from healthmon.api.tenant_snapshot import Tenants
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import Status, TargetKey
from healthmon.storage.cache import MemoryCache
from healthmon.storage.queries import MATRIX_KEY, StaleRule, platform_health

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SERVICES = ["postgres", "redis", "stripe", "shopify", "meta_ads", "mux"]


def bed(seed: int) -> tuple[list[list[Any]], dict[str, frozenset[TargetKey]]]:
    """Random rows (some targets not expected, some expected without a row) around the stale
    limits of their tiers."""
    rng = random.Random(seed)
    rows: list[list[Any]] = []
    expected: dict[str, set[TargetKey]] = {}
    for service in SERVICES:
        monitor = MONITORS[service]
        tenants: list[str | None] = [f"t{n:02d}" for n in range(12)] if monitor.per_tenant else [None]
        for tenant in tenants:
            if rng.random() < 0.8:
                expected.setdefault(service, set()).add((service, tenant))
            if rng.random() < 0.85:
                limit = StaleRule().limit_s(monitor.tier)
                checked = AT - timedelta(seconds=rng.uniform(0, 2.5 * limit))
                status = rng.choice([s.value for s in Status])
                at = checked.isoformat()
                rows.append([service, tenant, monitor.tier.value, status, 1.0, at, at, None])
    rows.sort(key=lambda r: (r[0], r[1] or ""))
    # a service only some disabled tenants still have rows of
    return rows, {s: frozenset(keys) for s, keys in expected.items()}


@pytest.mark.parametrize("seed", range(8))
def test_the_index_answers_what_platform_health_answers(seed: int) -> None:
    rows, expected = bed(seed)
    rule = StaleRule()
    view = build("v", rows, AT, rule)
    index = StatusIndex.build(view, Tenants({}, "n", expected))
    cache = MemoryCache()
    cache.set_many({MATRIX_KEY: {"cells": rows}}, 60)
    every = {key for keys in expected.values() for key in keys}
    services = sorted({s for s, _ in every})
    for offset in (0, 30, 61, 119, 121, 299, 601, 1201, 3600, 7200):
        now = AT + timedelta(seconds=offset)
        wanted = platform_health(None, cache, services, expected=every, now=now, rule=rule)  # type: ignore[arg-type]
        assert index.platform(now) == wanted, offset


def test_service_totals_count_every_target() -> None:
    rows, expected = bed(3)
    view = build("v", rows, AT, StaleRule())
    index = StatusIndex.build(view, Tenants({}, "n", expected))
    now = AT + timedelta(seconds=400)
    mine = [r for r in rows if r[0] == "shopify"]
    total, counts, stale, status = index.service_totals("shopify", now)
    assert total == len(mine)
    assert counts == {s.value: sum(1 for r in mine if r[3] == s.value) for s in Status}
    limit = StaleRule().limit_s("core")
    judged = {(r[0], r[1]): (now - datetime.fromisoformat(r[5])).total_seconds() > limit for r in mine}
    assert stale == sum(judged.values())
    worst = Status.HEALTHY
    for r in mine:
        worst = worst.worse(Status(r[3]))
    if any(judged[k] for k in expected.get("shopify", ()) if k in judged):
        worst = worst.worse(Status.UNKNOWN)
    assert status == worst.value
    assert index.service_totals("vercel", now) == (0, {s.value: 0 for s in Status}, 0, "unknown")
