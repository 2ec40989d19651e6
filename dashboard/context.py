"""What every page shares: the runtime, who is signed in, refresh timing, messages across reruns.

Pages read and write only through storage/, flows/ and alerting/ functions; this module hands
them the process's App and a few Streamlit conveniences.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NoReturn

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler
from sqlalchemy.exc import OperationalError, ProgrammingError

from healthmon.config import ConfigError, Settings
from healthmon.config.settings import load_settings
from healthmon.dashboard.kept import KEPT
from healthmon.flows import alerts as flow_alerts
from healthmon.flows.app import App, build_app
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import Status, Tier
from healthmon.storage.cache import StatusCache
from healthmon.storage.queries import Cell, StaleRule, matrix_entry, matrix_version

#: how often the live parts (matrix, service status, alerts) re-read; with VIEW_TTL_S a new
#: result shows within 5 s even without Redis, where writers cannot invalidate this process's view
LIVE_EVERY_S = 3
#: the dashboard's own copy of the matrix view lives at most this long (see ViewCache)
VIEW_TTL_S = 2
#: with Redis, writers delete the view whenever a status changes: a longer life only saves
#: rebuilds (40,000 rows: 1-3 s at 10,000 tenants)
REDIS_VIEW_TTL_S = 60
#: slower parts (30 days of history for a chart) refresh less often
SLOW_EVERY_S = 30
USER_KEY = "healthmon_user"
FLASH_KEY = "healthmon_flash"
DEFAULT_USER = "dashboard"
TIER_ORDER: tuple[str, ...] = tuple(t.value for t in Tier)
#: page scripts, relative to app.py (what st.switch_page expects)
SERVICE_PAGE = "views/service.py"
NO_RESULTS = "No results yet — is `healthmon serve` running? (`healthmon check` records one run now.)"


def _fail(message: str) -> NoReturn:
    st.error(message, icon="🚫")
    st.stop()


def settings() -> Settings:
    """HEALTHMON_* as they are now (cheap: environment only, no config file, no database)."""
    try:
        return load_settings()
    except ConfigError as exc:
        _fail(str(exc))


def _fingerprint(found: Settings) -> str:
    """A key for the cached runtime: a changed database, cache, config or key builds a new one.
    A digest, so no secret is kept as a cache key."""
    parts = [
        found.effective_database_url,
        found.redis_url or "",
        str(found.config or ""),
        found.secret_key.get_secret_value() if found.secret_key is not None else "",
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _close(runtime: App) -> None:
    runtime.close()


@st.cache_resource(max_entries=1, on_release=_close, show_spinner="Connecting to healthmon's database…")
def _runtime_for(fingerprint: str) -> App:
    """One App (engine pool, cache client, alert channels) for every session of the process."""
    return build_app(load_settings())


def runtime() -> App:
    """The process's App, built from HEALTHMON_* and the YAML config on first use."""
    try:
        return _runtime_for(_fingerprint(settings()))
    except ConfigError as exc:
        _fail(f"Configuration error — {exc}")


def reset() -> None:
    """Drop the cached runtime (closing it) and every figure kept from it: the next page run
    builds a new one."""
    _runtime_for.clear()
    _ROWS.clear()
    _JUDGED.clear()
    KEPT.clear()


class ViewCache:
    """The runtime's cache, with writes by the dashboard capped at VIEW_TTL_S.

    Without Redis the cache is this process's memory, which writers in other processes cannot
    invalidate: only the view's short life keeps the matrix fresh. With Redis, writers delete
    the view at once and the cap only costs a rebuild now and then.
    """

    def __init__(self, inner: StatusCache) -> None:
        self._inner = inner

    @property
    def backend(self) -> str:
        return self._inner.backend

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        return self._inner.get_many(keys)

    def set_many(self, entries: Mapping[str, dict[str, Any]], ttl_s: int) -> None:
        if self._inner.backend == "redis":
            self._inner.set_many(entries, max(ttl_s, REDIS_VIEW_TTL_S))
        else:
            self._inner.set_many(entries, min(ttl_s, VIEW_TTL_S))

    def delete(self, keys: Iterable[str]) -> None:
        self._inner.delete(keys)

    def publish(self, channel: str, messages: Iterable[Mapping[str, Any]]) -> int:
        return self._inner.publish(channel, messages)


def view_cache(rt: App) -> ViewCache:
    return ViewCache(rt.cache)


#: the view's rows as last read, per store: (version, rows, each row's checked_at in microseconds)
_ROWS: dict[str, tuple[str, list[list[Any]], list[int]]] = {}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Judged:
    """The view's cells judged at one instant, and the same cells by service."""

    key: tuple[str, StaleRule, datetime]
    cells: tuple[Cell, ...]
    by_service: dict[str, tuple[Cell, ...]]
    #: what a frame built from the cells depends on: the view's version, the rule, and which
    #: cells are stale (everything else in a cell but its age comes with the version)
    signature: tuple[str, StaleRule, int]

    @property
    def rule(self) -> StaleRule:
        return self.key[1]

    @property
    def at(self) -> datetime:
        """The instant the cells were judged at."""
        return self.key[2]


#: the cells last judged, per store: what every page part and session asking within the same
#: second shares
_JUDGED: dict[str, Judged] = {}


def cells(
    rt: App, at: datetime | None = None, rule: StaleRule | None = None, service: str | None = None
) -> Sequence[Cell]:
    """Every target's latest status (`storage.queries.matrix_cells`), or those of one
    `service`, with age and staleness judged at `at` by `monitors.result.staleness`'s rule.

    With `at` unset they are judged at the current whole second, once for every caller in
    that second: at 10,000 tenants a page asked for its 40,000 cells three or four times a run
    and every session every 3 s (a few tenths of a second each); ages are then up to a second
    early, below what a page shows. The view's rows are decoded once per version: while the
    cached version is unchanged only the version is read (the rows of 10,000 tenants are
    ~4 MB of JSON, most of a second to fetch and decode), and their times are parsed once."""
    judged = judge(rt, at, rule)
    if service is None:
        return judged.cells
    return judged.by_service.get(service, ())


def judge(rt: App, at: datetime | None = None, rule: StaleRule | None = None) -> Judged:
    """`cells`, with the cells by service and their signature."""
    cache = view_cache(rt)
    store = rt.settings.effective_database_url
    version = matrix_version(cache)
    kept = _ROWS.get(store)
    if version is None or kept is None or kept[0] != version:
        version, rows = matrix_entry(rt.engine, cache)
        times = [(datetime.fromisoformat(r[5]) - _EPOCH) // _MICROSECOND for r in rows]
        kept = _ROWS[store] = (version, rows, times)
    version, rows, times = kept
    rule = rule or stale_rule(rt)
    key = (version, rule, at or now().replace(microsecond=0))
    judged = _JUDGED.get(store)
    if judged is None or judged.key != key:
        found = tuple(_judge(rows, times, rule, key[2]))
        by_service: dict[str, list[Cell]] = {}
        for cell in found:
            by_service.setdefault(cell.service, []).append(cell)
        stale = hash(tuple(i for i, c in enumerate(found) if c.stale))
        judged = _JUDGED[store] = Judged(
            key, found, {s: tuple(c) for s, c in by_service.items()}, (version, rule, stale)
        )
    return judged


def _judge(rows: list[list[Any]], times: list[int], rule: StaleRule, at: datetime) -> Iterator[Cell]:
    limits = {tier: rule.limit_s(tier) for tier in {r[2] for r in rows}}
    now_us = (at - _EPOCH) // _MICROSECOND
    for row, checked_us in zip(rows, times, strict=True):
        # exactly staleness(): (now - checked_at).total_seconds(), at least 0, rounded to 0.1 s
        age = max(0.0, (now_us - checked_us) / 1e6)
        stale = age > limits[row[2]]
        c0, c1, c2, c3, c4, c5, c6, c7 = row
        yield Cell(c0, c1, c2, c3, c4, c5, c6, c7, round(age, 1), stale)


def stale_rule(rt: App) -> StaleRule:
    """When a latest result is stale, from the config (`watchdog.stale_after`)."""
    return StaleRule(rt.config.watchdog.stale_after)


def send_now(rt: App, delivery_ids: Sequence[int]) -> str | None:
    """Send queued notices at once, like the CLI; what fails stays queued for the delivery flow.
    Returns a sentence for the user, or None when nothing was queued."""
    if not delivery_ids:
        return None
    report = asyncio.run(flow_alerts.send_now(rt, delivery_ids))
    text = f"{report.delivered} notice(s) sent"
    if report.retrying:
        text += f", {report.retrying} will be retried"
    if report.failed:
        text += f", {report.failed} failed"
    return text


def who() -> str:
    """The signed-in name, for acknowledgements and overrides."""
    return str(st.session_state.get(USER_KEY) or DEFAULT_USER)


def now() -> datetime:
    return datetime.now(UTC)


def flash(message: str, kind: Literal["success", "error", "info"] = "success") -> None:
    """A message to show after the st.rerun() that follows a write."""
    st.session_state[FLASH_KEY] = (kind, message)


def show_flash() -> None:
    found = st.session_state.pop(FLASH_KEY, None)
    if found is None:
        return
    kind, message = found
    if kind == "success":
        st.success(message, icon="✅")
    elif kind == "error":
        st.error(message, icon="🚫")
    else:
        st.info(message)


@contextmanager
def guarded() -> Iterator[None]:
    """Database trouble becomes a message in place, not a traceback: a fragment that reruns
    every few seconds must keep trying while the database restarts."""
    try:
        yield
    except (OperationalError, ProgrammingError) as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        if "no such table" in first or "does not exist" in first:
            st.error(f"healthmon's database has no tables yet — run `healthmon db upgrade`. ({first})")
        else:
            st.error(f"healthmon's database failed: {first}")


def services() -> list[str]:
    """Every service, by tier then name (the order of the matrix columns)."""
    return sorted(MONITORS, key=service_sort_key)


def service_sort_key(service: str) -> tuple[int, str]:
    monitor = MONITORS.get(service)
    tier = TIER_ORDER.index(monitor.tier.value) if monitor is not None else len(TIER_ORDER)
    return (tier, service)


#: what a table shows for a missing value (Streamlit's own is the word "None")
MISSING = "—"
#: st.dataframe's header and row heights, in pixels
HEADER_PX, ROW_PX = 38, 35


def table(data: pd.DataFrame | Styler, *, max_height: int | None = None, **options: Any) -> Any:
    """st.dataframe as every page shows a table: "—" for a missing value, never "None"; with
    `max_height`, no taller than that (shorter when the rows fit) and, when rows are cut off,
    a line under it saying so ("showing 10 of 12 rows; scroll for the rest")."""
    rows = len(data.data) if isinstance(data, Styler) else len(data)
    if max_height is not None:
        options["height"] = min(HEADER_PX + ROW_PX * rows, max_height)
    event = st.dataframe(data, placeholder=MISSING, **options)
    visible = rows if max_height is None else (max_height - HEADER_PX) // ROW_PX
    if rows > visible:
        st.caption(f"showing {visible} of {rows:,} rows; scroll for the rest")
    return event


def opening_service(rt: App, cells: Iterable[Cell]) -> str | None:
    """Where service detail opens without `?service=`: the worst of the services this
    deployment checks and has results for (a stale one as unknown at least), by tier on a tie;
    a service nobody checks would only say "no results yet". None when nothing is checked."""
    scheduled = set(rt.scheduled_services())
    worst: dict[str, int] = {}
    for cell in cells:
        if cell.service in scheduled:
            worst[cell.service] = max(worst.get(cell.service, -1), Status(cell.shown_status).rank)
    if not worst:
        return next((s for s in services() if s in scheduled), None)
    return min(worst, key=lambda s: (-worst[s], service_sort_key(s)))


def per_tenant(service: str) -> bool:
    monitor = MONITORS.get(service)
    return bool(monitor is not None and monitor.per_tenant)


def tier_of(service: str) -> str:
    monitor = MONITORS.get(service)
    return monitor.tier.value if monitor is not None else "?"


def ago(iso_or_dt: str | datetime | None, at: datetime | None = None) -> str:
    """`42 s ago`, `5 min ago`, `3 h ago`, `2 d ago`."""
    if iso_or_dt is None:
        return "—"
    then = datetime.fromisoformat(iso_or_dt) if isinstance(iso_or_dt, str) else iso_or_dt
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return f"{age_text(((at or now()) - then).total_seconds())} ago"


def age_text(seconds: float) -> str:
    """`42 s`, `5 min`, `3 h`, `2 d`."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def span_s(seconds: float) -> str:
    """`30 s`, `1 min`, `5 min`, `1 h`: an interval."""
    return f"{seconds:g} s" if seconds < 60 else span(timedelta(seconds=seconds))


def span(length: timedelta) -> str:
    """`10 min`, `1 h`, `4 h`."""
    minutes = length.total_seconds() / 60
    return f"{minutes:g} min" if minutes < 60 else f"{minutes / 60:g} h"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: object) -> str:
    """Text typed by a person, escaped for st.markdown: it may not turn into links or headings."""
    return _MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))
