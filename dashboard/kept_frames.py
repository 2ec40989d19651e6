"""Frames the live pages build from the judged cells, kept while what they are built from is
unchanged: the matrix's grid and a per-tenant service's breakdown.

At 10,000 tenants building them (40,000 cells into 10,000 rows with their uptime, the list of
what needs attention; 10,000 results into the breakdown) was most of a page's run, and the
live parts rerun every 3 s in every open session. What they show changes only with the view's
version, which cells are stale, the filters, the response state and the uptime figures: a run
that finds them as before takes the frame already built (shared by every session of the
process). What changes every second (ages) or costs little (display names) is added per run.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

import pandas as pd

from healthmon.dashboard import frames
from healthmon.dashboard.context import Judged
from healthmon.monitors.result import TargetKey
from healthmon.storage.queries import counts, filter_cells, stale_count
from healthmon.storage.uptime import Tally

#: frames of each kind kept at once for one signature: a few sessions' choices
KEEP = 8
T = TypeVar("T")


@dataclass(frozen=True)
class MatrixView:
    #: positions in the judged cells of those that pass the filters, in order
    shown: tuple[int, ...]
    grid: frames.Matrix
    attention: pd.DataFrame
    not_healthy: int
    counts: dict[str, int]
    stale: int


class _Memo:
    """Values built from one signature of the judged cells, by key: a new signature (a new
    version of the view, a cell turned stale) drops the others, whose frames nobody will ask
    for again (each is megabytes at 10,000 tenants). At most KEEP at once; thread-safe: every
    session's script has a thread.

    A figure that goes into a value is in its key by identity (`id`, as a mapping cannot be
    hashed): it is held beside the value, so that no other object can take that id while the
    value is kept."""

    def __init__(self) -> None:
        self._values: OrderedDict[tuple[Any, ...], tuple[object, Any]] = OrderedDict()
        self._signature: object = None
        self._guard = threading.Lock()

    def get(self, signature: object, key: tuple[Any, ...], build: Callable[[], T], held: object = None) -> T:
        key = (*key, id(held))
        with self._guard:
            if signature == self._signature and key in self._values:
                self._values.move_to_end(key)
                return cast(T, self._values[key][1])
        value = build()
        with self._guard:
            if signature != self._signature:
                self._values.clear()
                self._signature = signature
            self._values[key] = (held, value)
            while len(self._values) > KEEP:
                self._values.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        with self._guard:
            self._values.clear()
            self._signature = None


_GRIDS = _Memo()
_BREAKDOWNS = _Memo()


def matrix_view(
    judged: Judged,
    *,
    tiers: Sequence[str],
    statuses: Sequence[str],
    search: str,
    sort: str,
    wanted: Sequence[str],
    response: Mapping[TargetKey, frames.Response],
    names: Mapping[str, str],
    tallies: Mapping[TargetKey, Tally] | None,
) -> MatrixView:
    """The grid of the judged cells under these filters: built, or kept from a run that had
    the same inputs. `names` matter only to a search (the grid gets them afterwards)."""

    def build() -> MatrixView:
        every = judged.cells
        position = {id(c): i for i, c in enumerate(every)}
        cells = filter_cells(
            every, tiers=tiers or None, statuses=statuses or None, tenant_search=search or None, names=names
        )
        cells = frames.with_response(cells, response, wanted)
        grid = frames.matrix(cells, sort, response)
        if tallies is not None:
            grid = frames.with_uptime(grid, tallies)
        return MatrixView(
            shown=tuple(position[id(c)] for c in cells),
            grid=grid,
            attention=frames.attention(cells),
            not_healthy=sum(1 for c in cells if frames.needs_attention(c)),
            counts=counts(cells),
            stale=stale_count(cells),
        )

    key = (
        tuple(tiers),
        tuple(statuses),
        search,
        sort,
        tuple(wanted),
        frozenset(response.items()),
        tuple(sorted(names.items())) if search else None,
    )
    return _GRIDS.get(judged.signature, key, build, held=tallies)


def breakdown(
    judged: Judged,
    service: str,
    at: datetime,
    names: Mapping[str, str],
    uptimes: Mapping[TargetKey, Mapping[str, float | None]],
) -> pd.DataFrame:
    """`frames.breakdown` with `frames.breakdown_uptime` of one per-tenant service's cells,
    ages at `at` and the tenants' names as they are now."""
    built = _BREAKDOWNS.get(
        judged.signature,
        (service,),
        lambda: frames.breakdown_uptime(
            frames.breakdown(frames.results_of(judged.by_service.get(service, ())), at, judged.rule),
            service,
            uptimes,
        ),
        held=uptimes,
    )
    table = built.copy()
    checked = pd.to_datetime(table["checked"], utc=True)
    # as frames.breakdown judges them: seconds since the check, at least 0, to 0.1 s
    table["age s"] = ((pd.Timestamp(at) - checked).dt.total_seconds().clip(lower=0.0)).round(1)
    table[frames.NAME_COLUMN] = [names.get(t, "") for t in table["tenant"]]
    return table


def clear() -> None:
    _GRIDS.clear()
    _BREAKDOWNS.clear()
