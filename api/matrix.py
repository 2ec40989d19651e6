"""The matrix answer: serialized once per version of the cached view, aged at every request.

storage.queries keeps the whole service x tenant view as one cache entry (`MATRIX_KEY`), and
every writer deletes it after recording. So while the entry is the same, every cell's JSON up
to its `reason` is the same: this module keeps those pieces (and the cells, for filtered
requests) along with the entry they were made from, and rebuilds them only when the entry
changes. Building costs ~60 ms for 17,000 cells; the entry is compared by identity for the
in-process cache (it hands back the object it holds) and by equality for Redis (each read
decodes a new copy; comparing is far cheaper than rebuilding).

`age_s` and `stale` depend on the moment of the request, so they are never kept: each answer
appends them to every kept cell from its checked_at (kept in microseconds) and its tier's stale
limit, ~5 ms for 17,000 cells. They follow the rule of `monitors.result.staleness` exactly
(`StaleRule.judge`); tests/api compare the two. The tenants' display names
(`tenant_names`) are not part of the view either (a rename writes no result): the route reads
them once per request for the view's tenants and hands them to `answer` or `render`.

A writer's `invalidate_views` leaves the version key INVALIDATED: the next request waits for
the new view, so a new result shows at once. An entry that merely expired (MATRIX_TTL_S) is
read again by one background thread while the kept view is served (SERVE_EXPIRED_S at most),
so that the rebuild (~0.5 s of CPU at 40,000 cells) is on no request's path.

Which view is current is asked with its version alone (`matrix_version`: a digest of its rows,
a small cache key), so with Redis a request no longer fetches and decodes the whole view
(~5 MB at 10,000 tenants x 4 integrations) to learn that nothing changed.

The whole-matrix answer is kept too (`Answer`), with its gzip encoding (made once, when the
first client asks for it) and a strong ETag, until the view or a display name changes, a cell
would turn stale, or it is ANSWER_MAX_AGE_S old. So for that while every request gets the same
bytes, `generated_at` included: a cell's `age_s` is its age at `generated_at`, and a client
that wants it now adds `now - generated_at`. That is what makes the ETag a strong one (the
same bytes) and `If-None-Match` answerable with 304 while nothing a client can see changed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import threading
import time
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import Engine

from healthmon.api.formats import latency, rfc3339
from healthmon.storage.cache import StatusCache
from healthmon.storage.queries import (
    CELL_FIELDS,
    DEFAULT_RULE,
    MATRIX_TTL_S,
    Cell,
    StaleRule,
    aged,
    counts,
    matrix_entry,
    matrix_version,
    stale_count,
)

log = logging.getLogger(__name__)

_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FLAGS = (b"false", b"true")
_US = timedelta(microseconds=1)
_LATENCY = CELL_FIELDS.index("latency_ms")
_TIMES = (CELL_FIELDS.index("checked_at"), CELL_FIELDS.index("since"))
#: a kept whole-matrix answer is made again after this long, so that `age_s` stays near
ANSWER_MAX_AGE_S = 10.0
#: how long after the kept view was last found current an expired one is still served while a
#: new one is read (a reader whose rebuilds keep failing then waits for one, and sees the error)
SERVE_EXPIRED_S = 3 * MATRIX_TTL_S
#: gzip level of the kept answer: made once per answer, so the smaller size is worth its cost
GZIP_LEVEL = 6
_STATUSES = ("healthy", "degraded", "unhealthy", "unknown")


def micros(value: datetime) -> int:
    # whole microseconds, so that an age is the same float timedelta.total_seconds() gives
    return (value - _EPOCH) // _US


def stale_from_us(limit_s: float) -> int:
    """The least age in whole microseconds that is stale for this limit (`age > limit`, the
    arithmetic of `answer` and of monitors.result.staleness): a cell is stale at `now` exactly
    when `checked_us + stale_from_us(limit) <= now_us`, so staleness can be bisected."""
    found = max(1, int(limit_s * 1_000_000))
    while found / 1_000_000 <= limit_s:
        found += 1
    while found > 1 and (found - 1) / 1_000_000 > limit_s:
        found -= 1
    return found


@dataclass(frozen=True)
class View:
    #: the cached view's version (storage.queries.view_version)
    version: str
    rule: StaleRule
    #: the view's rows (VIEW_FIELDS), in service and tenant order
    rows: list[list[Any]]
    #: the tenants present, sorted (whose display names an answer carries)
    tenants: list[str]
    #: `"fields":...,"services":...,"tenants":...,"counts":{...}`
    head: bytes
    #: every cell's JSON, each with `%.1f,%s]` (age_s, stale) for its end; `%` in its text doubled
    template: bytes
    #: per cell: checked_at in microseconds since the epoch, and the age past which it is stale
    checked: list[int]
    limits: list[float]
    #: per cell, sorted: the moment (us) from which it is stale
    turns_stale: list[int] = field(repr=False)
    built_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @cached_property
    def cells(self) -> list[Cell]:
        """The cells, as judged when first asked: only their fields that do not age may be used."""
        return aged(self.rows, self.built_at, self.rule)

    @cached_property
    def services(self) -> dict[str, tuple[int, int]]:
        """service -> (first, end) row positions: its rows, in tenant order."""
        spans: dict[str, tuple[int, int]] = {}
        for index, row in enumerate(self.rows):
            first, _end = spans.get(row[0], (index, index))
            spans[row[0]] = (first, index + 1)
        return spans

    def stale_at(self, now: datetime) -> int:
        """How many cells are stale at `now`."""
        return bisect_right(self.turns_stale, micros(now))

    def next_turn(self, now: datetime) -> int | None:
        """When (us) the next cell turns stale after `now`, if one does."""
        at = bisect_right(self.turns_stale, micros(now))
        return self.turns_stale[at] if at < len(self.turns_stale) else None


def _cell_json(values: Sequence[Any]) -> list[Any]:
    """A cell's view fields as the API writes them (api/formats): latency to 0.1 ms, times with Z."""
    cell = list(values)
    cell[_LATENCY] = latency(cell[_LATENCY])
    for at in _TIMES:
        cell[at] = rfc3339(cell[at])
    return cell


def _tenants(cells: Sequence[Cell]) -> list[str]:
    return sorted({c.tenant for c in cells if c.tenant is not None})


def _names(tenants: Sequence[str], names: Mapping[str, str]) -> dict[str, str]:
    """Only the tenants present that have a name, whatever else `names` holds."""
    return {t: names[t] for t in tenants if t in names}


def _template(rows: list[list[Any]]) -> bytes:
    """Every row's JSON without its closing bracket, then the two placeholders (`%` doubled)."""
    if all(r[5].endswith("+00:00") and r[6].endswith("+00:00") for r in rows):
        # the view's own spelling (storage.status.view_rows): latency already to 0.1 ms, times
        # in UTC, so `rfc3339` is a slice
        cells = [[r[0], r[1], r[2], r[3], r[4], r[5][:-6] + "Z", r[6][:-6] + "Z", r[7]] for r in rows]
    else:
        cells = [_cell_json(row) for row in rows]
    return b",".join(_encode(c)[:-1].encode().replace(b"%", b"%%") + b",%.1f,%s]" for c in cells)


def build(version: str, rows: Sequence[Sequence[Any]], now: datetime, rule: StaleRule = DEFAULT_RULE) -> View:
    kept = [list(row) for row in rows]
    tiers = {row[2] for row in kept}
    limits = {tier: rule.limit_s(tier) for tier in tiers}
    turn = {tier: stale_from_us(limit) for tier, limit in limits.items()}
    checked = [micros(datetime.fromisoformat(row[5])) for row in kept]
    tenants = sorted({row[1] for row in kept if row[1] is not None})
    found: dict[str, int] = dict.fromkeys(_STATUSES, 0)
    for row in kept:
        found[row[3]] += 1
    head = {
        "fields": CELL_FIELDS,
        "services": sorted({row[0] for row in kept}),
        "tenants": tenants,
        "counts": found,
    }
    return View(
        version=version,
        rule=rule,
        rows=kept,
        tenants=tenants,
        head=_encode(head).encode()[1:-1],
        template=_template(kept),
        checked=checked,
        limits=[limits[row[2]] for row in kept],
        turns_stale=sorted(at + turn[row[2]] for at, row in zip(checked, kept, strict=True)),
        built_at=now,
    )


def answer(view: View, now: datetime, names: Mapping[str, str]) -> bytes:
    """The whole matrix as of `now`: the kept pieces, each cell aged at `now`, with the display
    names (id -> name) of the view's tenants that have one."""
    at = micros(now)
    # the arithmetic of monitors.result.staleness, on numbers kept per view; lists rather than
    # one loop, and one %-format of the kept template: ~5 ms for 17,000 cells
    ages = [(at - checked) / 1_000_000 for checked in view.checked]
    if ages and min(ages) < 0:
        ages = [age if age > 0 else 0.0 for age in ages]
    flags = [_FLAGS[age > limit] for age, limit in zip(ages, view.limits, strict=True)]
    stale = flags.count(_FLAGS[True])
    values: list[float | bytes] = [0.0] * (2 * len(ages))
    values[0::2] = ages
    values[1::2] = flags
    return (
        b'{"generated_at":"'
        + rfc3339(now).encode()
        + b'","stale":'
        + str(stale).encode()
        + b","
        + view.head
        + b',"tenant_names":'
        + _encode(_names(view.tenants, names)).encode()
        + b',"cells":['
        + view.template % tuple(values)
        + b"]}"
    )


def render(cells: Sequence[Cell], generated_at: datetime, names: Mapping[str, str]) -> bytes:
    """A matrix answer of cells already aged (a filtered request), with the display names of
    its tenants that have one."""
    tenants = _tenants(cells)
    body = {
        "generated_at": rfc3339(generated_at),
        "stale": stale_count(cells),
        "fields": CELL_FIELDS,
        "services": sorted({c.service for c in cells}),
        "tenants": tenants,
        "counts": counts(cells),
        "tenant_names": _names(tenants, names),
        "cells": [_cell_json([getattr(c, f) for f in CELL_FIELDS]) for c in cells],
    }
    return _encode(body).encode()


def _etag(*parts: object) -> str:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=10).hexdigest()


@dataclass
class Answer:
    """One whole-matrix answer, kept while it is current (see the module's docstring)."""

    view: View
    names_version: str
    body: bytes
    #: the strong ETag of `body` (quoted); the gzip encoding's is ETAG_GZIP of it
    etag: str
    made_at: datetime
    #: when (us) it stops being current: a cell turns stale, or ANSWER_MAX_AGE_S passed
    until_us: int
    _gzipped: bytes | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def etag_gzip(self) -> str:
        return self.etag[:-1] + '-gzip"'

    def gzipped(self) -> bytes:
        """The body gzipped, compressed by the first request that asks."""
        if self._gzipped is None:
            with self._lock:
                if self._gzipped is None:
                    self._gzipped = gzip.compress(self.body, GZIP_LEVEL, mtime=0)
        return self._gzipped

    def current(self, view: View, names_version: str, now: datetime) -> bool:
        return view is self.view and names_version == self.names_version and micros(now) < self.until_us


class MatrixViews:
    """One per app: the last view built and its kept answer, shared by the worker threads."""

    def __init__(self, answer_max_age_s: float = ANSWER_MAX_AGE_S) -> None:
        self._last: View | None = None
        self._answer: Answer | None = None
        self._lock = threading.Lock()
        #: when the kept view was last found current (time.monotonic)
        self._confirmed = 0.0
        self._refreshing = False
        self._refresh_lock = threading.Lock()
        self._answer_lock = threading.Lock()
        self._max_age_us = int(answer_max_age_s * 1_000_000)

    def current(
        self, engine: Engine, cache: StatusCache, now: datetime, rule: StaleRule = DEFAULT_RULE
    ) -> View:
        last = self._last
        if last is not None and last.rule == rule:
            version = matrix_version(cache)
            if version == last.version:
                self._confirmed = time.monotonic()
                return last
            if version is None and time.monotonic() - self._confirmed < SERVE_EXPIRED_S:
                # the entry's TTL ran out and no writer invalidated it since (that leaves
                # INVALIDATED): the kept view is served while one thread reads it again, so
                # that no request waits the ~0.5 s of CPU a rebuild costs at 40,000 cells
                self._refresh_soon(engine, cache, rule)
                return last
        # changed, or never built: this request waits for the new view (one thread builds it,
        # the others wait for it rather than all building the same view)
        with self._lock:
            return self._rebuild(engine, cache, now, rule)

    def _rebuild(self, engine: Engine, cache: StatusCache, now: datetime, rule: StaleRule) -> View:
        version, rows = matrix_entry(engine, cache)
        self._confirmed = time.monotonic()
        last = self._last
        if last is not None and last.rule == rule and last.version == version:
            return last
        view = build(version, rows, now, rule)
        self._last = view
        return view

    def _refresh_soon(self, engine: Engine, cache: StatusCache, rule: StaleRule) -> None:
        with self._refresh_lock:
            if self._refreshing:
                return
            self._refreshing = True

        def refresh() -> None:
            try:
                with self._lock:
                    self._rebuild(engine, cache, datetime.now(UTC), rule)
            except Exception:  # the next request tries again (and, after SERVE_EXPIRED_S, waits)
                log.warning("rebuilding the matrix view failed", exc_info=True)
            finally:
                with self._refresh_lock:
                    self._refreshing = False

        threading.Thread(target=refresh, name="matrix-view", daemon=True).start()

    def answer(self, view: View, names: Mapping[str, str], names_version: str, now: datetime) -> Answer:
        """The kept whole-matrix answer of `view`, made anew when it is no longer current."""
        kept = self._answer
        if kept is not None and kept.current(view, names_version, now):
            return kept
        with self._answer_lock:
            kept = self._answer
            if kept is not None and kept.current(view, names_version, now):
                return kept
            at = micros(now)
            turn = view.next_turn(now)
            until = at + self._max_age_us if turn is None else min(turn, at + self._max_age_us)
            made = Answer(
                view=view,
                names_version=names_version,
                body=answer(view, now, names),
                etag=f'"{_etag(view.version, names_version, at)}"',
                made_at=now,
                until_us=until,
            )
            self._answer = made
            return made
