"""Figures that cost seconds to read at 10,000 tenants, kept per process and refreshed in the
background, so that a page view reads a kept value instead of waiting for the query.

A figure is named by a key and computed by a function of no arguments. The first `get` of a
key computes it (others asking for the same key meanwhile wait for that one computation, not
a second one); from then on a thread of the process recomputes it every `every_s` while pages
keep asking for it (a key nobody asked for in IDLE_S is dropped), and `get` answers with the
kept value however old, up to `max_age_s`. `peek` never computes: a live page that must not
wait (the matrix) shows the figure once it is there.

Streamlit runs every session's script in its own thread of one process: this module's one
`Kept` is shared by all of them (server.py starts its refresher before the server listens).
Under `healthmon dashboard` a `Figure` is computed in a worker process (one, started with the
refresher): at 10,000 tenants a figure is seconds of decoding rows, which in the server's own
process held the GIL while pages were being served, and its rows raised the server's peak
memory (docs/performance.md). Anything else given as `compute` runs in the caller's thread.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from healthmon.config.settings import load_settings
from healthmon.flows.app import App, build_app

log = logging.getLogger(__name__)

#: a key no page asked for in this long is no longer refreshed, and forgotten
IDLE_S = 600.0
#: a figure is recomputed no sooner than this many times its last cost after it: at 10,000
#: tenants some cost 10-20 s on a busy machine, and a refresher always at work would take the
#: CPU the pages' own scripts need
COST_FACTOR = 5.0


#: after its first round (the figures the first views ask for, as fast as it can) the refresher
#: is busy at most this share of the time: it rests three times each figure's cost after it.
#: At 10,000 tenants a round is 30-50 s of work, which back to back took a core from the pages
#: and Chromium on a 2-core machine; the figures are over hours and days and move slowly
REFRESH_SHARE = 0.25
#: the refresher's first round begins this long after the first page view's script ended (its
#: browser is still drawing it then), or FIRST_VIEW_WAIT_S after the start if nobody came: its
#: queries and the worker would otherwise share the two cores with the first visitor's page,
#: which took 1-2 s longer (docs/performance.md)
FIRST_VIEW_GRACE_S = 3.0
FIRST_VIEW_WAIT_S = 15.0
#: the worker process's niceness: the server's page runs and PostgreSQL come first
WORKER_NICE = 10


@dataclass(frozen=True)
class Figure:
    """A kept figure's computation: a module-level `function` of a runtime and plain arguments.
    Called, it runs here on `runtime`; the refresher's worker runs it on its own runtime, built
    from the same HEALTHMON_* settings (this process's runtime, with its engine's sockets,
    cannot be sent to another process)."""

    function: Callable[..., Any]
    runtime: App = field(compare=False, repr=False)
    args: tuple[Any, ...] = ()

    def __call__(self) -> Any:
        return self.function(self.runtime, *self.args)


_WORKER_APP: App | None = None


def _worker_started() -> None:
    os.nice(WORKER_NICE)
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "no runtime" notices on import


def _in_worker(function: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """A Figure's function on the worker's runtime, built on its first figure and kept."""
    global _WORKER_APP
    if _WORKER_APP is None:
        _WORKER_APP = build_app(load_settings())
    return function(_WORKER_APP, *args)


@dataclass
class _Entry:
    compute: Callable[[], Any]
    every_s: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    value: Any = None
    at: float | None = None
    asked: float = field(default_factory=time.monotonic)
    cost_s: float = 0.0


class Kept:
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._first_view = threading.Event()
        self._pool_guard = threading.Lock()

    def _entry(self, key: str, compute: Callable[[], Any], every_s: float) -> _Entry:
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry(compute, every_s)
            entry.asked = time.monotonic()
            return entry

    def _refresh(self, entry: _Entry) -> Any:
        started = time.monotonic()
        value = self._compute(entry.compute)
        entry.value, entry.at, entry.cost_s = value, time.monotonic(), time.monotonic() - started
        return value

    def _compute(self, compute: Callable[[], Any]) -> Any:
        pool = self._pool
        if pool is None or not isinstance(compute, Figure):
            return compute()
        try:
            future = pool.submit(_in_worker, compute.function, compute.args)
        except RuntimeError:  # the interpreter is exiting and has shut the pool down
            return compute()
        try:
            return future.result()
        except BrokenProcessPool:
            # the worker died (killed, out of memory): a new one for the next figure, this one here
            log.error("the dashboard's figure worker stopped; starting another")
            with self._pool_guard:
                if self._pool is pool:
                    self._pool = _new_pool()
            return compute()

    def get(self, key: str, compute: Callable[[], Any], every_s: float, max_age_s: float) -> Any:
        """The kept value if younger than `max_age_s`, else computed now (once for every
        caller waiting on it)."""
        entry = self._entry(key, compute, every_s)
        if entry.at is not None and time.monotonic() - entry.at < max_age_s:
            return entry.value
        with entry.lock:
            # another caller, or the refresher, may have computed it while this one waited
            if entry.at is not None and time.monotonic() - entry.at < max_age_s:
                return entry.value
            return self._refresh(entry)

    def peek(self, key: str, compute: Callable[[], Any], every_s: float) -> Any | None:
        """The kept value however old, or None while it has never been computed; either way
        the refresher keeps (or starts) computing it. Without a refresher (a script run outside
        `healthmon dashboard`'s server, e.g. under AppTest) nobody else would: `get` then."""
        if self._thread is None:
            return self.get(key, compute, every_s, every_s)
        entry = self._entry(key, compute, every_s)
        return entry.value if entry.at is not None else None

    def page_served(self) -> None:
        """A page's script run ended (app.py says so): the first one lets the refresher's first
        round begin, FIRST_VIEW_GRACE_S later."""
        self._first_view.set()

    def clear(self) -> None:
        """Forgets every kept value (a new runtime, or a test's new database)."""
        with self._guard:
            self._entries.clear()

    def refresh_due(self, rest: Callable[[float], None] | None = None) -> int:
        """Recomputes every key due (never computed, or older than its `every_s`), oldest first;
        forgets keys nobody asked for in IDLE_S. With `rest` (time.sleep), rests after each
        figure so that the refresher is busy at most REFRESH_SHARE of the time. Returns how
        many were computed."""
        now = time.monotonic()
        with self._guard:
            for key in [k for k, e in self._entries.items() if now - e.asked > IDLE_S]:
                del self._entries[key]
            due = [
                e
                for e in self._entries.values()
                if e.at is None or now - e.at >= max(e.every_s, COST_FACTOR * e.cost_s)
            ]
        done = 0
        for entry in sorted(due, key=lambda e: e.at or 0.0):
            # a page computing the same key holds its lock: that computation is as good
            if entry.lock.acquire(blocking=False):
                try:
                    self._refresh(entry)
                    done += 1
                except Exception:  # the next round tries again; a page's own get reports it
                    log.exception("refreshing a kept dashboard figure failed")
                finally:
                    entry.lock.release()
                if rest is not None:
                    rest(entry.cost_s * (1 / REFRESH_SHARE - 1))
        return done

    def start(
        self,
        wanted: Callable[[], None] = lambda: None,
        announce: bool = True,
        worker: bool = False,
        first_view_wait_s: float = FIRST_VIEW_WAIT_S,
    ) -> None:
        """The refresher thread (a daemon: it ends with the server). It first calls `wanted`,
        which names (peeks at) what to compute before anybody asks, then waits for the first
        page view (`page_served`, at most `first_view_wait_s`); with `announce`, one line on
        stderr once those are all computed. With `worker`, Figures are computed in a worker
        process from then on, whoever asks (a page asking before the first round computes its
        figure itself, as ever)."""
        if self._thread is not None:
            return
        if worker:
            self._pool = _new_pool()

        def loop() -> None:
            try:
                wanted()
            except Exception:
                log.exception("naming the dashboard's kept figures failed")
            if self._first_view.wait(first_view_wait_s):
                time.sleep(FIRST_VIEW_GRACE_S)
            first = True
            while True:
                started = time.monotonic()
                count = self.refresh_due(rest=None if first else time.sleep)
                if first and announce:
                    took = time.monotonic() - started
                    print(
                        f"healthmon dashboard: {count} kept figures computed in {took:.1f} s", file=sys.stderr
                    )
                first = False
                time.sleep(1.0)

        # set before the thread runs: from now on peek leaves the computing to it
        self._thread = threading.Thread(target=loop, name="healthmon-kept", daemon=True)
        self._thread.start()


def _new_pool() -> ProcessPoolExecutor:
    # spawned, not forked: the server has threads (a fork would copy their held locks) and an
    # engine whose sockets the worker must not share
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_started
    )


KEPT = Kept()
