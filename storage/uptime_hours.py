"""The hourly uptime rollup: up and observed seconds per target and complete hour, so that a
tally over days reads a few rows per target and hour instead of every result.

An hour is complete when its end plus the largest cap (`stale_after` x the longest tier
interval x `interval_scale`) is at or before `now`: a result checked later can no longer reach
into it, so its figure never changes and is computed once. The figures are those of
`storage.uptime.segments`, the one definition of a result's time, split at the hour; silences
are not subtracted (they can be added and ended at any time), so `tally` reads an hour a
silence touches from history.

`uptime_rollups` says which hours of a service are rolled up and with which caps; a tally
asking with other caps (another `watchdog.stale_after`, or the demo's alert step at its
`interval_scale` beside the faces at 1.0) does not use those hours and reads them from history;
nothing is rebuilt, so two callers with different caps never undo each other's work. Rows are
written with their markers in one transaction per chunk of hours, `ON CONFLICT DO NOTHING`;
on PostgreSQL one process at a time rolls up a service (a transaction-level advisory lock),
the others either wait for it (`roll_up`) or read history meanwhile (a tally).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import KeyedColumnElement

from healthmon.storage.db import is_postgres
from healthmon.storage.tables import HISTORY, UPTIME_HOURS, UPTIME_ROLLUPS
from healthmon.storage.types import PLATFORM, UtcDateTime, tenant_from_key, tenant_key
from healthmon.storage.uptime import (
    HOUR_S,
    Span,
    Tally,
    caps_s,
    ceil_hour,
    floor_hour,
    overlap,
    segments,
    without_jit,
)

HOUR = timedelta(seconds=HOUR_S)
#: hours rolled up per statement: a day of 1,000 tenants is ~100,000 results in, 24,000 rows out
CHUNK_HOURS = 24
#: a tally rolls up at most this share of the hours it covers, and at most CHUNK_HOURS: rolling
#: an hour up costs about twice reading it from history (docs/performance.md), so a first call
#: costs at most ~1/8 more than reading everything from history; later calls roll up the rest
CALL_BUDGET_SHARE = 8


def complete_until(now: datetime, stale_after: float, interval_scale: float = 1.0) -> datetime:
    """Every hour ending at or before this is complete at `now`."""
    largest = max(caps_s(stale_after, interval_scale).values())
    return floor_hour(now - timedelta(seconds=largest))


def _hours(start: datetime, end: datetime) -> list[datetime]:
    """The hour starts from `start` (an hour) up to `end`, exclusive."""
    return [start + i * HOUR for i in range(max(0, math.ceil((end - start) / HOUR)))]


def _markers(
    conn: Connection, service: str, start: datetime, end: datetime
) -> dict[datetime, tuple[float, float]]:
    """The rolled-up hours of `service` in [start, end) and the caps (stale_after,
    interval_scale) each was computed with."""
    m = UPTIME_ROLLUPS.c
    stmt = select(m.hour, m.stale_after, m.interval_scale).where(
        m.service == service, m.hour >= start, m.hour < end
    )
    return {row.hour: (row.stale_after, row.interval_scale) for row in conn.execute(stmt)}


def _same_caps(found: tuple[float, float], stale_after: float, interval_scale: float) -> bool:
    return math.isclose(found[0], stale_after) and math.isclose(found[1], interval_scale)


def _insert(engine: Engine, table: Any) -> Any:
    return pg_insert(table) if is_postgres(engine) else sqlite_insert(table)


def _oldest(engine: Engine, service: str) -> datetime | None:
    with engine.connect() as conn:
        oldest: datetime | None = conn.execute(
            select(func.min(HISTORY.c.checked_at)).where(HISTORY.c.service == service)
        ).scalar_one()
    return oldest


def _chunks(hours: Sequence[datetime]) -> list[list[datetime]]:
    """Runs of consecutive hours, at most CHUNK_HOURS each, in the order given (newest first)."""
    chunks: list[list[datetime]] = []
    for hour in hours:
        last = chunks[-1] if chunks else None
        if last is not None and len(last) < CHUNK_HOURS and abs(last[-1] - hour) == HOUR:
            last.append(hour)
        else:
            chunks.append([hour])
    return [sorted(chunk) for chunk in chunks]


def _rows_of(
    engine: Engine, service: str, hours: Sequence[datetime], now: datetime, caps: Mapping[str, float]
) -> Any:
    """INSERT ... SELECT of these hours' rows: each segment's seconds in each hour it touches;
    a target with a counted result in an hour has a row there even with 0 s, as `tally` counts
    such a target."""
    largest = max(caps.values())
    segs = segments(engine, service, now, caps, [(hours[0] - timedelta(seconds=largest), hours[-1] + HOUR)])
    seg = segs.c
    slots = union_all(
        *(
            select(
                literal(hour, UtcDateTime).label("hour"),
                literal(int(hour.timestamp()) // HOUR_S, Integer).label("k"),
                literal(hour.timestamp(), Float).label("s"),
                literal(hour.timestamp() + HOUR_S, Float).label("e"),
            )
            for hour in hours
        )
    ).cte("hours")
    slot = slots.c
    # a segment starts in its hour and reaches at most `reach` hours further (b <= a + cap): an
    # equi-join on the hour's number instead of comparing every segment with every hour
    reach = math.ceil(largest / HOUR_S)
    offsets = union_all(*(select(literal(i, Integer).label("i")) for i in range(reach + 1))).cte("offsets")
    off = offsets.c
    # PostgreSQL's cast rounds, SQLite's truncates (epochs are positive: the floor)
    hour_of = seg.a / HOUR_S
    first_hour = cast(func.floor(hour_of) if is_postgres(engine) else hour_of, Integer)
    seconds = overlap(engine, seg.a, seg.b, slot.s, slot.e)
    rows = (
        select(
            literal(service, String).label("service"),
            func.coalesce(seg.tenant_id, PLATFORM).label("tenant_id"),
            slot.hour,
            func.sum(seconds * seg.up).label("up_s"),
            func.sum(seconds).label("seen_s"),
        )
        .select_from(segs.join(offsets, true()).join(slots, slot.k == first_hour + off.i))
        .where(seg.up.is_not(None), or_(off.i == 0, seg.b > slot.s))
        .group_by(seg.tenant_id, slot.hour)
    )
    columns = ["service", "tenant_id", "hour", "up_s", "seen_s"]
    return _insert(engine, UPTIME_HOURS).from_select(columns, rows).on_conflict_do_nothing()


def _lock(conn: Connection, service: str, wait: bool) -> bool:
    """PostgreSQL: one roller per service (released with the transaction); False when another
    holds it and `wait` is not set. SQLite has one writer at a time anyway."""
    if conn.dialect.name != "postgresql":
        return True
    key = func.hashtext(f"healthmon.uptime_hours:{service}")
    if wait:
        conn.execute(select(func.pg_advisory_xact_lock(key)))
        return True
    return bool(conn.execute(select(func.pg_try_advisory_xact_lock(key))).scalar_one())


def _roll_chunk(
    engine: Engine,
    service: str,
    hours: Sequence[datetime],
    now: datetime,
    stale_after: float,
    interval_scale: float,
    wait: bool,
) -> int | None:
    """Rolls up what of `hours` (consecutive) is not rolled up yet, rows and markers in one
    transaction: the hours done, None when another process is rolling this service up."""
    with engine.begin() as conn:
        if not _lock(conn, service, wait):
            return None
        without_jit(conn)
        if conn.dialect.name == "postgresql":
            # a rollup lost in a crash is computed again, so its commit need not wait for the disk
            conn.execute(text("SET LOCAL synchronous_commit = off"))
        # another process may have rolled some of them since they were found missing
        done = _markers(conn, service, hours[0], hours[-1] + HOUR)
        todo = [hour for hour in hours if hour not in done]
        if not todo:
            return 0
        conn.execute(_rows_of(engine, service, todo, now, caps_s(stale_after, interval_scale)))
        stamp = datetime.now(UTC)
        markers = [
            {
                "service": service,
                "hour": hour,
                "stale_after": stale_after,
                "interval_scale": interval_scale,
                "rolled_at": stamp,
            }
            for hour in todo
        ]
        # counted as inserted: on SQLite two rollers can both find an hour missing (their rows
        # are the same, DO NOTHING keeps one), only one of them inserts its marker
        insert = _insert(engine, UPTIME_ROLLUPS).values(markers).on_conflict_do_nothing()
        return len(conn.execute(insert.returning(UPTIME_ROLLUPS.c.hour)).all())


def roll_up(
    engine: Engine,
    services: str | Iterable[str],
    now: datetime,
    stale_after: float,
    interval_scale: float = 1.0,
    since: datetime | None = None,
    max_hours: int | None = None,
    wait: bool = True,
) -> int:
    """Rolls up every complete hour of each service from `since` (default: its oldest result)
    that is not rolled up yet, newest first, at most `max_hours` per service; with `wait` unset
    it stops at a service another process is rolling up. Hours rolled up before, with any caps,
    are left as they are. Returns the hours rolled up."""
    done = 0
    for service in [services] if isinstance(services, str) else services:
        start = since if since is not None else _oldest(engine, service)
        end = complete_until(now, stale_after, interval_scale)
        if start is None or floor_hour(start) >= end:
            continue
        with engine.connect() as conn:
            rolled = _markers(conn, service, floor_hour(start), end)
        missing = [hour for hour in reversed(_hours(floor_hour(start), end)) if hour not in rolled]
        for chunk in _chunks(missing[:max_hours] if max_hours is not None else missing):
            count = _roll_chunk(engine, service, chunk, now, stale_after, interval_scale, wait)
            if count is None:
                break
            done += count
    return done


@dataclass(frozen=True)
class Rolled:
    """A service's rolled-up hours in a range: those rolled up with the caller's caps, and
    those rolled up with other caps (their rows exist but must not be counted)."""

    usable: frozenset[datetime]
    other_caps: frozenset[datetime]


def rolled_hours(
    engine: Engine,
    service: str,
    start: datetime,
    now: datetime,
    stale_after: float,
    interval_scale: float = 1.0,
    budget_hours: int | None = None,
) -> Rolled:
    """The whole hours from `start` that are complete at `now` and rolled up, after rolling up
    at most `budget_hours` of those missing with these caps (default: CALL_BUDGET_SHARE of the
    hours from `start` to `now`, at most CHUNK_HOURS), newest first, without waiting for another
    process that is rolling this service up."""
    first, end = ceil_hour(start), complete_until(now, stale_after, interval_scale)
    if first >= end:
        return Rolled(frozenset(), frozenset())
    if budget_hours is None:
        covered = (now - start).total_seconds() / HOUR_S
        budget_hours = min(CHUNK_HOURS, max(1, int(covered // CALL_BUDGET_SHARE)))
    roll_up(
        engine, service, now, stale_after, interval_scale, since=first, max_hours=budget_hours, wait=False
    )
    with engine.connect() as conn:
        markers = _markers(conn, service, first, end)
    usable = {hour for hour, caps in markers.items() if _same_caps(caps, stale_after, interval_scale)}
    return Rolled(frozenset(usable), frozenset(markers.keys() - usable))


def rolled_tallies(
    engine: Engine,
    service: str,
    hulls: Mapping[str, Span],
    present: Span,
    excluded: Iterable[datetime],
    tenant_ids: Sequence[str | None] | None = None,
) -> dict[str | None, dict[str, Tally]]:
    """Up and observed seconds per tenant of the rolled-up hours in each span's hull (whole
    hours) except the `excluded` hours, for every tenant with a row in `present` (which holds
    every hull). One statement; silences are not subtracted (the caller excludes silenced
    hours and reads them from history)."""
    u = UPTIME_HOURS.c
    columns: list[KeyedColumnElement[Any]] = []
    names = list(hulls)
    for i, name in enumerate(names):
        lo, hi = hulls[name]
        inside = and_(u.hour >= lo, u.hour < hi)
        columns.append(func.sum(case((inside, u.up_s), else_=0.0)).label(f"up_{i}"))
        columns.append(func.sum(case((inside, u.seen_s), else_=0.0)).label(f"seen_{i}"))
    where = [u.service == service, u.hour >= present[0], u.hour < present[1]]
    skipped = sorted(hour for hour in excluded if present[0] <= hour < present[1])
    if skipped:
        where.append(u.hour.not_in(skipped))
    if tenant_ids is not None:
        where.append(u.tenant_id.in_([tenant_key(t) for t in tenant_ids]))
    stmt = select(u.tenant_id, *columns).where(*where).group_by(u.tenant_id)
    found: dict[str | None, dict[str, Tally]] = {}
    with engine.connect() as conn:
        without_jit(conn)
        for row in conn.execute(stmt):
            per: dict[str, Tally] = {}
            for i, name in enumerate(names):
                up_s, seen_s = float(row[1 + 2 * i] or 0.0), float(row[2 + 2 * i] or 0.0)
                per[name] = Tally(up_s, seen_s - up_s)
            found[tenant_from_key(row.tenant_id)] = per
    return found
