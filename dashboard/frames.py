"""Turning what storage returns into the tables and charts the pages show (no I/O here).

Kept apart from the page scripts so the shaping of 1,000 tenants x 17 services can be tested
and timed without a browser.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import altair as alt
import pandas as pd
from pandas.io.formats.style import Styler

from healthmon.alerting.lifecycle import ROLLUP
from healthmon.alerting.silences import SilenceView, holding_silence
from healthmon.dashboard import status_style
from healthmon.dashboard.context import service_sort_key
from healthmon.monitors.result import CheckResult, Status, TargetKey, Tier
from healthmon.storage.queries import DEFAULT_RULE, Cell, StaleRule, freshness
from healthmon.storage.uptime import Tally

TENANT_COLUMN = "tenant"
#: the tenant's display name, beside the id (which stays: clicks and links read the id)
NAME_COLUMN = "name"
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
    #: a page of the tenants (page_of): the index of its first row among all, and their number
    first_row: int = 0
    total_rows: int = 0


def _worse_cell(a: Cell | None, b: Cell) -> Cell:
    """The cell that decides a tenant's worst: by the status it counts as (a stale one as
    unknown at least), a fresh one over a stale one of the same rank."""
    if a is None:
        return b
    rank_a, rank_b = Status(a.shown_status).rank, Status(b.shown_status).rank
    if rank_a != rank_b:
        return a if rank_a > rank_b else b
    return a if b.stale or not a.stale else b


def matrix(
    cells: Sequence[Cell], sort: str = SORT_WORST, response: Mapping[TargetKey, Response] | None = None
) -> Matrix:
    """Each cell labelled with its status, or as stale (with the status it last had), then
    the marks of its response state, if any."""
    platform: dict[str, str] = {}
    grid: dict[str, dict[str, str]] = {}
    worst_cell: dict[str, Cell] = {}
    marks = response or {}
    for cell in cells:
        text = status_style.label(cell.status, cell.stale)
        if cell.key in marks:
            text += MARK_SEP + marks[cell.key].marks()
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


#: tenants per page of the matrix grid
MATRIX_PAGE_ROWS = 1000


def page_of(grid: Matrix, page: int, rows: int = MATRIX_PAGE_ROWS) -> Matrix:
    """The grid's tenants on page `page` (from 1), in the grid's order."""
    first = (max(1, page) - 1) * rows
    part = grid.tenants.iloc[first : first + rows].reset_index(drop=True)
    return replace(grid, tenants=part, first_row=first, total_rows=len(grid.tenants))


def with_names(grid: Matrix, names: Mapping[str, str]) -> Matrix:
    """The grid with the tenants' display names in a column after the id (empty without one)."""
    tenants = grid.tenants.copy()
    tenants.insert(1, NAME_COLUMN, [names.get(t, "") for t in tenants[TENANT_COLUMN]])
    return Matrix(grid.platform, tenants, grid.platform_services, grid.tenant_services)


#: what a matrix cell says besides its status: how on-call is responding to it
OPEN_MARK = "🔔"
ACKNOWLEDGED_MARK = "👀"
SILENCED_MARK = "🔕"
#: between a cell's status label and its response marks (styling reads the label before it)
MARK_SEP = " · "
ALERTED, UNACKNOWLEDGED, SILENCED = "alerted", "unacknowledged", "silenced"
RESPONSE_FILTERS = (ALERTED, UNACKNOWLEDGED, SILENCED)
RESPONSE_LEGEND = (
    f"{OPEN_MARK} open alert (unacknowledged) · {ACKNOWLEDGED_MARK} acknowledged alert · "
    f"{SILENCED_MARK} silenced: notifications held back"
)


@dataclass(frozen=True)
class Response:
    """A target's response state: its worst live alert's state and whether a silence holds it."""

    alert: str | None = None  # open | acknowledged
    silenced: bool = False

    def marks(self) -> str:
        alert = {"open": OPEN_MARK, "acknowledged": ACKNOWLEDGED_MARK}.get(self.alert or "", "")
        return f"{alert}{SILENCED_MARK if self.silenced else ''}"

    def matches(self, wanted: Iterable[str]) -> bool:
        """Every filter wanted holds (alerted: any live alert; unacknowledged: an open one)."""
        holds = {
            ALERTED: self.alert is not None,
            UNACKNOWLEDGED: self.alert == "open",
            SILENCED: self.silenced,
        }
        return all(holds[w] for w in wanted)


NO_RESPONSE = Response()


def responses(
    cells: Iterable[Cell], live: Iterable[Any], silences: Sequence[SilenceView], now: datetime
) -> dict[TargetKey, Response]:
    """The response state of each cell that has one, from the live alerts (rows with service,
    tenant_id, condition, status, details) and the active silences, read once per page run.
    A cross-tenant rollup alert counts for each tenant it lists; an open alert outranks an
    acknowledged one; what a silence covers is alerting.silences' rule."""
    state: dict[TargetKey, str] = {}
    for alert in live:
        covered = (
            [(alert.service, t) for t in (alert.details or {}).get("tenants") or []]
            if alert.condition == ROLLUP
            else [(alert.service, alert.tenant_id)]
        )
        for key in covered:
            if state.get(key) != "open":
                state[key] = alert.status
    found = {}
    for cell in cells:
        silenced = bool(silences) and holding_silence(silences, cell.service, cell.tenant, now) is not None
        if cell.key in state or silenced:
            found[cell.key] = Response(state.get(cell.key), silenced)
    return found


def with_response(
    cells: Sequence[Cell], found: Mapping[TargetKey, Response], wanted: Iterable[str]
) -> list[Cell]:
    """The cells whose response state passes every filter wanted."""
    chosen = list(wanted)
    if not chosen:
        return list(cells)
    return [c for c in cells if found.get(c.key, NO_RESPONSE).matches(chosen)]


def _cell_css(value: object) -> str:
    if isinstance(value, str):
        value = value.split(MARK_SEP)[0]
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
    # pandas' Styler renders every cell of the frame, not only the coloured columns: 10,000
    # rows of the breakdown cost seconds per refresh
    if frame.empty or frame.size > STYLE_MAX_CELLS:
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
                "latency ms": _ms(c.latency_ms),
            }
            for c in bad[:limit]
        ],
        columns=["status", "service", "tenant", "reason", "since", "checked", "latency ms"],
    )


def _ms(latency: float | None) -> float | None:
    """Latency as every face shows it: to 0.1 ms (the rest is timer noise)."""
    return None if latency is None else round(latency, 1)


def _time(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    found = datetime.fromisoformat(value) if isinstance(value, str) else value
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def results_of(cells: Iterable[Cell]) -> list[CheckResult]:
    """The matrix view's cells as latest results (status, latency, time, reason): what the
    breakdown shows, without reading each target's cached result again (10,000 keys)."""
    return [
        CheckResult(
            c.service,
            c.tenant,
            Tier(c.tier),
            Status(c.status),
            c.latency_ms,
            {"reason": c.reason} if c.reason else {},
            datetime.fromisoformat(c.checked_at),
        )
        for c in cells
    ]


def breakdown(
    results: Sequence[CheckResult],
    now: datetime,
    rule: StaleRule = DEFAULT_RULE,
    names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Every tenant of a per-tenant service, worst first (a stale one as unknown at least),
    with its display name, if it has one, beside the id."""
    named = names or {}
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
                "latency ms": _ms(r.latency_ms),
                "checked": r.checked_at,
                "reason": r.reason or "",
                "age s": age,
                "stale": stale,
                NAME_COLUMN: named.get(r.tenant_id or "", ""),
            }
            for r, age, stale in sorted(judged, key=rank)
        ],
        # the name last in the frame, so its columns before it stay where readers of the frame
        # find them; shown beside the id (name_beside_tenant)
        columns=["tenant", "status", "latency ms", "checked", "reason", "age s", "stale", NAME_COLUMN],
    )


def name_beside_tenant(columns: Iterable[str]) -> list[str]:
    """The order to show a table's columns in (st.dataframe's column_order): the name right
    after the tenant id."""
    rest = [c for c in columns if c not in (TENANT_COLUMN, NAME_COLUMN)]
    return [TENANT_COLUMN, NAME_COLUMN, *rest]


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


def lines(
    frame: pd.DataFrame,
    *,
    keep: str,
    values: list[str],
    name: str,
    value: str,
    x: alt.X,
    y: alt.Y,
    color: alt.Color,
) -> alt.Chart:
    """One line per column of `values` over `at`, `keep` in the tooltip. With one row, each
    value is drawn as a point too: a line through one point is drawn as nothing at all."""
    long = frame.melt(id_vars=["at", keep], value_vars=values, var_name=name, value_name=value)
    point = alt.OverlayMarkDef(filled=True, size=60) if len(frame) == 1 else False
    return (
        alt.Chart(long)
        .mark_line(interpolate="monotone", point=point)
        .encode(
            x=x,
            y=y,
            color=color,
            tooltip=[alt.Tooltip("at:T", format="%Y-%m-%d %H:%M"), f"{name}:N", f"{value}:Q", f"{keep}:Q"],
        )
    )


def latency_lines(series: pd.DataFrame, x: alt.X, legend: alt.Legend) -> alt.Chart:
    """p50 and p95 of a latency series (`series_frame`) over time."""
    return lines(
        series,
        keep="checks",
        values=["p50", "p95"],
        name="percentile",
        value="ms",
        x=x,
        y=alt.Y("ms:Q", title="latency (ms)"),
        color=alt.Color(
            "percentile:N",
            scale=alt.Scale(domain=["p50", "p95"], range=["#1f77b4", "#9467bd"]),
            title=None,
            # on top: a legend at the side narrows the plot
            legend=legend,
        ),
    )


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
        layers.append(latency_lines(series, x, top_legend))
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


def group_label(key: str) -> str:
    """ "meta_ads|health" -> "meta_ads · health": how people read a group key."""
    return " · ".join(key.split("|"))


@dataclass(frozen=True)
class AlertGroup:
    """The live alerts of one service and condition, as the Alerts page lists them."""

    key: str
    alerts: list[Mapping[str, Any]]
    by_state: dict[str, int]
    by_severity: dict[str, int]
    #: the reason of its worst alert (highest severity, then the worst status, newest first)
    worst_reason: str

    @property
    def label(self) -> str:
        return group_label(self.key)

    @property
    def worst_severity(self) -> str:
        return min(self.by_severity)

    def summary(self) -> str:
        """One line: counts by state and severity, then the worst reason."""
        states = " · ".join(
            f"{status_style.alert_status_label(s)} {n}" for s, n in self.by_state.items() if n
        )
        severities = " · ".join(f"{status_style.severity_label(s)} {n}" for s, n in self.by_severity.items())
        return f"{len(self.alerts)} alerts · {states} · {severities} · {self.worst_reason}"


def _badness(alert: Mapping[str, Any]) -> tuple[str, int, int]:
    status = (alert.get("details") or {}).get("status")
    return (alert["severity"], status_style.rank(status or ""), -alert["id"])


def alert_groups(rows: Iterable[Mapping[str, Any]]) -> list[AlertGroup]:
    """Alerts grouped by service and condition (alerting.lifecycle.group_key), the worst group
    first (by severity, then size)."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(f"{row['service']}|{row['condition']}", []).append(row)
    groups = []
    for key, alerts in grouped.items():
        worst = min(alerts, key=_badness)
        groups.append(
            AlertGroup(
                key=key,
                alerts=sorted(alerts, key=lambda a: (a.get("tenant_id") or "", a["id"])),
                by_state={s: sum(1 for a in alerts if a["status"] == s) for s in ("open", "acknowledged")},
                by_severity=dict(sorted(Counter(a["severity"] for a in alerts).items())),
                worst_reason=str((worst.get("details") or {}).get("reason") or worst["title"]),
            )
        )
    return sorted(groups, key=lambda g: (g.worst_severity, -len(g.alerts), g.key))


GROUP_COLUMNS = [
    "tenant",
    "id",
    "state",
    "severity",
    "reason",
    "count",
    "first seen",
    "last seen",
    "acknowledged by",
    "note",
]


def group_table(alerts: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One group's alerts, one row per tenant."""
    return pd.DataFrame(
        [
            {
                "tenant": a["tenant_id"] or "(platform)",
                "id": a["id"],
                "state": status_style.alert_status_label(a["status"]),
                "severity": status_style.severity_label(a["severity"]),
                "reason": (a.get("details") or {}).get("reason") or "",
                "count": a["count"],
                "first seen": a["first_seen"],
                "last seen": a["last_seen"],
                "acknowledged by": a.get("acknowledged_by") or "",
                "note": a.get("note") or "",
            }
            for a in alerts
        ],
        columns=GROUP_COLUMNS,
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


# -- a per-tenant service across its tenants -------------------------------------------------

#: uptime bands, best first: (label, the lowest uptime in it)
UPTIME_BANDS: tuple[tuple[str, float], ...] = (
    ("100%", 1.0),
    ("99.9-100%", 0.999),
    ("99-99.9%", 0.99),
    ("95-99%", 0.95),
    ("< 95%", 0.0),
)
NO_DATA = "no data"
OVERVIEW_HEIGHT = 220


def uptime_distribution(uptimes: Iterable[float | None]) -> pd.DataFrame:
    """How many tenants fall in each uptime band, best band first (None: no data)."""
    found = {label: 0 for label, _lowest in UPTIME_BANDS} | {NO_DATA: 0}
    for value in uptimes:
        band = NO_DATA if value is None else next(label for label, low in UPTIME_BANDS if value >= low)
        found[band] += 1
    return pd.DataFrame(list(found.items()), columns=["uptime", "tenants"])


def _time_axis(start: datetime, end: datetime) -> alt.X:
    return alt.X("at:T", title=None, scale=alt.Scale(domain=[start.isoformat(), end.isoformat()]))


def tenants_latency_chart(series: pd.DataFrame, start: datetime, end: datetime) -> alt.Chart:
    """p50/p95 of every tenant's checks per bucket."""
    return latency_lines(series, _time_axis(start, end), alt.Legend(orient="top")).properties(
        height=OVERVIEW_HEIGHT
    )


def failing_tenants_frame(statuses: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(statuses), columns=["at", "degraded", "unhealthy", "tenants"])


def failing_tenants_chart(frame: pd.DataFrame, start: datetime, end: datetime) -> alt.Chart:
    """Degraded and unhealthy tenants per bucket, in the status colours."""
    return lines(
        frame,
        keep="tenants",
        values=["degraded", "unhealthy"],
        name="status",
        value="count",
        x=_time_axis(start, end),
        y=alt.Y("count:Q", title="tenants", axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("status:N", scale=_status_scale(), title=None, legend=alt.Legend(orient="top")),
    ).properties(height=OVERVIEW_HEIGHT)


def uptime_chart(distribution: pd.DataFrame) -> alt.Chart:
    """Tenants per uptime band, the bands in their order (best left)."""
    return (
        alt.Chart(distribution)
        .mark_bar()
        .encode(
            x=alt.X("uptime:N", sort=list(distribution["uptime"]), title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("tenants:Q", title="tenants", axis=alt.Axis(tickMinStep=1)),
            tooltip=["uptime:N", "tenants:Q"],
        )
        .properties(height=OVERVIEW_HEIGHT)
    )


# -- uptime and error budgets (flows/slo.py counts them) -------------------------------------------

#: the matrix's uptime column: the last 24 h, short enough to read at every refresh of the grid
MATRIX_UPTIME_WINDOW = "24h"
UPTIME_COLUMN = f"uptime {MATRIX_UPTIME_WINDOW} %"


def percent(share: float | None) -> float | None:
    """0..1 as a percentage to 0.001 (99.999 and 100 must not read the same)."""
    return None if share is None else round(share * 100.0, 3)


def uptime_text(share: float | None) -> str:
    return "no data" if share is None else f"{percent(share):.3f} %"


def row_uptime(tallies: Mapping[TargetKey, Tally]) -> dict[str, float | None]:
    """Each matrix row's uptime in percent: its targets' up and down time added up (a tenant's
    services, or the platform's)."""
    rows: dict[str, Tally] = {}
    for (_service, tenant), found in tallies.items():
        row = tenant if tenant is not None else PLATFORM_ROW
        rows[row] = rows.get(row, Tally()) + found
    return {row: percent(t.uptime) for row, t in rows.items()}


def with_uptime(grid: Matrix, tallies: Mapping[TargetKey, Tally]) -> Matrix:
    """The grid with an uptime column after the tenant (and after `worst` for tenants)."""
    by_row = row_uptime(tallies)
    platform, tenants = grid.platform.copy(), grid.tenants.copy()
    platform.insert(1, UPTIME_COLUMN, [by_row.get(r) for r in platform[TENANT_COLUMN]])
    tenants.insert(2, UPTIME_COLUMN, [by_row.get(r) for r in tenants[TENANT_COLUMN]])
    return Matrix(platform, tenants, grid.platform_services, grid.tenant_services)


def breakdown_uptime(
    table: pd.DataFrame, service: str, uptimes: Mapping[TargetKey, Mapping[str, float | None]]
) -> pd.DataFrame:
    """The per-tenant breakdown with each tenant's uptime over 24 h, 7 d and 30 d, in percent."""
    found = table.copy()
    for window in ("24h", "7d", "30d"):
        found[f"uptime {window} %"] = [
            percent(uptimes.get((service, None if t == "(platform)" else t), {}).get(window))
            for t in found["tenant"]
        ]
    return found


def burn_down_frame(points: Sequence[tuple[datetime, float]]) -> pd.DataFrame:
    """The error budget left at the end of each day of the SLO window, in percent."""
    return pd.DataFrame(
        [{"at": at, "budget left %": round(left * 100.0, 2)} for at, left in points],
        columns=["at", "budget left %"],
    )


def burn_down_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """The budget burning down over the window, with the line where it is spent."""
    line = (
        alt.Chart(frame)
        .mark_line(point=len(frame) <= 1)
        .encode(
            x=alt.X("at:T", title=None),
            y=alt.Y("budget left %:Q", title="budget left %"),
            tooltip=[alt.Tooltip("at:T", format="%Y-%m-%d %H:%M"), "budget left %:Q"],
        )
    )
    spent = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(y="y:Q")
    return alt.LayerChart(layer=[line, spent], height=OVERVIEW_HEIGHT)
