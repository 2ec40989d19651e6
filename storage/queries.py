"""What the API and the dashboard show: current status views and history series.

Both faces call these functions (no SQL lives in their code). Current status is read from
the cache first and from `service_status` for whatever the cache does not hold.

The service x tenant matrix is one cache entry (`MATRIX_KEY`), built from `service_status`
on a miss. Every writer deletes it after recording (`invalidate_views`), so a breach shows in
every process at once, not after a TTL; the TTL only bounds how stale a process that cannot
see the writer's cache (the in-process fallback) can be.

Age and staleness depend on the moment of reading, so they are never part of a cached entry:
every read judges each cell against `now` (a parameter, so tests can fix it) with the rule of
`monitors.result.staleness` (a latest result older than `stale_after` x its tier's interval).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import Engine, Integer, and_, case, cast, func, literal_column, select

from healthmon.monitors.result import (
    DEFAULT_STALE_AFTER,
    TIERS,
    CheckResult,
    Status,
    TargetKey,
    Tier,
    staleness,
)
from healthmon.storage.cache import KEY_PREFIX, StatusCache
from healthmon.storage.status import current_status, view_rows
from healthmon.storage.tables import HISTORY

MATRIX_KEY = f"{KEY_PREFIX}view:matrix"
#: the view's version alone (a digest of its rows), so that a reader holding a copy can tell
#: whether it is still current without fetching and decoding the whole view (~5 MB at 10,000
#: tenants x 4 integrations); written and deleted together with MATRIX_KEY
MATRIX_VERSION_KEY = f"{KEY_PREFIX}view:matrix:version"
#: with Redis, writers invalidate the view at once; this only bounds a stale in-process copy
MATRIX_TTL_S = 5
#: the columns the cached view keeps per cell (nothing that depends on when it is read)
VIEW_FIELDS = ("service", "tenant", "tier", "status", "latency_ms", "checked_at", "since", "reason")
#: matrix cell columns, in the order each cell lists them: the view's, then the age at reading
CELL_FIELDS = (*VIEW_FIELDS, "age_s", "stale")


#: what the version key holds once a writer invalidated the view, until a reader rebuilds it:
#: so that a reader can tell "changed" (rebuild now) from "expired" (MATRIX_TTL_S ran out; a
#: reader holding a copy may serve it while it reads the view again)
INVALIDATED = "invalidated"
INVALIDATED_TTL_S = 600


def invalidate_views(cache: StatusCache) -> None:
    """Called by every writer of service_status after it recorded."""
    cache.delete([MATRIX_KEY])
    cache.set_many({MATRIX_VERSION_KEY: {"version": INVALIDATED}}, INVALIDATED_TTL_S)


@dataclass(frozen=True)
class StaleRule:
    """When a latest result is stale: older than `stale_after` x its tier's interval (the
    config's `watchdog.stale_after`; `interval_scale` as `healthmon serve --interval-scale`)."""

    stale_after: float = DEFAULT_STALE_AFTER
    interval_scale: float = 1.0

    def limit_s(self, tier: str | Tier) -> float:
        """The age past which a result of this tier is stale."""
        return TIERS[Tier(tier)].stale_after_s(self.stale_after, self.interval_scale)

    def judge(self, checked_at: datetime, tier: str | Tier, now: datetime) -> tuple[float, bool]:
        """(age in seconds, stale) of a latest result checked at `checked_at`."""
        return staleness(checked_at, Tier(tier), now, self.stale_after, self.interval_scale)


DEFAULT_RULE = StaleRule()


# slots: 40,000 of them are held by the API and the dashboard at 10,000 tenants
@dataclass(frozen=True, slots=True)
class Cell:
    service: str
    tenant: str | None
    tier: str
    status: str
    latency_ms: float | None
    checked_at: str
    since: str
    reason: str | None
    #: seconds since checked_at, at the time of reading
    age_s: float
    stale: bool

    @property
    def key(self) -> TargetKey:
        return (self.service, self.tenant)

    @property
    def shown_status(self) -> str:
        """The status a summary counts it as: a stale result is no evidence of health, so a
        stale cell is at least unknown ("could not decide"); a stale failure stays a failure."""
        return Status(self.status).worse(Status.UNKNOWN).value if self.stale else self.status

    def as_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in CELL_FIELDS}


def aged(rows: Iterable[Sequence[Any]], now: datetime, rule: StaleRule = DEFAULT_RULE) -> list[Cell]:
    """Cells from view rows (VIEW_FIELDS), each judged for age and staleness at `now`."""
    cells = []
    for row in rows:
        age, stale = rule.judge(datetime.fromisoformat(row[5]), row[2], now)
        cells.append(Cell(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], age, stale))
    return cells


def judged_at(cells: Iterable[Cell], now: datetime, rule: StaleRule = DEFAULT_RULE) -> list[Cell]:
    """The same cells, their age and staleness judged again at `now`."""
    return aged(([getattr(c, f) for f in VIEW_FIELDS] for c in cells), now, rule)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def view_version(rows: Sequence[Sequence[Any]]) -> str:
    """A digest of the view's rows: the same rows give the same version in every process, so a
    view rebuilt from unchanged rows (its TTL ran out) keeps its version, and with it the
    API's kept answer and ETag."""
    encoded = json.dumps(rows, separators=(",", ":"), default=str).encode()
    return hashlib.blake2b(encoded, digest_size=12).hexdigest()


def matrix_entry(engine: Engine, cache: StatusCache) -> tuple[str, list[list[Any]]]:
    """(version, rows) of the view: the cached entry, or service_status on a miss."""
    cached = cache.get_many([MATRIX_KEY]).get(MATRIX_KEY)
    if cached is not None:
        rows: list[list[Any]] = cached["cells"]
        version = cached.get("version")
        return (version if isinstance(version, str) else view_version(rows)), rows
    rows = view_rows(engine)
    version = view_version(rows)
    cache.set_many(
        {MATRIX_KEY: {"version": version, "cells": rows}, MATRIX_VERSION_KEY: {"version": version}},
        MATRIX_TTL_S,
    )
    return version, rows


def matrix_version(cache: StatusCache) -> str | None:
    """The cached view's version, without reading the view: INVALIDATED after a writer's
    `invalidate_views`, None when the entry expired (or was never built)."""
    found = cache.get_many([MATRIX_VERSION_KEY]).get(MATRIX_VERSION_KEY)
    version = found.get("version") if found else None
    return version if isinstance(version, str) else None


def matrix_rows(engine: Engine, cache: StatusCache) -> list[list[Any]]:
    """The view's rows (VIEW_FIELDS per row): the cached entry, or service_status on a miss."""
    return matrix_entry(engine, cache)[1]


def matrix_cells(
    engine: Engine, cache: StatusCache, now: datetime | None = None, rule: StaleRule = DEFAULT_RULE
) -> list[Cell]:
    """Every (service, tenant) latest status, with its age and staleness at `now` (default:
    the time of the call)."""
    return aged(matrix_rows(engine, cache), now or datetime.now(UTC), rule)


def worst(statuses: Iterable[str]) -> str:
    """The worst status by rank (unhealthy > degraded > unknown > healthy); healthy if none."""
    result = Status.HEALTHY
    for status in statuses:
        result = result.worse(Status(status))
    return result.value


def counts(cells: Iterable[Cell]) -> dict[str, int]:
    """Cells by their recorded status (stale ones too: `stale_count` says how many are stale)."""
    found = {s.value: 0 for s in Status}
    for cell in cells:
        found[cell.status] += 1
    return found


def stale_count(cells: Iterable[Cell]) -> int:
    return sum(1 for c in cells if c.stale)


def _summary(cells: Sequence[Cell], missing: int) -> dict[str, Any]:
    """Status, counts and freshness of a group of targets. Its status is never healthy while
    one of them is stale or has no result at all: unknown at least, since old data cannot
    show health (a stale or missing failure still counts as the failure it last was)."""
    status = worst(c.status for c in cells) if cells else Status.UNKNOWN.value
    stale = stale_count(cells)
    if stale or missing:
        status = Status(status).worse(Status.UNKNOWN).value
    return {
        "status": status,
        "targets": len(cells),
        "counts": counts(cells),
        "stale": stale,
        "missing": missing,
        "max_age_s": max(c.age_s for c in cells) if cells else None,
        "checked_at": max(c.checked_at for c in cells) if cells else None,
    }


def platform_health(
    engine: Engine,
    cache: StatusCache,
    services: Sequence[str],
    expected: Iterable[TargetKey] | None = None,
    now: datetime | None = None,
    rule: StaleRule = DEFAULT_RULE,
) -> dict[str, Any]:
    """The master status: overall, and per service its worst status, counts by status and how
    many targets are stale or have no result.

    `services` lists what should report (enabled in this deployment); one that has no result
    yet shows as unknown with nothing checked, rather than silently missing. `expected` (see
    `storage.tenants.expected_targets`), when given, decides what counts: every expected target
    (one without any result is `missing`), and a target no longer expected (a disabled tenant,
    a removed service) only while its result is fresh, so that a last result nobody refreshes
    does not hold the master status down forever. Without it, every recorded target counts.
    Stale or missing targets make a group unknown at least (see `_summary`): the master status
    is never healthy while a target that counts is not fresh.
    """
    at = now or datetime.now(UTC)
    cells = matrix_cells(engine, cache, at, rule)
    by_service: dict[str, list[Cell]] = {s: [] for s in services}
    missing: dict[str, int] = {}
    if expected is None:
        for cell in cells:
            by_service.setdefault(cell.service, []).append(cell)
    else:
        wanted = set(expected)
        for service, _tenant in wanted:
            by_service.setdefault(service, [])
        for cell in cells:
            if cell.key in wanted:
                by_service[cell.service].append(cell)
                wanted.discard(cell.key)
            elif not cell.stale:
                # recorded recently although no longer expected (a tenant just disabled):
                # still news while fresh; nobody refreshes it, so it drops out once stale
                by_service.setdefault(cell.service, []).append(cell)
        for service, _tenant in wanted:
            missing[service] = missing.get(service, 0) + 1
    rows: list[dict[str, Any]] = []
    for service, group in sorted(by_service.items()):
        rows.append(
            {"service": service, "tier": group[0].tier if group else None}
            | _summary(group, missing.get(service, 0))
        )
    every = [c for group in by_service.values() for c in group]
    overall = _summary(every, sum(missing.values()))
    return {
        "status": worst(str(r["status"]) for r in rows),
        "targets": overall["targets"],
        "counts": overall["counts"],
        "stale": overall["stale"],
        "missing": overall["missing"],
        "max_age_s": overall["max_age_s"],
        "stale_after": rule.stale_after,
        "services": rows,
        "generated_at": _iso(at),
    }


def _checked(cells: Iterable[Cell]) -> dict[TargetKey, datetime]:
    return {c.key: datetime.fromisoformat(c.checked_at) for c in cells}


def service_health(
    engine: Engine, cache: StatusCache, service: str, cells: Sequence[Cell] | None = None
) -> list[CheckResult]:
    """Latest result of every target of one service (every tenant for a per-tenant service).

    `cells`: the matrix view if the caller has it already (else it is read). A cached entry
    older than the view's result for its target is not served (see `current_status`).
    """
    view = [c for c in (matrix_cells(engine, cache) if cells is None else cells) if c.service == service]
    keys = [c.key for c in view]
    found = current_status(engine, cache, keys, not_before=_checked(view))
    return [found[k] for k in keys if k in found]


def tenant_health(
    engine: Engine,
    cache: StatusCache,
    tenant_id: str,
    services: Iterable[str],
    cells: Sequence[Cell] | None = None,
) -> list[CheckResult]:
    """Latest result of each of `services` (the tenant's integrations) for one tenant.
    `cells` as for `service_health`."""
    keys = [(s, tenant_id) for s in services]
    view = [c for c in (matrix_cells(engine, cache) if cells is None else cells) if c.tenant == tenant_id]
    found = current_status(engine, cache, keys, not_before=_checked(view))
    return [found[k] for k in keys if k in found]


def freshness(
    result: CheckResult, now: datetime, rule: StaleRule = DEFAULT_RULE
) -> tuple[float, bool]:
    """(age_s, stale) of one target's latest result, as the matrix judges its cell."""
    return rule.judge(result.checked_at, result.tier, now)


def since_of(cells: Iterable[Cell]) -> Mapping[TargetKey, str]:
    """When each target's status last changed, from the view."""
    return {c.key: c.since for c in cells}


def filter_cells(
    cells: Iterable[Cell],
    *,
    tiers: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    tenant_search: str | None = None,
    services: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> list[Cell]:
    """The matrix filters of the API and the dashboard, in one place. A tenant search matches
    part of the tenant id, or of its display name in `names` if given, case-insensitively;
    platform services have no tenant and never match."""
    needle = tenant_search.lower() if tenant_search else None
    named = names or {}
    return [
        c
        for c in cells
        if (not tiers or c.tier in tiers)
        and (not statuses or c.status in statuses)
        and (not services or c.service in services)
        and (
            needle is None
            or (
                c.tenant is not None
                and (needle in c.tenant.lower() or needle in named.get(c.tenant, "").lower())
            )
        )
    ]


@dataclass(frozen=True)
class Point:
    at: datetime
    status: str
    latency_ms: float | None


def history_points(
    engine: Engine, service: str, tenant_id: str | None, since: datetime, limit: int = 100_000
) -> list[Point]:
    """Check results of one target since `since`, oldest first (narrow: no details)."""
    table = HISTORY
    tenant_clause = table.c.tenant_id.is_(None) if tenant_id is None else table.c.tenant_id == tenant_id
    stmt = (
        select(table.c.checked_at, table.c.status, table.c.latency_ms)
        .where(and_(table.c.service == service, tenant_clause, table.c.checked_at >= since))
        .order_by(table.c.checked_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [Point(r[0], r[1], r[2]) for r in conn.execute(stmt)]


def _percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


#: chart buckets per window: about 100-300 points whatever the window
BUCKETS: dict[str, timedelta] = {
    "24h": timedelta(minutes=10),
    "7d": timedelta(hours=1),
    "30d": timedelta(hours=4),
}
WINDOWS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


def latency_series(points: Sequence[Point], bucket: timedelta) -> list[dict[str, Any]]:
    """p50 and p95 latency per time bucket (nearest rank), with the number of checks."""
    grouped: dict[datetime, list[float]] = {}
    seconds = bucket.total_seconds()
    for p in points:
        if p.latency_ms is None:
            continue
        start = datetime.fromtimestamp(p.at.timestamp() // seconds * seconds, UTC)
        grouped.setdefault(start, []).append(p.latency_ms)
    series = []
    for start in sorted(grouped):
        values = sorted(grouped[start])
        series.append(
            {
                "at": start,
                "p50": round(_percentile(values, 0.5), 1),
                "p95": round(_percentile(values, 0.95), 1),
                "checks": len(values),
            }
        )
    return series


def status_changes(points: Sequence[Point]) -> list[dict[str, Any]]:
    """Each moment the status differed from the check before it."""
    changes = []
    for before, after in pairwise(points):
        if after.status != before.status:
            changes.append({"at": after.at, "from": before.status, "to": after.status})
    return changes


# -- a per-tenant service across its tenants (service detail with no tenant picked) ------------

#: statuses that make a tenant count as failing in a bucket (`Status.worse` ranks them)
_FAILING = (Status.DEGRADED.value, Status.UNHEALTHY.value)


@dataclass(frozen=True)
class TenantsOverTime:
    """A per-tenant service across every tenant, per time bucket, oldest bucket first."""

    #: p50 and p95 of every tenant's latency in the bucket (nearest rank), with the checks counted
    latency: list[dict[str, Any]]
    #: how many tenants were degraded and unhealthy (by their worst result in the bucket), of
    #: how many checked
    statuses: list[dict[str, Any]]


def _bucket(engine: Engine, bucket_s: int) -> Any:
    """The start of a check's bucket, exact to the second (the boundaries of `latency_series`):
    a timestamp on PostgreSQL, seconds since the epoch on SQLite."""
    column = HISTORY.c.checked_at
    if engine.dialect.name == "sqlite":
        # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" in UTC: whole seconds, rounded down to the bucket
        return cast(func.strftime("%s", column), Integer) // bucket_s * bucket_s
    # literal (an int of ours), not bound: GROUP BY must see the very expression selected
    return func.date_bin(
        literal_column(f"interval '{bucket_s} seconds'"), column, literal_column("timestamptz 'epoch'")
    )


def _at(start: Any) -> datetime:
    if isinstance(start, datetime):
        return start.astimezone(UTC)
    return datetime.fromtimestamp(int(start), UTC)


def tenants_over_time(engine: Engine, service: str, since: datetime, bucket: timedelta) -> TenantsOverTime:
    """Latency percentiles and the number of failing tenants per bucket, grouped in SQL: on
    PostgreSQL one pass over the rows, so a week of 1,000 tenants stays in the database
    (~0.8 s, benchmarks/service_overview.py)."""
    h = HISTORY.c
    start = _bucket(engine, int(bucket.total_seconds())).label("bucket")
    where = and_(h.service == service, h.tenant_id.is_not(None), h.checked_at >= since)
    # a tenant is unhealthy in a bucket if any of its results there is, degraded if one is
    # degraded and none unhealthy: worse-or-equal counts, subtracted
    columns = [
        start,
        func.count(func.distinct(case((h.status.in_(_FAILING), h.tenant_id)))),
        func.count(func.distinct(case((h.status == Status.UNHEALTHY.value, h.tenant_id)))),
        func.count(func.distinct(h.tenant_id)),
    ]
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        # percentile_disc is the nearest rank, as `_percentile` computes it
        columns += [
            func.percentile_disc(0.5).within_group(h.latency_ms),
            func.percentile_disc(0.95).within_group(h.latency_ms),
            func.count(h.latency_ms),
        ]
    statuses: list[dict[str, Any]] = []
    latency: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for row in conn.execute(select(*columns).where(where).group_by(start).order_by(start)):
            at, failing, unhealthy, tenants = _at(row[0]), int(row[1]), int(row[2]), int(row[3])
            statuses.append(
                {"at": at, "degraded": failing - unhealthy, "unhealthy": unhealthy, "tenants": tenants}
            )
            if postgres and row[6]:
                latency.append({"at": at, "p50": round(row[4], 1), "p95": round(row[5], 1), "checks": row[6]})
        if not postgres:
            # SQLite (the demo's store) has no percentile: the bucketed values, sorted in SQL
            grouped: dict[datetime, list[float]] = {}
            for b, value in conn.execute(
                select(start, h.latency_ms)
                .where(where, h.latency_ms.is_not(None))
                .order_by(start, h.latency_ms)
            ):
                grouped.setdefault(_at(b), []).append(value)
            latency = [
                {
                    "at": at,
                    "p50": round(_percentile(values, 0.5), 1),
                    "p95": round(_percentile(values, 0.95), 1),
                    "checks": len(values),
                }
                for at, values in grouped.items()
            ]
    return TenantsOverTime(latency, statuses)
