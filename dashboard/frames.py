"""Turning what storage returns into the tables and charts the pages show (no I/O here).

Kept apart from the page scripts so the shaping of 1,000 tenants x 17 services can be tested
and timed without a browser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import altair as alt
import pandas as pd
from pandas.io.formats.style import Styler

from healthmon.dashboard import status_style
from healthmon.dashboard.context import service_sort_key
from healthmon.monitors.result import CheckResult, Status, TargetKey
from healthmon.storage.queries import DEFAULT_RULE, Cell, StaleRule, freshness

TENANT_COLUMN = "tenant"
WORST_COLUMN = "worst"
PLATFORM_ROW = "platform"
#: Styler colours every cell through pandas' HTML machinery: past this many cells the colour
#: costs more than it is worth, and the emoji in each cell already carry the status
STYLE_MAX_CELLS = 10_000

SORT_WORST = "worst status first"
SORT_TENANT = "by tenant"
SORTS = (SORT_WORST, SORT_TENANT)


@dataclass(frozen=True)
class Matrix:
    """The platform row and the tenants grid: one row per tenant, one column per service."""

    platform: pd.DataFrame
    tenants: pd.DataFrame
    platform_services: list[str]
    tenant_services: list[str]


def _worse_cell(a: Cell | None, b: Cell) -> Cell:
    """The cell that decides a tenant's worst: by the status it counts as (a stale one as
    unknown at least), a fresh one over a stale one of the same rank."""
    if a is None:
        return b
    rank_a, rank_b = Status(a.shown_status).rank, Status(b.shown_status).rank
    if rank_a != rank_b:
        return a if rank_a > rank_b else b
    return a if b.stale or not a.stale else b


def matrix(cells: Sequence[Cell], sort: str = SORT_WORST) -> Matrix:
    """Each cell labelled with its status, or as stale (with the status it last had)."""
    platform: dict[str, str] = {}
    grid: dict[str, dict[str, str]] = {}
    worst_cell: dict[str, Cell] = {}
    for cell in cells:
        text = status_style.label(cell.status, cell.stale)
        if cell.tenant is None:
            platform[cell.service] = text
        else:
            grid.setdefault(cell.tenant, {})[cell.service] = text
            worst_cell[cell.tenant] = _worse_cell(worst_cell.get(cell.tenant), cell)
    platform_services = sorted(platform, key=service_sort_key)
    tenant_services = sorted({s for row in grid.values() for s in row}, key=service_sort_key)

    if sort == SORT_TENANT:
        order = sorted(grid)
    else:
        # a stale cell sorts as unknown at least: old good news is no good news
        order = sorted(grid, key=lambda t: (status_style.rank(worst_cell[t].shown_status), t))
    rows = [
        [t, status_style.label(worst_cell[t].status, worst_cell[t].stale)]
        + [grid[t].get(s, "") for s in tenant_services]
        for t in order
    ]
    tenants = pd.DataFrame(rows, columns=[TENANT_COLUMN, WORST_COLUMN, *tenant_services])
    platform_frame = pd.DataFrame(
        [[PLATFORM_ROW] + [platform[s] for s in platform_services]],
        columns=[TENANT_COLUMN, *platform_services],
    )
    if not platform_services:
        platform_frame = platform_frame.iloc[0:0]
    return Matrix(platform_frame, tenants, platform_services, tenant_services)


def _cell_css(value: object) -> str:
    if status_style.is_stale(value):
        return (
            f"background-color: {status_style.STALE_BACKGROUND}; color: {status_style.STALE_COLOUR}; "
            "font-style: italic"
        )
    status = status_style.status_of(value)
    if status is None:
        return ""
    return f"background-color: {status_style.BACKGROUNDS[status]}; color: {status_style.COLOURS[status]}"


def styled(frame: pd.DataFrame, status_columns: Sequence[str]) -> pd.DataFrame | Styler:
    """Cells coloured by status (green, amber, red, grey; stale purple), unless the table is
    too big for it."""
    if frame.empty or frame.shape[0] * max(1, len(status_columns)) > STYLE_MAX_CELLS:
        return frame
    return frame.style.map(_cell_css, subset=list(status_columns))


def cell_target(
    frame: pd.DataFrame, selection: Mapping[str, Any], services: Iterable[str]
) -> TargetKey | None:
    """(service, tenant) of the cell picked in a matrix table, if it is a status cell."""
    cells = selection.get("cells") or []
    if not cells:
        return None
    row, column = cells[0][0], cells[0][1]
    if column not in set(services) or not 0 <= int(row) < len(frame):
        return None
    tenant = str(frame.iloc[int(row)][TENANT_COLUMN])
    return str(column), None if tenant == PLATFORM_ROW else tenant


def needs_attention(cell: Cell) -> bool:
    return cell.status != "healthy" or cell.stale


def attention(cells: Sequence[Cell], limit: int = 500) -> pd.DataFrame:
    """Targets that are not healthy or are stale, worst first, then longest-standing first."""
    bad = [c for c in cells if needs_attention(c)]
    bad.sort(key=lambda c: (status_style.rank(c.shown_status), c.since, c.service, c.tenant or ""))
    return pd.DataFrame(
        [
            {
                "status": status_style.label(c.status, c.stale),
                "service": c.service,
                "tenant": c.tenant or "(platform)",
                "reason": c.reason or ("no newer result" if c.stale else ""),
                "since": _time(c.since),
                "checked": _time(c.checked_at),
                "latency ms": c.latency_ms,
            }
            for c in bad[:limit]
        ],
        columns=["status", "service", "tenant", "reason", "since", "checked", "latency ms"],
    )


def _time(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    found = datetime.fromisoformat(value) if isinstance(value, str) else value
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def breakdown(results: Sequence[CheckResult], now: datetime, rule: StaleRule = DEFAULT_RULE) -> pd.DataFrame:
    """Every tenant of a per-tenant service, worst first (a stale one as unknown at least)."""
    judged = [(r, *freshness(r, now, rule)) for r in results]

    def rank(item: tuple[CheckResult, float, bool]) -> tuple[int, str]:
        result, _age, stale = item
        shown = result.status.worse(Status.UNKNOWN) if stale else result.status
        return (status_style.rank(shown.value), result.tenant_id or "")

    return pd.DataFrame(
        [
            {
                "tenant": r.tenant_id or "(platform)",
                "status": status_style.label(r.status.value, stale),
                "latency ms": None if r.latency_ms is None else round(r.latency_ms, 1),
                "checked": r.checked_at,
                "reason": r.reason or "",
                "age s": age,
                "stale": stale,
            }
            for r, age, stale in sorted(judged, key=rank)
        ],
        columns=["tenant", "status", "latency ms", "checked", "reason", "age s", "stale"],
    )


def series_frame(series: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(series), columns=["at", "p50", "p95", "checks"])


def status_segments(
    first: str | None, changes: Sequence[Mapping[str, Any]], start: datetime, end: datetime
) -> pd.DataFrame:
    """Spans of one status each, from the status changes in the window (for the status band)."""
    rows: list[dict[str, Any]] = []
    current, since = first, start
    for change in changes:
        if current is not None:
            rows.append({"from": since, "to": change["at"], "status": current})
        current, since = change["to"], change["at"]
    if current is not None:
        rows.append({"from": since, "to": end, "status": current})
    return pd.DataFrame(rows, columns=["from", "to", "status"])


def alert_marks(alerts: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "at": a["first_seen"],
                "alert": f"#{a['id']} {a['title']}",
                "severity": a["severity"],
                "state": a["status"],
            }
            for a in alerts
        ],
        columns=["at", "alert", "severity", "state"],
    )


def _status_scale() -> alt.Scale:
    return alt.Scale(domain=list(status_style.COLOURS), range=list(status_style.COLOURS.values()))


CHART_HEIGHT = 380
#: the status strip sits between the plot and the time axis, pushed down to make room for it
STRIP_TOP, STRIP_BOTTOM, AXIS_OFFSET = 4, 16, 20


def history_chart(
    series: pd.DataFrame,
    changes: Sequence[Mapping[str, Any]],
    alerts: pd.DataFrame,
    segments: pd.DataFrame,
    start: datetime,
    end: datetime,
) -> alt.LayerChart:
    """p50/p95 lines; a rule at each status change (coloured by the new status); a dashed rule
    and a triangle at each alert's start; a strip below the plot coloured by status over time.

    One layered chart rather than a concatenation: Streamlit stretches a layer to the page's
    width, while concatenated views overflow it by their axes' width.
    """
    height = CHART_HEIGHT if not series.empty else 40
    domain = alt.Scale(domain=[start.isoformat(), end.isoformat()])
    x = alt.X("at:T", title=None, scale=domain, axis=alt.Axis(offset=AXIS_OFFSET))
    top_legend = alt.Legend(orient="top")
    layers: list[alt.Chart] = []
    if not series.empty:
        long = series.melt(
            id_vars=["at", "checks"], value_vars=["p50", "p95"], var_name="percentile", value_name="ms"
        )
        layers.append(
            alt.Chart(long)
            .mark_line(interpolate="monotone")
            .encode(
                x=x,
                y=alt.Y("ms:Q", title="latency (ms)"),
                color=alt.Color(
                    "percentile:N",
                    scale=alt.Scale(domain=["p50", "p95"], range=["#1f77b4", "#9467bd"]),
                    title=None,
                    # on top: a legend at the side narrows the plot
                    legend=top_legend,
                ),
                tooltip=[alt.Tooltip("at:T", format="%Y-%m-%d %H:%M"), "percentile:N", "ms:Q", "checks:Q"],
            )
        )
    layers.append(
        alt.Chart(segments)
        .mark_rect()
        .encode(
            x=alt.X("from:T", title=None, scale=domain, axis=alt.Axis(offset=AXIS_OFFSET)),
            x2="to:T",
            # relative to the plot's height as drawn: Streamlit fits the chart to its container
            y=alt.value(alt.expr(f"height + {STRIP_TOP}")),
            y2=alt.value(alt.expr(f"height + {STRIP_BOTTOM}")),
            color=alt.Color("status:N", scale=_status_scale(), legend=None),
            tooltip=[
                "status:N",
                alt.Tooltip("from:T", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("to:T", format="%Y-%m-%d %H:%M"),
            ],
        )
    )
    if changes:
        frame = pd.DataFrame([{"at": c["at"], "from": c["from"], "to": c["to"]} for c in changes])
        layers.append(
            alt.Chart(frame)
            .mark_rule(strokeWidth=2, opacity=0.7)
            .encode(
                x=x,
                color=alt.Color("to:N", scale=_status_scale(), title="status changed to", legend=top_legend),
                tooltip=[alt.Tooltip("at:T", format="%Y-%m-%d %H:%M:%S"), "from:N", "to:N"],
            )
        )
    if not alerts.empty:
        marks = alt.Chart(alerts)
        tooltip = [alt.Tooltip("at:T", format="%Y-%m-%d %H:%M:%S"), "alert:N", "severity:N", "state:N"]
        layers.append(marks.mark_rule(strokeDash=[4, 4], color="#d32f2f").encode(x=x, tooltip=tooltip))
        layers.append(
            marks.mark_point(shape="triangle-down", size=120, filled=True, color="#d32f2f").encode(
                x=x, y=alt.value(6), tooltip=tooltip
            )
        )
    return alt.layer(*layers).resolve_scale(color="independent").properties(height=height)


def alerts_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": r["id"],
                "severity": status_style.severity_label(r["severity"]),
                "state": status_style.alert_status_label(r["status"]),
                "title": r["title"],
                "service": r["service"],
                "tenant": r["tenant_id"] or "(platform)",
                "count": r["count"],
                "first seen": r["first_seen"],
                "last seen": r["last_seen"],
                "acknowledged by": r.get("acknowledged_by") or "",
                "note": r.get("note") or "",
                "held": r.get("held") or "",
            }
            for r in rows
        ],
        columns=[
            "id",
            "severity",
            "state",
            "title",
            "service",
            "tenant",
            "count",
            "first seen",
            "last seen",
            "acknowledged by",
            "note",
            "held",
        ],
    )


DELIVERY_COLUMNS = ["channel", "kind", "status", "attempts", "last_error", "delivered_at", "next_attempt_at"]


def deliveries_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{k: r.get(k) for k in DELIVERY_COLUMNS} for r in rows], columns=DELIVERY_COLUMNS)


SOURCE_EMOJI = {"default": "⚙️", "config": "📄", "service override": "🛠️", "tenant override": "🏷️"}


def thresholds_table(effective: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "metric": r["metric"],
                "degraded at": r["degraded"],
                "unhealthy at": r["unhealthy"],
                "direction": "below is worse" if r["inverse"] else "above is worse",
                "from": f"{SOURCE_EMOJI.get(r['source'], '')} {r['source']}".strip(),
            }
            for r in effective
        ],
        columns=["metric", "degraded at", "unhealthy at", "direction", "from"],
    )


def overrides_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "scope": f"tenant {r['tenant_id']}" if r["tenant_id"] else "service-wide",
                "metric": r["metric"],
                "degraded at": r["degraded"],
                "unhealthy at": r["unhealthy"],
                "inverse": bool(r["inverse"]),
                "updated": r.get("updated_at"),
                "by": r.get("updated_by") or "",
            }
            for r in rows
        ],
        columns=["scope", "metric", "degraded at", "unhealthy at", "inverse", "updated", "by"],
    )


def tenants_table(tenants: Iterable[Any], matches: Callable[[str], bool] = lambda _t: True) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": t.id,
                "name": t.name,
                "enabled": t.enabled,
                "integrations": sorted(t.integrations),
            }
            for t in tenants
            if matches(t.id) or matches(t.name)
        ],
        columns=["id", "name", "enabled", "integrations"],
    )


def silence_state(row: Mapping[str, Any], at: datetime) -> str:
    if row.get("ended_at") is not None:
        return "ended"
    ends, starts = _time(row["ends_at"]), _time(row["starts_at"])
    if ends is not None and ends <= at:
        return "expired"
    if starts is not None and starts > at:
        return "scheduled"
    return "recurring" if row.get("recurrence") else "active"


def silences_table(rows: Sequence[Mapping[str, Any]], at: datetime) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": r["id"],
                "state": silence_state(r, at),
                "service": r["service"] or "(all)",
                "tenant": r["tenant_id"] or "(all)",
                "starts": r["starts_at"],
                "ends": r["ends_at"],
                "reason": r.get("reason") or "",
                "by": r.get("created_by") or "",
                "ended": r.get("ended_at"),
            }
            for r in rows
        ],
        columns=["id", "state", "service", "tenant", "starts", "ends", "reason", "by", "ended"],
    )
