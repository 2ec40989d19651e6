"""Uptime from `health_check_history`, time-weighted, in one SQL statement per service.

A result counts from its `checked_at` until the next result of its target, and at most
`stale_after` x its tier's interval: beyond that nobody looked, so the time is "no data"
(as the faces call such a result stale). Silenced time is no data too, and so is a result
that could not decide (`unknown`): neither up nor down. Which status is "up" is decided once,
by `counts_as_up`; docs/operations.md says why degraded is up.

The caller names the spans it wants (e.g. the last 24 h, 7 d and 30 d, or each burn-rate
window) and gets up and down seconds per target and span; the store does the arithmetic, so
30 days of 1,000 tenants never leave the database (docs/performance.md has the figure).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    Connection,
    Engine,
    Float,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.sql.elements import KeyedColumnElement

from healthmon.monitors.result import TIERS, Status, TargetKey
from healthmon.storage.alerts import SilenceRecord
from healthmon.storage.tables import HISTORY, SILENCES

#: a named time range, [start, end)
Span = tuple[datetime, datetime]
#: a silenced period of one service: (tenant id, or None for every target of the service, start, end)
SilencedTime = tuple[str | None, datetime, datetime]
#: the silence group of a target no tenant-specific silence names
_EVERY = "*"


def counts_as_up(status: Status) -> bool | None:
    """The one definition of "up": True (good time), False (bad time) or None (no data).

    An SLO counts good events: a degraded target still answers (slower, or with a warning such
    as a token about to expire), so it is up; unhealthy is down; unknown means the check could
    not decide, which says nothing about the service, so it is no data."""
    if status is Status.UNKNOWN:
        return None
    return status is not Status.UNHEALTHY


@dataclass(frozen=True)
class Tally:
    """Up and down seconds of one span; what is neither is no data."""

    up_s: float = 0.0
    down_s: float = 0.0

    @property
    def observed_s(self) -> float:
        return self.up_s + self.down_s

    @property
    def uptime(self) -> float | None:
        """Share of observed time that was up (0..1), None without any observed time."""
        return self.up_s / self.observed_s if self.observed_s > 0 else None

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.up_s + other.up_s, self.down_s + other.down_s)


def merge_spans(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching periods as one: the SQL subtracts each period once."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def silence_groups(silenced: Iterable[SilencedTime]) -> dict[str, list[tuple[datetime, datetime]]]:
    """Silenced periods per group: each tenant a silence names gets the periods of every
    service-wide silence and its own, merged; every other target gets the service-wide ones."""
    every: list[tuple[datetime, datetime]] = []
    own: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for tenant, start, end in silenced:
        (own[tenant] if tenant is not None else every).append((start, end))
    groups = {tenant: merge_spans([*every, *periods]) for tenant, periods in own.items()}
    groups[_EVERY] = merge_spans(every)
    return {group: periods for group, periods in groups.items() if periods}


def _epoch(engine: Engine, column: ColumnElement[datetime]) -> ColumnElement[float]:
    if engine.dialect.name == "sqlite":
        # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" (UTC); julianday's double is off by ~20 us,
        # whole seconds plus the milliseconds of %f are exact
        def part(code: str) -> ColumnElement[float]:
            return cast(func.strftime(code, column), Float)

        return part("%s") + part("%f") - part("%S")
    # date_part is double precision; EXTRACT's numeric costs ~1 s per 3 M rows more
    return cast(func.date_part("epoch", column), Float)


def _least(engine: Engine, *args: ColumnElement[float]) -> ColumnElement[float]:
    return func.min(*args) if engine.dialect.name == "sqlite" else func.least(*args)


def _greatest(engine: Engine, *args: ColumnElement[float]) -> ColumnElement[float]:
    return func.max(*args) if engine.dialect.name == "sqlite" else func.greatest(*args)


def _ts(at: datetime) -> float:
    return at.timestamp()


HOUR_S = 3600


def floor_hour(at: datetime) -> datetime:
    return datetime.fromtimestamp(math.floor(_ts(at) / HOUR_S) * HOUR_S, UTC)


def ceil_hour(at: datetime) -> datetime:
    return datetime.fromtimestamp(math.ceil(_ts(at) / HOUR_S) * HOUR_S, UTC)


def caps_s(stale_after: float, interval_scale: float = 1.0) -> dict[str, float]:
    """How long a result counts at most, per tier name: `stale_after` of its tier's intervals."""
    return {tier.value: spec.stale_after_s(stale_after, interval_scale) for tier, spec in TIERS.items()}


def segments(
    engine: Engine,
    service: str,
    now: datetime,
    caps: Mapping[str, float],
    scan: Sequence[Span],
    tenant_ids: Sequence[str | None] | None = None,
) -> CTE:
    """The one definition of the time a result counts: every result of `service` checked within
    one of the closed ranges `scan` and not after `now`, as (tenant_id, up: 1, 0 or NULL for no
    data, a, b: epoch seconds), b the next scanned result of its target, capped at its tier's
    cap and at `now`. Time is right from a range's start plus the largest cap on (a result
    before that can reach into it), so a caller scans that margin before what it counts; a next
    result beyond the range only matters where the cap ends the time anyway."""
    h = HISTORY.c
    at = _epoch(engine, h.checked_at)
    cap = case(dict(caps), value=h.tier, else_=max(caps.values()))
    flags = {s: counts_as_up(s) for s in Status}
    up = case(
        *((h.status == s.value, literal(float(f))) for s, f in flags.items() if f is not None), else_=None
    )
    now_s = literal(_ts(now), Float)
    where = [
        h.service == service,
        h.checked_at <= now,
        or_(*(and_(h.checked_at >= lo, h.checked_at <= hi) for lo, hi in scan)),
    ]
    if tenant_ids is not None:
        wanted = [t for t in tenant_ids if t is not None]
        where.append(
            or_(h.tenant_id.in_(wanted), h.tenant_id.is_(None))
            if None in tenant_ids
            else h.tenant_id.in_(wanted)
        )
    # each result's epoch and cap once per row (PostgreSQL does not share repeated expressions)
    rows = (
        select(h.tenant_id, h.checked_at, up.label("up"), at.label("a"), cap.label("cap"))
        .where(*where)
        .subquery("results")
    )
    r = rows.c
    following = _epoch(engine, func.lead(r.checked_at).over(partition_by=r.tenant_id, order_by=r.checked_at))
    return select(
        r.tenant_id.label("tenant_id"),
        r.up.label("up"),
        r.a.label("a"),
        _least(engine, func.coalesce(following, now_s), r.a + r.cap, now_s).label("b"),
    ).cte("segments")


def overlap(
    engine: Engine,
    start: ColumnElement[float],
    end: ColumnElement[float],
    lo: ColumnElement[float],
    hi: ColumnElement[float],
) -> ColumnElement[float]:
    """Seconds of [start, end) inside [lo, hi), never negative."""
    return _greatest(
        engine, _least(engine, end, hi) - _greatest(engine, start, lo), literal(0.0, Float)
    )


def without_jit(conn: Connection) -> None:
    """PostgreSQL: no JIT compilation for this transaction. The statements here read a few hours
    of history or one row per target and hour; compiling them cost 0.2-0.7 s more than it saved
    at 1,000 tenants (docs/performance.md)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL jit = off"))


def _closed_union(ranges: Iterable[Span]) -> list[Span]:
    """Closed ranges merged where they meet (a zero-length one, e.g. [now, now], kept)."""
    merged: list[Span] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _from_history(
    engine: Engine,
    service: str,
    spans: Mapping[str, Span],
    now: datetime,
    caps: Mapping[str, float],
    groups: Mapping[str, Sequence[tuple[datetime, datetime]]],
    tenant_ids: Sequence[str | None] | None,
    scan: Sequence[Span],
) -> dict[str | None, dict[str, Tally]]:
    """Up and observed seconds per tenant and span from the history rows within `scan`, silenced
    time subtracted: one statement. A tenant with a counted result in `scan` appears even
    without time in any span. Not clamped: a silenced share may come out at -1e-9 s."""
    names = list(spans)
    segs = segments(engine, service, now, caps, scan, tenant_ids)
    seg = segs.c

    def sums(
        start: ColumnElement[float], end: ColumnElement[float], sign: float
    ) -> list[KeyedColumnElement[float]]:
        columns: list[KeyedColumnElement[float]] = []
        for i, name in enumerate(names):
            lo, hi = (literal(_ts(at), Float) for at in spans[name])
            # up is 1 or 0: observed seconds and up seconds, down is their difference
            seconds = overlap(engine, start, end, lo, hi) * sign
            columns.append(func.sum(seconds * seg.up).label(f"up_{i}"))
            columns.append(func.sum(seconds).label(f"seen_{i}"))
        return columns

    counted = (
        select(seg.tenant_id, *sums(seg.a, seg.b, 1.0)).where(seg.up.is_not(None)).group_by(seg.tenant_id)
    )
    statement: Select[Any] | CompoundSelect[Any] = counted
    if groups and names:
        # each silenced period is subtracted once from the segments it overlaps (the periods of
        # a group are merged, so none is subtracted twice)
        periods = union_all(
            *(
                select(
                    literal(group, String).label("grp"),
                    literal(_ts(s), Float).label("s"),
                    literal(_ts(e), Float).label("e"),
                )
                for group, spans_ in groups.items()
                for s, e in spans_
            )
        ).cte("silenced")
        sil = periods.c
        named = [g for g in groups if g != _EVERY]
        group_of = (
            case(
                (func.coalesce(seg.tenant_id, "").in_(named), func.coalesce(seg.tenant_id, "")), else_=_EVERY
            )
            if named
            else literal_column(f"'{_EVERY}'")
        )
        held = (
            select(
                seg.tenant_id,
                *sums(_greatest(engine, seg.a, sil.s), _least(engine, seg.b, sil.e), -1.0),
            )
            .select_from(segs.join(periods, and_(sil.grp == group_of, sil.s < seg.b, sil.e > seg.a)))
            .where(seg.up.is_not(None))
            .group_by(seg.tenant_id)
        )
        statement = counted.union_all(held)
    found: dict[str | None, dict[str, Tally]] = {}
    with engine.connect() as conn:
        without_jit(conn)
        for row in conn.execute(statement):
            per = found.setdefault(row.tenant_id, {name: Tally() for name in names})
            for i, name in enumerate(names):
                # columns: tenant_id, then up and observed seconds of each span in order
                up_s, seen_s = float(row[1 + 2 * i] or 0.0), float(row[2 + 2 * i] or 0.0)
                per[name] = per[name] + Tally(up_s, seen_s - up_s)
    return found


@dataclass(frozen=True)
class _Plan:
    """Where a span's time is read: `raw` ranges from history, `hours` (runs of whole rolled-up
    hours) from uptime_hours."""

    raw: list[Span]
    hours: list[Span]


def _plan(span: Span, rolled: Set[datetime]) -> _Plan:
    start, end = span
    if end <= start:
        return _Plan([], [])
    first, last = ceil_hour(start), floor_hour(end)
    if first >= last:
        return _Plan([(start, end)], [])
    raw: list[Span] = [(start, first), (last, end)]
    hours: list[Span] = []
    hour = first
    while hour < last:
        kind = hour in rolled
        stop = hour
        while stop < last and (stop in rolled) == kind:
            stop += timedelta(seconds=HOUR_S)
        (hours if kind else raw).append((hour, stop))
        hour = stop
    return _Plan(merge_spans(raw), hours)


def _touched_hours(groups: Mapping[str, Sequence[tuple[datetime, datetime]]]) -> set[datetime]:
    """Every hour a silenced period overlaps, of any tenant: those are read from history."""
    touched: set[datetime] = set()
    for periods in groups.values():
        for start, end in periods:
            hour = floor_hour(start)
            while hour < end:
                touched.add(hour)
                hour += timedelta(seconds=HOUR_S)
    return touched


#: up to this many targets named, history alone is faster: 30 days of one target are ~3,000
#: rows, and its report's 39 spans would each be split at hours (docs/performance.md)
FEW_TARGETS = 10


def tally(
    engine: Engine,
    service: str,
    spans: Mapping[str, Span],
    now: datetime,
    stale_after: float,
    silenced: Iterable[SilencedTime] = (),
    tenant_ids: Sequence[str | None] | None = None,
    interval_scale: float = 1.0,
) -> dict[TargetKey, dict[str, Tally]]:
    """Up and down seconds per target of `service` and per named span, from history up to `now`
    (results after it are ignored, so a caller can ask about any moment). `tenant_ids` limits
    the targets (None: platform); without it every target with a counted result from the
    earliest span's start (less the largest cap) to `now` is counted. A target without a result
    in a span has an empty Tally there.

    With `tenant_ids` naming at most FEW_TARGETS targets it reads history alone. Otherwise whole
    hours rolled up with these caps (storage/uptime_hours.py) that no silence of the
    service touches are read from uptime_hours; what is missing of the spans' complete hours is
    rolled up first, a bounded part of it (`uptime_hours.rolled_hours`: newest first, at most
    an eighth of the hours covered and a day; none while another process rolls this service
    up). The rest (partial edge hours, hours not rolled up or rolled up with other caps,
    silenced hours) is read from history, scanning only those ranges and the largest cap
    before each. The figures are those of reading every span from
    history (tests/storage/test_uptime_hours.py compares them)."""
    if not spans:
        return {}
    if tenant_ids is not None and len(tenant_ids) <= FEW_TARGETS:
        return tally_from_history(
            engine, service, spans, now, stale_after, silenced, tenant_ids, interval_scale
        )
    # uptime_hours builds on this module's segments; importing it here keeps the two acyclic
    from healthmon.storage import uptime_hours

    caps = caps_s(stale_after, interval_scale)
    margin = timedelta(seconds=max(caps.values()))
    groups = silence_groups(silenced)
    earliest = min(start for start, _end in spans.values())
    marked = uptime_hours.rolled_hours(engine, service, earliest, now, stale_after, interval_scale)
    touched = _touched_hours(groups)
    rolled = marked.usable - touched
    plans = {name: _plan(span, rolled) for name, span in spans.items()}
    # which targets appear is decided over the whole range, gaps between spans included
    whole = _plan((earliest, max(earliest, now)), rolled)
    pieces = sorted({piece for plan in plans.values() for piece in plan.raw})
    named = {piece: f"p{i}" for i, piece in enumerate(pieces)}
    scan = _closed_union(
        [(s - margin, e) for s, e in [*pieces, *whole.raw]] + [(earliest - margin, earliest), (now, now)]
    )
    raw = _from_history(
        engine, service, {named[p]: p for p in pieces}, now, caps, groups, tenant_ids, scan
    )
    hourly = (
        uptime_hours.rolled_tallies(
            engine,
            service,
            {name: (plan.hours[0][0], plan.hours[-1][1]) for name, plan in plans.items() if plan.hours},
            (whole.hours[0][0], whole.hours[-1][1]),
            # rows inside the hulls that are read from history or computed with other caps
            marked.other_caps | (marked.usable & touched),
            tenant_ids,
        )
        if whole.hours
        else {}
    )
    found: dict[TargetKey, dict[str, Tally]] = {}
    for tenant in raw.keys() | hourly.keys():
        from_raw, from_hours = raw.get(tenant, {}), hourly.get(tenant, {})
        per: dict[str, Tally] = {}
        for name, plan in plans.items():
            summed = from_hours.get(name, Tally())
            for piece in plan.raw:
                summed = summed + from_raw.get(named[piece], Tally())
            # rounding in the subtraction must not leave a silenced span with -1e-9 s
            per[name] = Tally(max(summed.up_s, 0.0), max(summed.down_s, 0.0))
        found[(service, tenant)] = per
    return found


def tally_from_history(
    engine: Engine,
    service: str,
    spans: Mapping[str, Span],
    now: datetime,
    stale_after: float,
    silenced: Iterable[SilencedTime] = (),
    tenant_ids: Sequence[str | None] | None = None,
    interval_scale: float = 1.0,
) -> dict[TargetKey, dict[str, Tally]]:
    """`tally` without the rollup: every span read from history in one statement, from the
    earliest span's start less the largest cap. What the rollup is checked against (tests, the
    benchmark's "before")."""
    if not spans:
        return {}
    caps = caps_s(stale_after, interval_scale)
    earliest = min(start for start, _end in spans.values())
    scan = [(earliest - timedelta(seconds=max(caps.values())), now)]
    raw = _from_history(engine, service, spans, now, caps, silence_groups(silenced), tenant_ids, scan)
    return {
        (service, tenant): {name: Tally(max(t.up_s, 0.0), max(t.down_s, 0.0)) for name, t in per.items()}
        for tenant, per in raw.items()
    }


def total(per_target: Mapping[TargetKey, Mapping[str, Tally]], names: Iterable[str]) -> dict[str, Tally]:
    """A service's tally: every target's time added up (a service is up as much as its targets)."""
    summed = {name: Tally() for name in names}
    for per in per_target.values():
        for name in summed:
            summed[name] = summed[name] + per.get(name, Tally())
    return summed


def silences_between(engine: Engine, start: datetime, end: datetime) -> list[SilenceRecord]:
    """Every silence that may have held something between `start` and `end`, ended or not."""
    s = SILENCES.c
    stmt = select(SILENCES).where(
        s.starts_at < end, s.ends_at > start, or_(s.ended_at.is_(None), s.ended_at > start)
    )
    with engine.connect() as conn:
        return [
            SilenceRecord(r.id, r.service, r.tenant_id, r.starts_at, r.ends_at, r.recurrence, r.ended_at)
            for r in conn.execute(stmt)
        ]
