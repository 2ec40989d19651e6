"""Uptime for the live pages, read from history at most every few minutes.

The matrix and the per-tenant breakdown re-run every few seconds; uptime over days moves far
slower and, even with whole hours read from the uptime rollup (storage/uptime_hours.py),
costs a large read (30 days of 1,000 tenants: about a second, docs/performance.md),
so each figure is kept per store and config: every target's 30 days for TARGETS_TTL_S, the
matrix's 24 h column for MATRIX_TTL_S. Counted by flows/slo.py, like the API's.
"""

from __future__ import annotations

import streamlit as st

from healthmon.dashboard import context
from healthmon.flows.app import App
from healthmon.flows.slo import tally_over, uptime_by_target
from healthmon.monitors.result import TargetKey
from healthmon.storage.uptime import Tally


def _store_key(rt: App) -> str:
    """Which store and config a cached figure is of (the cache is the process's, the App is not
    hashable)."""
    return f"{rt.settings.effective_database_url}|{rt.settings.config or ''}"


#: a result moves a 30-day figure by 1/8,640 at most (a 5-minute check): minutes of delay are invisible
TARGETS_TTL_S = 300
MATRIX_TTL_S = 60


@st.cache_data(ttl=TARGETS_TTL_S, show_spinner=False, max_entries=64)
def _targets(_rt: App, store: str, service: str) -> dict[TargetKey, dict[str, float | None]]:
    return uptime_by_target(_rt, service, context.now())


@st.cache_data(ttl=MATRIX_TTL_S, show_spinner=False, max_entries=16)
def _tallies(_rt: App, store: str, services: tuple[str, ...], window: str) -> dict[TargetKey, Tally]:
    return tally_over(_rt, services, window, context.now())


def targets(rt: App, service: str) -> dict[TargetKey, dict[str, float | None]]:
    """Every target's uptime over 24 h, 7 d and 30 d."""
    return _targets(rt, _store_key(rt), service)


def tallies(rt: App, services: tuple[str, ...], window: str) -> dict[TargetKey, Tally]:
    """Up and down time over one window for every target of these services."""
    return _tallies(rt, _store_key(rt), services, window)
