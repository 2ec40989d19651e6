"""History judged under two rules of one metric, for replaying a threshold before it is saved.

The replay (alerting/replay.py) needs, per target and in time order, the status each result
would have had under the current rule and under the proposed one. Reading 30 days of a
per-tenant service (2.9 M rows at 1,000 tenants) into Python would take longer than the answer
may, so on PostgreSQL the judging happens in SQL and each target comes back as two strings of
status ranks (one character per result) and one array of times.

What a result's status would have been, without the history of the monitor's own verdict
(history keeps only the final status, the worse of the monitor's and the thresholds'):

- a result where the metric breached nothing: its recorded status stands for the rest (the
  monitor and the other rules), so `base` is the recorded status;
- the metric breached below the recorded status: something else decided it; `base` is the
  recorded status;
- the metric decided the status: if the monitor's own reason survived, the monitor said as
  much itself (alerting.thresholds.evaluate keeps a not-healthy monitor's reason unless the
  thresholds made the status worse), so `base` is the recorded status; else the monitor said
  less, and `base` is what the other breached rules said. A monitor that said "degraded" and a
  rule that said "unhealthy" is the one case this cannot tell from "healthy" (its reason was
  overwritten): it replays as the other rules' verdict.

Then each side's status is the worse of `base` and the rule's verdict on the metric's value:
the SQL spelling of alerting.thresholds.ThresholdRule.judge (a value equal to a bound counts as
past it), held to it by tests/alerting/test_replay.py. Ranks are those of monitors.result.Status.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.types import Float, Integer, String

from healthmon.monitors.result import Status
from healthmon.storage.db import is_postgres
from healthmon.storage.types import UtcDateTime


class Bounds(NamedTuple):
    """One metric's rule as plain values (storage never imports alerting)."""

    degraded: float | None
    unhealthy: float | None
    inverse: bool


#: no rule for the metric: the value never judges anything
NO_RULE = Bounds(None, None, False)


@dataclass(frozen=True)
class RulePair:
    """The metric's rule as it is (current) and as it would be (proposed)."""

    current: Bounds
    proposed: Bounds


@dataclass(frozen=True)
class JudgedTrack:
    """One target's results in time order: checked_at as epoch seconds, and per result its
    status rank (a digit, `Status.rank`) under the current and under the proposed rule."""

    tenant_id: str | None
    times: list[float]
    current: str
    proposed: str


@dataclass(frozen=True)
class ReplayQuery:
    service: str
    metric: str
    since: datetime
    until: datetime
    #: the rule of every target without its own
    rules: RulePair
    #: tenants whose own override of the metric decides instead
    per_tenant: Mapping[str, RulePair] = field(default_factory=dict)
    #: only this tenant's history (None: every target of the service)
    tenant: str | None = None


@dataclass(frozen=True)
class Scale:
    """A rule as steps: the value times `sign` (-1 for an inverse rule) falls between the
    ascending `points`; `ranks[i]` is the rank past i of them. One lookup per value, so that SQL
    names the value once (PostgreSQL's width_bucket) and SQLite's rows are judged by bisect."""

    sign: float
    points: tuple[float, ...]
    ranks: tuple[int, ...]

    def rank(self, value: float | None) -> int:
        return 0 if value is None else self.step(self.sign * value)

    def step(self, signed: float) -> int:
        """The rank of a value already multiplied by `sign`."""
        return self.ranks[bisect_right(self.points, signed)]

    def sql(self, value: str, prefix: str) -> str:
        bucket = f"width_bucket({self.sign:g} * {value}, CAST(:{prefix}p AS float8[]))"
        return f"coalesce((CAST(:{prefix}r AS int[]))[{bucket} + 1], 0)"

    def params(self, prefix: str) -> dict[str, Any]:
        return {f"{prefix}p": list(self.points), f"{prefix}r": list(self.ranks)}


def scale(bounds: Bounds) -> Scale:
    sign = -1.0 if bounds.inverse else 1.0
    steps = sorted(
        (sign * bound, status.rank)
        for bound, status in ((bounds.degraded, Status.DEGRADED), (bounds.unhealthy, Status.UNHEALTHY))
        if bound is not None
    )
    ranks = [0]
    for _point, rank in steps:
        ranks.append(max(ranks[-1], rank))  # past the unhealthy bound is unhealthy, whatever else
    return Scale(sign, tuple(p for p, _ in steps), tuple(ranks))


class _Spelling(NamedTuple):
    """A dialect's spelling of the JSON reads."""

    #: the metric's value: a JSON number only (true/false or text never judge, as in evaluate)
    value: str
    #: the result has a breach of the metric / of the metric at unhealthy / of another metric,
    #: another at unhealthy
    breached: str
    breached_unhealthy: str
    other: str
    other_unhealthy: str
    reason: str


_PG = _Spelling(
    value="CASE WHEN jsonb_typeof(h.details -> :metric) = 'number' THEN (h.details ->> :metric)::float8 END",
    breached="coalesce(h.details -> 'breaches' @> CAST(:m_any AS jsonb), false)",
    breached_unhealthy="coalesce(h.details -> 'breaches' @> CAST(:m_unhealthy AS jsonb), false)",
    other="jsonb_path_exists(h.details, '$.breaches[*] ? (@.metric != $m)', CAST(:m_vars AS jsonb))",
    other_unhealthy="jsonb_path_exists(h.details, "
    "'$.breaches[*] ? (@.metric != $m && @.level == \"unhealthy\")', CAST(:m_vars AS jsonb))",
    reason="h.details ->> 'reason'",
)


_SQLITE_BREACH = {"metric": "json_extract(b.value, '$.metric')", "level": "json_extract(b.value, '$.level')"}


def _sqlite_breach(condition: str) -> str:
    where = condition.format(**_SQLITE_BREACH)
    return f"EXISTS (SELECT 1 FROM json_each(h.details, '$.breaches') AS b WHERE {where})"


_SQLITE = _Spelling(
    value="CASE WHEN json_type(h.details, '$.' || :metric) IN ('integer', 'real') "
    "THEN json_extract(h.details, '$.' || :metric) END",
    breached=_sqlite_breach("{metric} = :metric"),
    breached_unhealthy=_sqlite_breach("{metric} = :metric AND {level} = 'unhealthy'"),
    other=_sqlite_breach("{metric} <> :metric"),
    other_unhealthy=_sqlite_breach("{metric} <> :metric AND {level} = 'unhealthy'"),
    reason="json_extract(h.details, '$.reason')",
)


def _base_sql(spell: _Spelling) -> str:
    """The result's rank without the metric's verdict (see the module's docstring)."""
    final = f"CASE h.status {' '.join(f'WHEN {s.value!r} THEN {s.rank}' for s in Status)} ELSE 0 END"
    unhealthy, degraded = Status.UNHEALTHY.rank, Status.DEGRADED.rank
    return f"""CASE WHEN NOT {spell.breached} THEN {final}
        WHEN h.status = 'unhealthy' AND NOT {spell.breached_unhealthy} THEN {unhealthy}
        WHEN NOT coalesce(substr({spell.reason}, 1, length(:metric) + 1) = :metric || ' ', false) THEN {final}
        WHEN {spell.other_unhealthy} THEN {unhealthy}
        WHEN {spell.other} THEN {degraded}
        ELSE 0 END"""


def _where(tenants: str) -> str:
    return f"h.service = :service AND h.checked_at >= :since AND h.checked_at < :until {tenants}"


def _value(spell: _Spelling, metric: str) -> str:
    return "h.latency_ms" if metric == "latency_ms" else f"({spell.value})"


#: (base, current verdict, proposed verdict) -> the packed code of the worse of base and each
_COMBINE = [4 * max(b, c) + max(b, p) for b in range(4) for c in range(4) for p in range(4)]


def _pg_pair(pair: RulePair, value: str, prefix: str, params: dict[str, Any]) -> str:
    """4 x the current rule's verdict + the proposed one's. Rules judging in the same direction
    share one width_bucket over both rules' points, so that the value is read once."""
    current, proposed = scale(pair.current), scale(pair.proposed)
    if current.sign != proposed.sign:
        params.update(current.params(prefix + "c") | proposed.params(prefix + "p"))
        return f"4 * {current.sql(value, prefix + 'c')} + {proposed.sql(value, prefix + 'p')}"
    points = tuple(sorted({*current.points, *proposed.points}))
    codes = [0] + [4 * current.step(point) + proposed.step(point) for point in points]
    both = Scale(current.sign, points, tuple(codes))
    params.update(both.params(prefix))
    return both.sql(value, prefix)


def _pg_codes(query: ReplayQuery, params: dict[str, Any]) -> str:
    """Per result, 4 x its current rank + its proposed rank, each the worse of `base` and the
    rule's verdict; tenants with their own rule by CASE."""
    value = _value(_PG, query.metric)
    branches = []
    for n, (tenant_id, pair) in enumerate(sorted(query.per_tenant.items())):
        params[f"o{n}t"] = tenant_id
        branches.append(f"WHEN :o{n}t THEN {_pg_pair(pair, value, f'o{n}', params)}")
    verdicts = _pg_pair(query.rules, value, "", params)
    if branches:
        verdicts = f"CASE h.tenant_id {' '.join(branches)} ELSE {verdicts} END"
    params["combine"] = _COMBINE
    return f"(CAST(:combine AS int[]))[1 + 16 * ({_base_sql(_PG)}) + {verdicts}]"


def _common_params(query: ReplayQuery) -> dict[str, Any]:
    return {
        "service": query.service,
        "metric": query.metric,
        "since": query.since,
        "until": query.until,
        "tenant": query.tenant,
        "m_any": json.dumps([{"metric": query.metric}]),
        "m_unhealthy": json.dumps([{"metric": query.metric, "level": Status.UNHEALTHY.value}]),
        "m_vars": json.dumps({"m": query.metric}),
    }


_TIMES = (bindparam("since", type_=UtcDateTime()), bindparam("until", type_=UtcDateTime()))


def judged_history(engine: Engine, query: ReplayQuery) -> list[JudgedTrack]:
    """Every target with a result that is not healthy under either rule, judged under both,
    in tenant order. A target healthy throughout under both is left out: it opens nothing and
    spends no time degraded, whatever the order of its results."""
    params = _common_params(query)
    with engine.connect() as conn:
        if not is_postgres(engine):
            return _sqlite_tracks(conn, query, params)
        # the judging costs ~1 us a row: no JIT compile (~0.7 s here), room to sort in memory
        conn.execute(text("SET LOCAL jit = off"))
        conn.execute(text("SET LOCAL work_mem = '256MB'"))
        codes = _pg_codes(query, params)
        if query.tenant is not None:
            where = _where("AND h.tenant_id = :tenant")
        else:
            # 1. which targets are not healthy at some result (a parallel scan, no sort) ...
            found = text(
                f"SELECT h.tenant_id FROM health_check_history AS h WHERE {_where('')}"
                f" GROUP BY h.tenant_id HAVING max({codes}) > 0"
            ).bindparams(*_TIMES)
            targets = list(conn.execute(found, params).scalars())
            if not targets:
                return []
            # ... 2. only their results, in time order (the index on service, tenant, time)
            platform = targets == [None]
            where = _where("AND h.tenant_id IS NULL" if platform else "AND h.tenant_id = ANY(:targets)")
            params["targets"] = targets
        stmt = text(
            f"SELECT h.tenant_id, string_agg(chr(48 + {codes}), '' ORDER BY h.checked_at),"
            " array_agg(date_part('epoch', h.checked_at) ORDER BY h.checked_at)"
            f" FROM health_check_history AS h WHERE {where} GROUP BY h.tenant_id ORDER BY h.tenant_id"
        ).bindparams(*_TIMES)
        rows = conn.execute(stmt, params).all()
    return [_track(tenant_id, list(times), packed) for tenant_id, packed, times in rows]


#: a packed result (4 x current rank + proposed rank, offset by "0") -> its two rank digits
_CURRENT = str.maketrans({chr(48 + c): str(c // 4) for c in range(16)})
_PROPOSED = str.maketrans({chr(48 + c): str(c % 4) for c in range(16)})


def _track(tenant_id: str | None, times: list[float], packed: str) -> JudgedTrack:
    return JudgedTrack(tenant_id, times, packed.translate(_CURRENT), packed.translate(_PROPOSED))


def _sqlite_tracks(conn: Connection, query: ReplayQuery, params: dict[str, Any]) -> list[JudgedTrack]:
    """SQLite, the embedded store of a few tenants: base and value per row in SQL, judged here."""
    where = _where("AND h.tenant_id = :tenant" if query.tenant is not None else "")
    stmt = (
        text(
            f"SELECT h.tenant_id, h.checked_at, {_base_sql(_SQLITE)} AS base,"
            f" {_value(_SQLITE, query.metric)} AS v"
            f" FROM health_check_history AS h WHERE {where} ORDER BY h.tenant_id, h.checked_at"
        )
        .bindparams(*_TIMES)
        .columns(tenant_id=String(), checked_at=UtcDateTime(), base=Integer(), v=Float())
    )
    tracks = []
    for tenant_id, group in groupby(conn.execute(stmt, params), key=lambda r: r.tenant_id):
        pair = query.per_tenant.get(tenant_id, query.rules) if tenant_id is not None else query.rules
        current, proposed = scale(pair.current), scale(pair.proposed)
        rows = list(group)
        packed = "".join(
            chr(48 + 4 * max(r.base, current.rank(r.v)) + max(r.base, proposed.rank(r.v))) for r in rows
        )
        if packed.strip("0"):
            tracks.append(_track(tenant_id, [r.checked_at.timestamp() for r in rows], packed))
    return tracks
