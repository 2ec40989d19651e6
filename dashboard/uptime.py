"""Uptime and the other figures over every tenant that cost seconds at 10,000 tenants, kept in
this process and refreshed in the background (dashboard/kept.py), so a page view reads them
instead of waiting.

Uptime over days moves far slower than the live pages refresh (a result moves a 30-day figure
by 1/8,640 at most): every target's 30 days are recomputed every TARGETS_TTL_S, the matrix's
24 h column every MATRIX_TTL_S, a per-tenant service's overview (latency and failing tenants
per bucket, its uptime distribution and whole-service report) every OVERVIEW_TTL_S. Counted by
flows/slo.py and storage/queries.py, like the API's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from healthmon.dashboard import context
from healthmon.dashboard.kept import KEPT, Figure
from healthmon.flows.app import App
from healthmon.flows.slo import SloReport, slo_report, tally_over, uptime_by_target, uptime_over
from healthmon.monitors.result import TargetKey
from healthmon.storage.queries import BUCKETS, WINDOWS, TenantsOverTime, tenants_over_time
from healthmon.storage.tenants import TenantInfo, list_tenants
from healthmon.storage.uptime import Tally

T = TypeVar("T")


def _store_key(rt: App) -> str:
    """Which store and config a kept figure is of (one process may switch runtimes)."""
    return f"{rt.settings.effective_database_url}|{rt.settings.config or ''}"


TARGETS_TTL_S = 300
MATRIX_TTL_S = 60
OVERVIEW_TTL_S = 60
TENANTS_TTL_S = 30
#: a kept figure older than this is computed again while the page waits (the refresher died)
MAX_AGE_S = 900


def _kept(key: str, compute: Callable[[], T], every_s: float, wait: bool) -> T | None:
    return KEPT.get(key, compute, every_s, MAX_AGE_S) if wait else KEPT.peek(key, compute, every_s)


# what each kept figure computes: module-level functions of the runtime and plain arguments,
# so that the refresher's worker process can run them (dashboard/kept.py)


def _targets(rt: App, service: str) -> dict[TargetKey, dict[str, float | None]]:
    return uptime_by_target(rt, service, context.now())


def _tallies(rt: App, services: tuple[str, ...], window: str) -> dict[TargetKey, Tally]:
    return tally_over(rt, services, window, context.now())


def _over_time(rt: App, service: str, window: str) -> TenantsOverTime:
    return tenants_over_time(rt.engine, service, context.now() - WINDOWS[window], BUCKETS[window])


def _uptime_over(rt: App, service: str, window: str) -> dict[TargetKey, float | None]:
    return uptime_over(rt, [service], window, context.now())


def _whole_service(rt: App, service: str) -> SloReport:
    return slo_report(rt, service, None, context.now(), whole_service=True)


def _tenants(rt: App) -> list[TenantInfo]:
    return list_tenants(rt.engine)


def targets(rt: App, service: str, wait: bool = True) -> dict[TargetKey, dict[str, float | None]]:
    """Every target's uptime over 24 h, 7 d and 30 d (with `wait` unset: None until kept)."""
    key = f"{_store_key(rt)}|targets|{service}"
    return _kept(key, Figure(_targets, rt, (service,)), TARGETS_TTL_S, wait) or {}


def tallies(
    rt: App, services: tuple[str, ...], window: str, wait: bool = True
) -> dict[TargetKey, Tally] | None:
    """Up and down time over one window for every target of these services; with `wait`
    unset, None until the refresher has computed them once (a live page that must not wait)."""
    key = f"{_store_key(rt)}|tallies|{','.join(services)}|{window}"
    return _kept(key, Figure(_tallies, rt, (services, window)), MATRIX_TTL_S, wait)


def over_time(rt: App, service: str, window: str, wait: bool = True) -> TenantsOverTime | None:
    """Latency percentiles and failing tenants per bucket over the window, every tenant."""
    key = f"{_store_key(rt)}|over_time|{service}|{window}"
    return _kept(key, Figure(_over_time, rt, (service, window)), OVERVIEW_TTL_S, wait)


def uptime_of_tenants(rt: App, service: str, window: str, wait: bool = True) -> dict[TargetKey, float | None]:
    """Each target's uptime over the window."""
    key = f"{_store_key(rt)}|uptime_over|{service}|{window}"
    return _kept(key, Figure(_uptime_over, rt, (service, window)), OVERVIEW_TTL_S, wait) or {}


def whole_service(rt: App, service: str, wait: bool = True) -> SloReport | None:
    """Every target of the service together: uptime, budget and burn rates."""
    key = f"{_store_key(rt)}|slo_whole|{service}"
    return _kept(key, Figure(_whole_service, rt, (service,)), OVERVIEW_TTL_S, wait)


def tenants(rt: App, wait: bool = True) -> list[TenantInfo]:
    """Every tenant (10,000 rows with their integrations' settings: a tenth of a second)."""
    # read here, not in the worker: sending 10,000 tenants back costs about what reading them does
    return _kept(f"{_store_key(rt)}|tenants", lambda: _tenants(rt), TENANTS_TTL_S, wait) or []


def warm(rt: App, services: tuple[str, ...], per_tenant: list[str]) -> None:
    """Names what the pages' first views ask for, so that the refresher computes it before
    anybody waits: the matrix's uptime column first, then each per-tenant service's overview
    at the default window (24 h), then the breakdowns' 30 days."""
    tallies(rt, services, "24h", wait=False)
    tenants(rt, wait=False)
    for service in per_tenant:
        over_time(rt, service, "24h", wait=False)
        uptime_of_tenants(rt, service, "24h", wait=False)
        whole_service(rt, service, wait=False)
    for service in per_tenant:
        targets(rt, service, wait=False)
