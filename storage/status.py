"""The latest status of every target: the one owner of `service_status` and its cache entries.

Every read and write of the table goes through here: the row type (`LatestStatus`), the bulk
upsert that storage.results runs inside its history transaction, the planner's and the
watchdog's freshness questions, and current status for the faces (the cache first, checked
against the view, then the table). "No tenant" is None everywhere above storage; the table
spells it '' (`storage.types.PLATFORM`) so that it can be part of the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Engine, and_, case, literal, or_, select, tuple_

from healthmon.monitors.result import CheckResult, Status, TargetKey, Tier
from healthmon.storage.cache import StatusCache, cache_key
from healthmon.storage.db import MAX_CLOCK_SKEW_S, store_now
from healthmon.storage.tables import SERVICE_STATUS, TIER_RUNS
from healthmon.storage.tier_runs import SCHEDULE
from healthmon.storage.types import UtcDateTime, tenant_from_key, tenant_key


def cache_entries(results: Sequence[CheckResult]) -> dict[str, dict[str, object]]:
    return {cache_key(r.service, r.tenant_id): r.to_json() for r in results}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def current_status(
    engine: Engine,
    cache: StatusCache,
    keys: Sequence[TargetKey],
    not_before: Mapping[TargetKey, datetime] | None = None,
) -> dict[TargetKey, CheckResult]:
    """Latest result per key; keys found in neither place are absent from the answer.

    `not_before`: per key, the checked_at of a result known to be recorded (the matrix view,
    built from service_status and at most MATRIX_TTL_S old). A cached entry older than that is
    left over from a cache write that failed (Redis stalled while the writer stored a newer
    result; its TTL would serve it for minutes), so that key is read from service_status.
    """
    found: dict[TargetKey, CheckResult] = {}
    cached = cache.get_many(cache_key(s, t) for s, t in keys)
    floor = not_before or {}
    missing = []
    for service, tenant in keys:
        entry = cached.get(cache_key(service, tenant))
        result = CheckResult.from_json(entry) if entry is not None else None
        known = floor.get((service, tenant))
        if result is None or (known is not None and _utc(result.checked_at) < _utc(known)):
            missing.append((service, tenant))
        else:
            found[(service, tenant)] = result
    if missing:
        with engine.connect() as conn:
            # bounded IN lists: 10,000 pairs in one exceed PostgreSQL's max_stack_depth
            for start in range(0, len(missing), _KEYS_PER_READ):
                chunk = missing[start : start + _KEYS_PER_READ]
                rows = conn.execute(select(SERVICE_STATUS).where(keys_filter(chunk))).mappings().all()
                for row in rows:
                    latest = latest_from_row(row)
                    found[(latest.service, latest.tenant_id)] = latest.to_result()
    return found


#: (service, tenant) pairs per read of service_status
_KEYS_PER_READ = 500


@dataclass(frozen=True)
class LatestStatus:
    service: str
    tenant_id: str | None
    tier: Tier
    status: Status
    latency_ms: float | None
    details: dict[str, Any]
    checked_at: datetime
    since: datetime
    consecutive: int = 1
    flips: int = 0
    #: the status before the last change, and the run that wrote this row
    previous_status: str | None = None
    run_id: str | None = None

    @property
    def changed_in(self) -> str | None:
        """The run in which the status changed, if the last write changed it (a first check,
        with nothing before it, is no change)."""
        return self.run_id if self.previous_status and self.since == self.checked_at else None

    def to_result(self) -> CheckResult:
        return CheckResult(
            self.service,
            self.tenant_id,
            self.tier,
            self.status,
            self.latency_ms,
            self.details,
            self.checked_at,
        )


def latest_from_row(row: Mapping[Any, Any]) -> LatestStatus:
    """A service_status row (as a mapping of its columns) as the one status type."""
    return LatestStatus(
        service=row["service"],
        tenant_id=tenant_from_key(row["tenant_id"]),
        tier=Tier(row["tier"]),
        status=Status(row["status"]),
        latency_ms=row["latency_ms"],
        details=dict(row["details"] or {}),
        checked_at=row["checked_at"],
        since=row["since"],
        consecutive=row["consecutive"],
        flips=row["flips"],
        previous_status=row["previous_status"],
        run_id=row["run_id"],
    )


#: the columns of service_status but details, in `_light_latest`'s order
LIGHT_COLUMNS = (
    *("service", "tenant_id", "tier", "status", "latency_ms", "checked_at", "since"),
    *("previous_status", "run_id", "consecutive", "flips", "flips_since"),
)
_TIERS = {t.value: t for t in Tier}
_STATUSES = {s.value: s for s in Status}


def _light_latest(
    service: str,
    tenant: str,
    tier: str,
    status: str,
    latency_ms: float | None,
    checked_at: datetime,
    since: datetime,
    previous_status: str | None,
    run_id: str | None,
    consecutive: int,
    flips: int,
    flips_since: datetime | None,
) -> LatestStatus:
    """A service_status row read without its details (LIGHT_COLUMNS)."""
    return LatestStatus(
        service,
        tenant_from_key(tenant),
        _TIERS[tier],
        _STATUSES[status],
        latency_ms,
        {},
        checked_at,
        since,
        consecutive,
        flips,
        previous_status,
        run_id,
    )


def load_tier(
    engine: Engine, tier: str, wants_details: Callable[[LatestStatus], bool] | None = None
) -> list[LatestStatus]:
    """Every latest status of one tier, in service and tenant order: the tier's current state,
    whichever run found it. With `wants_details`, the details (a JSON decode per row) are read
    only for the rows it names, judged on the row without them: after a run, the alert and
    report steps need them only for targets that are not healthy, alerted or changed."""
    table = SERVICE_STATUS
    order = (table.c.service, table.c.tenant_id)
    with engine.connect() as conn:
        if wants_details is None:
            stmt = select(table).where(table.c.tier == tier).order_by(*order)
            return [latest_from_row(row) for row in conn.execute(stmt).mappings()]
        # plain rows, not mappings copied per row: a tier has a row per tenant (10,000s)
        light = [table.c[name] for name in LIGHT_COLUMNS]
        stmt = select(*light).where(table.c.tier == tier).order_by(*order)
        # all() fetches in one call; iterating the result fetches row by row
        rows = [_light_latest(*r) for r in conn.execute(stmt).tuples().all()]
        wanted = [(r.service, tenant_key(r.tenant_id)) for r in rows if wants_details(r)]
        details: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):  # bounded IN lists
            query = select(table.c.service, table.c.tenant_id, table.c.details).where(
                tuple_(table.c.service, table.c.tenant_id).in_(wanted[start : start + 500])
            )
            details.update({(d.service, d.tenant_id): dict(d.details or {}) for d in conn.execute(query)})
    return [
        replace(r, details=details[key]) if (key := (r.service, tenant_key(r.tenant_id))) in details else r
        for r in rows
    ]


def load_latest(
    engine: Engine, services: Iterable[str] | None = None, tenants: Iterable[str | None] | None = None
) -> dict[TargetKey, LatestStatus]:
    table = SERVICE_STATUS
    stmt = select(table)
    if services is not None:
        stmt = stmt.where(table.c.service.in_(list(services)))
    if tenants is not None:
        stmt = stmt.where(table.c.tenant_id.in_([tenant_key(t) for t in tenants]))
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    found = {}
    for row in rows:
        latest = latest_from_row(row)
        found[(latest.service, latest.tenant_id)] = latest
    return found


def status_row(
    key: tuple[str, str], result: CheckResult, details: str, checked_at: Any, run_id: str | None
) -> tuple[Any, ...]:
    """A row in STATUS_COLUMNS order; since, consecutive and flips are a first insert's values."""
    service, tenant = key
    return (
        service,
        tenant,
        result.tier.value,
        result.status.value,
        result.latency_ms,
        details,
        checked_at,
        checked_at,
        None,
        run_id,
        1,
        0,
        None,
    )


STATUS_COLUMNS = (
    "service",
    "tenant_id",
    "tier",
    "status",
    "latency_ms",
    "details",
    "checked_at",
    "since",
    "previous_status",
    "run_id",
    "consecutive",
    "flips",
    "flips_since",
)


def upsert_latest(insert: Any, table: Any, flap_cutoff: datetime | Any, future: datetime | Any) -> Any:
    """The latest-status upsert: streaks and flips move in SQL, a late writer changes nothing.

    A row whose checked_at is after `future` (the store's clock plus the allowed skew) was
    written by a clock that ran ahead: the next result replaces it whatever its own time, and
    `since` and `flips_since` are never left after the new checked_at.
    """
    # a datetime is bound as a literal; a BindParameter (a statement built once and run with
    # the times as parameters, storage.results) is used as it is
    cutoff_at = flap_cutoff if isinstance(flap_cutoff, BindParameter) else literal(flap_cutoff, UtcDateTime())
    future_at = future if isinstance(future, BindParameter) else literal(future, UtcDateTime())
    excluded = insert.excluded
    changed = table.c.status != excluded.status
    expired = or_(
        table.c.flips_since.is_(None),
        table.c.flips_since < cutoff_at,
        # a window that starts in the future would never expire
        table.c.flips_since > excluded.checked_at,
    )
    return insert.on_conflict_do_update(
        index_elements=[table.c.service, table.c.tenant_id],
        set_={
            "tier": excluded.tier,
            "status": excluded.status,
            "latency_ms": excluded.latency_ms,
            "details": excluded.details,
            "checked_at": excluded.checked_at,
            "run_id": excluded.run_id,
            "since": case(
                (changed, excluded.checked_at),
                (table.c.since > excluded.checked_at, excluded.checked_at),
                else_=table.c.since,
            ),
            "previous_status": case((changed, table.c.status), else_=table.c.previous_status),
            "consecutive": case((changed, 1), else_=table.c.consecutive + 1),
            "flips": case(
                (and_(changed, expired), 1), (changed, table.c.flips + 1), (expired, 0), else_=table.c.flips
            ),
            "flips_since": case(
                (and_(changed, expired), excluded.checked_at), (expired, None), else_=table.c.flips_since
            ),
        },
        # a late writer must not overwrite a newer result, unless that one is from the future
        where=or_(
            table.c.checked_at <= excluded.checked_at,
            table.c.checked_at > future_at,
        ),
    )


def keys_filter(keys: Iterable[TargetKey]) -> Any:
    """A WHERE clause matching (service, tenant) pairs in service_status."""
    table = SERVICE_STATUS
    return tuple_(table.c.service, table.c.tenant_id).in_([(s, tenant_key(t)) for s, t in keys])


def checked_since(engine: Engine, service: str, cutoff: datetime) -> set[str | None]:
    """Tenants (None for the platform) of a service whose latest result is not older than cutoff.
    Reads two columns only: the planner asks this for every target of a tier.

    A latest result from the future (beyond MAX_CLOCK_SKEW_S of the store's clock) is not
    "recently checked": skipping it would keep the target from the check that repairs it."""
    table = SERVICE_STATUS
    with engine.connect() as conn:
        future = store_now(conn) + timedelta(seconds=MAX_CLOCK_SKEW_S)
        stmt = select(table.c.tenant_id).where(
            table.c.service == service,
            table.c.checked_at >= cutoff,
            table.c.checked_at <= literal(future, UtcDateTime()),
        )
        return {tenant_from_key(key) for key in conn.execute(stmt).scalars()}


def checked_by_schedule_since(
    engine: Engine, service: str, tier: str, cutoff: datetime, run_length_s: float
) -> set[str | None]:
    """Tenants (None for the platform) of a service whose latest result is not older than
    `cutoff` and came from a scheduled run of the tier. Only these may be skipped as already
    checked: a manual run's result never pushes the next scheduled check later.
    `run_length_s` bounds how long before its results a run can have started."""
    runs = TIER_RUNS
    status = SERVICE_STATUS
    scheduled = select(runs.c.id).where(
        runs.c.tier == tier,
        runs.c.trigger == SCHEDULE,
        runs.c.started_at >= cutoff - timedelta(seconds=run_length_s),
    )
    with engine.connect() as conn:
        # a row from the future (written before results were held to the store's clock) is no
        # proof of a recent check: it is checked, and its next result repairs it
        future = store_now(conn) + timedelta(seconds=MAX_CLOCK_SKEW_S)
        stmt = select(status.c.tenant_id).where(
            status.c.service == service,
            status.c.checked_at >= cutoff,
            status.c.checked_at <= future,
            status.c.run_id.in_(scheduled),
        )
        return {tenant_from_key(key) for key in conn.execute(stmt).scalars()}


#: the view's rows on PostgreSQL with the times written by the server, as `_iso` writes them
#: (`datetime.isoformat` in UTC: no fraction when it is zero): converting 80,000 timestamps to
#: datetimes and back to text in Python was most of the ~370 ms of CPU a rebuild of the view
#: took at 10,000 tenants x 4 integrations
_PG_ISO = (
    "regexp_replace(to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), "
    "'\\.000000$', '') || '+00:00'"
)
_PG_VIEW_ROWS = (
    "SELECT service, NULLIF(tenant_id, ''), tier, status, latency_ms, "
    f"{_PG_ISO.format('checked_at')}, {_PG_ISO.format('since')}, details ->> 'reason' "
    "FROM service_status ORDER BY service, tenant_id"
)


def view_rows(engine: Engine) -> list[list[Any]]:
    """Every latest status, narrow (no details but the reason), for the matrix view: the rows
    of storage.queries.VIEW_FIELDS, in service and tenant order."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            found = conn.exec_driver_sql(_PG_VIEW_ROWS).all()
        return [
            [r[0], r[1], r[2], r[3], None if r[4] is None else round(r[4], 1), r[5], r[6], r[7]]
            for r in found
        ]
    table = SERVICE_STATUS
    stmt = select(
        table.c.service,
        table.c.tenant_id,
        table.c.tier,
        table.c.status,
        table.c.latency_ms,
        table.c.checked_at,
        table.c.since,
        table.c.details["reason"].as_string(),
    ).order_by(table.c.service, table.c.tenant_id)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        [
            r[0],
            tenant_from_key(r[1]),
            r[2],
            r[3],
            None if r[4] is None else round(r[4], 1),
            _iso(r[5]),
            _iso(r[6]),
            r[7],
        ]
        for r in rows
    ]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def older_than(engine: Engine, tier: str, cutoff: datetime) -> dict[TargetKey, datetime]:
    """(service, tenant) -> checked_at of every latest result of the tier checked before cutoff."""
    table = SERVICE_STATUS
    stmt = select(table.c.service, table.c.tenant_id, table.c.checked_at).where(
        table.c.tier == tier, table.c.checked_at < cutoff
    )
    with engine.connect() as conn:
        return {(service, tenant_from_key(key)): at for service, key, at in conn.execute(stmt)}
