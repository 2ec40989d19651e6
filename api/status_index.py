"""The master status and a service's totals, counted once per view instead of per request.

`storage.queries.platform_health` judges every cell of the matrix at every call: ~150 ms of
CPU at 10,000 tenants x 4 integrations (40,000 cells), where the master status must answer
within 10 ms. Between two versions of the view only the moment of reading changes, and with it
only which cells are stale; a cell turns stale at a moment known in advance (`View.turns_stale`).
So the counts, the worst status and the oldest and newest result of each service are counted
once per (view, tenant snapshot), and a request only bisects the sorted moments at which cells
turn stale. The answer is exactly `platform_health`'s (tests/api compare the two):

- a cell whose target is expected (`Tenants.expected`) counts whatever its age; one that is
  not (a disabled tenant, a removed service) counts only while fresh. Those are few, and are
  judged per request;
- an expected target without a cell is `missing`.

Paging the service route walks the same rows: each service's cells are a run of the view's
rows in tenant order, so a page is a slice found by bisecting its tenant ids.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from healthmon.api.matrix import View, micros, stale_from_us
from healthmon.api.tenant_snapshot import Tenants
from healthmon.monitors.result import Status
from healthmon.storage.queries import Cell, aged, worst

_STATUSES = tuple(s.value for s in Status)
#: the order of Status.worse, by value (40,000 enum lookups per index otherwise)
_RANK = {s.value: s.rank for s in Status}


@dataclass
class _Group:
    """Cells of one service that count whatever their age (or, for the service's totals, all)."""

    tier: str | None = None
    count: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_STATUSES, 0))
    worst: str | None = None
    #: sorted: the moment (us) each cell turns stale
    turns: list[int] = field(default_factory=list)
    oldest_us: int | None = None
    newest_us: int | None = None
    newest: str | None = None

    def add(self, row: Sequence[Any], checked_us: int, turn: int) -> None:
        self.tier = self.tier or row[2]
        self.count += 1
        self.counts[row[3]] += 1
        if self.worst is None or _RANK[row[3]] > _RANK[self.worst]:
            self.worst = row[3]
        self.turns.append(turn)
        if self.oldest_us is None or checked_us < self.oldest_us:
            self.oldest_us = checked_us
        if self.newest_us is None or checked_us > self.newest_us:
            self.newest_us, self.newest = checked_us, row[5]

    def stale(self, now_us: int) -> int:
        return bisect_right(self.turns, now_us)


@dataclass(frozen=True)
class _Loose:
    """A cell of a target no longer expected: it counts only while fresh."""

    tier: str
    status: str
    checked_us: int
    checked_at: str
    turn: int


def _age(now_us: int, checked_us: int) -> float:
    return round(max(0.0, (now_us - checked_us) / 1_000_000), 1)


@dataclass
class StatusIndex:
    view: View
    tenants: Tenants
    #: per service: its expected cells, its other cells, how many expected have none
    counted: dict[str, _Group]
    loose: dict[str, list[_Loose]]
    missing: dict[str, int]
    #: per service: every cell (the service route's totals)
    every: dict[str, _Group]

    @classmethod
    def build(cls, view: View, tenants: Tenants) -> StatusIndex:
        turn = {tier: stale_from_us(view.rule.limit_s(tier)) for tier in {r[2] for r in view.rows}}
        expected = {key for keys in tenants.expected.values() for key in keys}
        wanted = {service: set(keys) for service, keys in tenants.expected.items() if keys}
        counted: dict[str, _Group] = {service: _Group() for service in wanted}
        loose: dict[str, list[_Loose]] = {}
        every: dict[str, _Group] = {}
        for row, checked_us in zip(view.rows, view.checked, strict=True):
            service, tenant = row[0], row[1]
            at = checked_us + turn[row[2]]
            every.setdefault(service, _Group()).add(row, checked_us, at)
            if (service, tenant) in expected:
                counted[service].add(row, checked_us, at)
                wanted[service].discard((service, tenant))
            else:
                loose.setdefault(service, []).append(_Loose(row[2], row[3], checked_us, row[5], at))
        for group in (*counted.values(), *every.values()):
            group.turns.sort()
        return cls(view, tenants, counted, loose, {s: len(k) for s, k in wanted.items()}, every)

    def platform(self, now: datetime) -> dict[str, Any]:
        """What storage.queries.platform_health answers for these cells and expected targets."""
        now_us = micros(now)
        rows: list[dict[str, Any]] = []
        total = stale_total = missing_total = 0
        all_counts = dict.fromkeys(_STATUSES, 0)
        oldest: int | None = None
        for service in sorted(set(self.counted) | set(self.loose)):
            group = self.counted.get(service, _Group())
            fresh = [cell for cell in self.loose.get(service, ()) if cell.turn > now_us]
            if service not in self.counted and not fresh:
                continue
            count = group.count + len(fresh)
            counts = dict(group.counts)
            for cell in fresh:
                counts[cell.status] += 1
            stale = group.stale(now_us)
            missing = self.missing.get(service, 0)
            status = worst([*([group.worst] if group.worst else []), *(c.status for c in fresh)])
            if not count:
                status = Status.UNKNOWN.value
            if stale or missing:
                status = Status(status).worse(Status.UNKNOWN).value
            ages = [c.checked_us for c in fresh] + ([group.oldest_us] if group.oldest_us is not None else [])
            first = min(ages, default=None)
            newest = group.newest
            newest_us = group.newest_us
            for cell in fresh:
                if newest_us is None or cell.checked_us > newest_us:
                    newest_us, newest = cell.checked_us, cell.checked_at
            rows.append(
                {
                    "service": service,
                    "tier": group.tier or (fresh[0].tier if fresh else None),
                    "status": status,
                    "targets": count,
                    "counts": counts,
                    "stale": stale,
                    "missing": missing,
                    "max_age_s": None if first is None else _age(now_us, first),
                    "checked_at": newest,
                }
            )
            total += count
            stale_total += stale
            missing_total += missing
            for name, n in counts.items():
                all_counts[name] += n
            if first is not None and (oldest is None or first < oldest):
                oldest = first
        return {
            "status": worst(str(r["status"]) for r in rows),
            "targets": total,
            "counts": all_counts,
            "stale": stale_total,
            "missing": missing_total,
            "max_age_s": None if oldest is None else _age(now_us, oldest),
            "stale_after": self.view.rule.stale_after,
            "services": rows,
            "generated_at": now.astimezone(UTC).isoformat(),
        }

    def service_totals(self, service: str, now: datetime) -> tuple[int, dict[str, int], int, str]:
        """(targets, counts by status, stale, status) over every target of the service: the
        worst status, unknown at least while an expected target is stale; unknown without any."""
        now_us = micros(now)
        group = self.every.get(service)
        if group is None:
            return 0, dict.fromkeys(_STATUSES, 0), 0, Status.UNKNOWN.value
        status = group.worst or Status.UNKNOWN.value
        expected = self.counted.get(service)
        if expected is not None and expected.stale(now_us):
            status = Status(status).worse(Status.UNKNOWN).value
        return group.count, dict(group.counts), group.stale(now_us), status

    def page(
        self, service: str, after: str | None, limit: int, now: datetime
    ) -> tuple[list[Cell], str | None]:
        """Up to `limit` cells of the service after tenant `after` (None: from the first), in
        tenant order, judged at `now`; and the last tenant given when more follow, else None."""
        first, end = self.view.services.get(service, (0, 0))
        rows = self.view.rows[first:end]
        if rows and rows[0][1] is None:
            # a platform service: its one target, on the first page only
            chosen = rows if after is None else []
            return aged(chosen, now, self.view.rule), None
        start = 0 if after is None else bisect_right(_Tenants(rows), after)
        chosen = rows[start : start + limit]
        more = start + limit < len(rows)
        return aged(chosen, now, self.view.rule), (chosen[-1][1] if more and chosen else None)


class _Tenants(Sequence[str]):
    """The tenant ids of a service's rows, as a sequence to bisect without copying them."""

    def __init__(self, rows: list[list[Any]]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: Any) -> Any:
        return self._rows[index][1]


class StatusIndexes:
    """One per app: the index of the last (view, tenant snapshot) pair."""

    def __init__(self) -> None:
        self._last: StatusIndex | None = None
        self._lock = threading.Lock()

    def of(self, view: View, tenants: Tenants) -> StatusIndex:
        last = self._last
        if last is not None and last.view is view and last.tenants is tenants:
            return last
        with self._lock:
            last = self._last
            if last is not None and last.view is view and last.tenants is tenants:
                return last
            made = StatusIndex.build(view, tenants)
            self._last = made
            return made
