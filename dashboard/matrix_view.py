"""The matrix page's grid, kept while what it is built from is unchanged.

At 10,000 tenants building the grid (40,000 cells into 10,000 rows, the uptime column, the
list of what needs attention) was most of the page's run, and the page reruns every 3 s in
every open session. What the grid shows changes only with the view's version, which cells
are stale, the filters, the response state and the uptime figure: a run that finds them all
as before takes the grid already built (shared by every session of the process).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from healthmon.dashboard import frames
from healthmon.dashboard.context import Judged
from healthmon.monitors.result import TargetKey
from healthmon.storage.queries import Cell, counts, filter_cells, stale_count
from healthmon.storage.uptime import Tally

#: grids kept at once: a few sessions' filter choices
KEEP = 16


@dataclass(frozen=True)
class MatrixView:
    #: positions in the judged cells of those that pass the filters, in order
    shown: tuple[int, ...]
    grid: frames.Matrix
    attention: pd.DataFrame
    not_healthy: int
    counts: dict[str, int]
    stale: int
    #: what the grid was built from, kept so that its identity in the key stays unique
    tallies: Mapping[TargetKey, Tally] | None


_KEPT: OrderedDict[tuple[Any, ...], MatrixView] = OrderedDict()
_GUARD = threading.Lock()


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
    key = (
        judged.signature,
        tuple(tiers),
        tuple(statuses),
        search,
        sort,
        tuple(wanted),
        frozenset(response.items()),
        tuple(sorted(names.items())) if search else None,
        id(tallies),
    )
    with _GUARD:
        found = _KEPT.get(key)
        if found is not None:
            _KEPT.move_to_end(key)
            return found
    found = _build(judged.cells, tiers, statuses, search, sort, wanted, response, names, tallies)
    with _GUARD:
        _KEPT[key] = found
        while len(_KEPT) > KEEP:
            _KEPT.popitem(last=False)
    return found


def _build(
    every: Sequence[Cell],
    tiers: Sequence[str],
    statuses: Sequence[str],
    search: str,
    sort: str,
    wanted: Sequence[str],
    response: Mapping[TargetKey, frames.Response],
    names: Mapping[str, str],
    tallies: Mapping[TargetKey, Tally] | None,
) -> MatrixView:
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
        tallies=tallies,
    )


def clear() -> None:
    with _GUARD:
        _KEPT.clear()
