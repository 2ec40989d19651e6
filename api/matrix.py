"""The matrix answer, serialized once per version of the cached view.

storage.queries keeps the whole service x tenant view as one cache entry (`MATRIX_KEY`), and
every writer deletes it after recording. So while the entry is the same, the answer is the
same: this module keeps the last answer's bytes (and its cells, for filtered requests) along
with the entry it was made from, and serves them until the entry changes. Building it costs
~45 ms for 17,000 cells (cell objects, JSON); serving the kept bytes costs nothing.

"The same entry" is identity for the in-process cache (it hands back the object it holds) and
equality for Redis (each read decodes a new copy; comparing is far cheaper than rebuilding).
The cells always come from `matrix_cells`, read *after* the entry used as the key, so a key is
never newer than its cells: a change between the two reads only costs one more rebuild.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from storage.cache import StatusCache
from storage.queries import CELL_FIELDS, MATRIX_KEY, Cell, counts, matrix_cells


@dataclass(frozen=True)
class View:
    source: Any
    cells: list[Cell]
    #: the answer without `generated_at`: `"fields":...,"cells":[...]}`
    tail: bytes


def _tail(cells: Sequence[Cell]) -> bytes:
    body = {
        "fields": CELL_FIELDS,
        "services": sorted({c.service for c in cells}),
        "tenants": sorted({c.tenant for c in cells if c.tenant is not None}),
        "counts": counts(cells),
        "cells": [
            [c.service, c.tenant, c.tier, c.status, c.latency_ms, c.checked_at, c.since, c.reason]
            for c in cells
        ],
    }
    return json.dumps(body, separators=(",", ":"), check_circular=False).encode()[1:]


def answer(tail: bytes, generated_at: str) -> bytes:
    return b'{"generated_at":"' + generated_at.encode() + b'",' + tail


def render(cells: Sequence[Cell], generated_at: str) -> bytes:
    return answer(_tail(cells), generated_at)


class MatrixViews:
    """One per app: the last view built, shared by the worker threads."""

    def __init__(self) -> None:
        self._last: View | None = None
        self._lock = threading.Lock()

    def current(self, engine: Engine, cache: StatusCache) -> View:
        entry = cache.get_many([MATRIX_KEY]).get(MATRIX_KEY)
        last = self._last
        if entry is not None and last is not None and (last.source is entry or last.source == entry):
            return last
        # one thread rebuilds; the others wait for it rather than all building the same view
        with self._lock:
            last = self._last
            if entry is not None and last is not None and (last.source is entry or last.source == entry):
                return last
            cells = matrix_cells(engine, cache)
            view = View(entry, cells, _tail(cells))
            self._last = view
            return view
