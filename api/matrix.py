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

The cells always come from the view read *after* the entry used as the key, so a key is
never newer than its cells: a change between the two reads only costs one more rebuild.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from healthmon.api.formats import latency, rfc3339
from healthmon.storage.cache import StatusCache
from healthmon.storage.queries import (
    CELL_FIELDS,
    DEFAULT_RULE,
    MATRIX_KEY,
    Cell,
    StaleRule,
    aged,
    counts,
    matrix_rows,
    stale_count,
)

_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FLAGS = (b"false", b"true")
_US = timedelta(microseconds=1)
_LATENCY = CELL_FIELDS.index("latency_ms")
_TIMES = (CELL_FIELDS.index("checked_at"), CELL_FIELDS.index("since"))


def _micros(value: datetime) -> int:
    # whole microseconds, so that an age is the same float timedelta.total_seconds() gives
    return (value - _EPOCH) // _US


@dataclass(frozen=True)
class View:
    source: Any
    rule: StaleRule
    #: as judged when the view was built: only their fields that do not age may be used
    cells: list[Cell]
    #: the tenants present, sorted (whose display names an answer carries)
    tenants: list[str]
    #: `"fields":...,"services":...,"tenants":...,"counts":{...}`
    head: bytes
    #: every cell's JSON, each with `%.1f,%s]` (age_s, stale) for its end; `%` in its text doubled
    template: bytes
    #: per cell: checked_at in microseconds since the epoch, and the age past which it is stale
    checked: list[int]
    limits: list[float]


def _cell_json(values: Sequence[Any]) -> list[Any]:
    """A cell's view fields as the API writes them (api/formats): latency to 0.1 ms, times with Z."""
    cell = list(values)
    cell[_LATENCY] = latency(cell[_LATENCY])
    for at in _TIMES:
        cell[at] = rfc3339(cell[at])
    return cell


def _tenants(cells: Sequence[Cell]) -> list[str]:
    return sorted({c.tenant for c in cells if c.tenant is not None})


def _head(cells: Sequence[Cell], tenants: list[str]) -> bytes:
    body = {
        "fields": CELL_FIELDS,
        "services": sorted({c.service for c in cells}),
        "tenants": tenants,
        "counts": counts(cells),
    }
    return _encode(body).encode()[1:-1]


def _names(tenants: Sequence[str], names: Mapping[str, str]) -> dict[str, str]:
    """Only the tenants present that have a name, whatever else `names` holds."""
    return {t: names[t] for t in tenants if t in names}


def build(source: Any, rows: Sequence[Sequence[Any]], now: datetime, rule: StaleRule = DEFAULT_RULE) -> View:
    cells = aged(rows, now, rule)
    limits = {tier: rule.limit_s(tier) for tier in {c.tier for c in cells}}
    tenants = _tenants(cells)
    return View(
        source=source,
        rule=rule,
        cells=cells,
        tenants=tenants,
        head=_head(cells, tenants),
        # each row's JSON without its closing bracket, then the two placeholders
        template=b",".join(
            _encode(_cell_json(row))[:-1].encode().replace(b"%", b"%%") + b",%.1f,%s]" for row in rows
        ),
        checked=[_micros(datetime.fromisoformat(c.checked_at)) for c in cells],
        limits=[limits[c.tier] for c in cells],
    )


def answer(view: View, now: datetime, names: Mapping[str, str]) -> bytes:
    """The whole matrix as of `now`: the kept pieces, each cell aged at `now`, with the display
    names (id -> name) of the view's tenants that have one."""
    at = _micros(now)
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


class MatrixViews:
    """One per app: the last view built, shared by the worker threads."""

    def __init__(self) -> None:
        self._last: View | None = None
        self._lock = threading.Lock()

    def _same(self, last: View | None, entry: Any, rule: StaleRule) -> bool:
        return (
            entry is not None
            and last is not None
            and last.rule == rule
            and (last.source is entry or last.source == entry)
        )

    def current(
        self, engine: Engine, cache: StatusCache, now: datetime, rule: StaleRule = DEFAULT_RULE
    ) -> View:
        entry = cache.get_many([MATRIX_KEY]).get(MATRIX_KEY)
        last = self._last
        if self._same(last, entry, rule):
            assert last is not None
            return last
        # one thread rebuilds; the others wait for it rather than all building the same view
        with self._lock:
            last = self._last
            if self._same(last, entry, rule):
                assert last is not None
                return last
            view = build(entry, matrix_rows(engine, cache), now, rule)
            self._last = view
            return view
