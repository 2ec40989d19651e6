"""One service: its current status, latency history with status changes and alerts, and for a
per-tenant service every tenant's status."""

from __future__ import annotations

import streamlit as st

from healthmon.dashboard import context, frames, kept_frames, status_style
from healthmon.dashboard import uptime as uptime_figures
from healthmon.flows.slo import slo_report
from healthmon.monitors.result import TIERS
from healthmon.storage.alerts import list_alerts
from healthmon.storage.queries import (
    BUCKETS,
    WINDOWS,
    counts,
    freshness,
    history_points,
    latency_series,
    service_health,
    stale_count,
    status_changes,
    tenant_health,
)
from healthmon.storage.tenants import display_names
from healthmon.storage.tenants import label as tenant_label

st.title("📈 Service detail")

TENANT_KEY = "tenant"
#: the breakdown lists at most this many tenants, the worst first
BREAKDOWN_ROWS = 1000


def tenant_picker(options: list[str], names: dict[str, str]) -> str | None:
    """The tenant, shown as "Acme Shop (acme)", in the URL as its id (?tenant=acme: the matrix
    and alert messages link so). Not bound to the URL by Streamlit: a bound widget writes the
    label it shows into the URL, so the id goes to and comes from st.query_params here."""
    wanted = st.query_params.get(TENANT_KEY)
    if TENANT_KEY not in st.session_state and wanted in options:
        # first run of the page (opened or linked to): the URL picks
        st.session_state[TENANT_KEY] = wanted
    chosen: str | None = st.selectbox(
        "Tenant",
        options,
        index=None,
        key=TENANT_KEY,
        format_func=lambda t: tenant_label(t, names),
        placeholder="all tenants — pick one for its history",
    )
    if chosen is not None and wanted != chosen:
        st.query_params[TENANT_KEY] = chosen
    elif chosen is None and TENANT_KEY in st.query_params:
        del st.query_params[TENANT_KEY]
    return chosen


rt = context.runtime()
all_services = context.services()
opening: str | None = None
if "service" not in st.query_params and "service" not in st.session_state:
    # only where the page opens without a service: the worst of every target's status
    with context.guarded():
        opening = context.opening_service(rt, context.cells(rt))
with st.container(horizontal=True, vertical_alignment="bottom"):
    # bound to the URL (?service=...&tenant=...): the matrix and alert messages link here, and
    # the page can be shared
    service = st.selectbox(
        "Service",
        all_services,
        index=all_services.index(opening) if opening in all_services else 0,
        key="service",
        # no format_func: a bound widget puts the formatted option in the URL and reads it back
        bind="query-params",
    )
    tenant: str | None = None
    names: dict[str, str] = {}
    if service and context.per_tenant(service):
        known: set[str | None] = set()
        with context.guarded():
            known = {c.tenant for c in context.cells(rt, service=service)}
            known |= {t.id for t in uptime_figures.tenants(rt) if service in t.integrations}
            # once per run, for the picker, the heading and the table
            names = display_names(rt.engine, known)
        tenant = tenant_picker(sorted(t for t in known if t), names)
    window = st.segmented_control("Window", list(WINDOWS), key="window", default="24h", required=True)

service = service or all_services[0]
window = window or "24h"
st.caption(
    f"{context.tier_of(service)} tier · "
    + ("checked per tenant" if context.per_tenant(service) else "a platform service")
)


def show_result(service: str, tenant: str | None) -> None:
    rt = context.runtime()
    cache = context.view_cache(rt)
    now, rule = context.now(), context.stale_rule(rt)
    cells = context.cells(rt, rule=rule, service=service)
    if tenant is not None:
        found = tenant_health(rt.engine, cache, tenant, [service], cells)
    else:
        found = [r for r in service_health(rt.engine, cache, service, cells) if r.tenant_id is None]
    if not found:
        who = f"{service} for tenant {tenant}" if tenant else service
        st.info(f"No result for {who} yet. {context.NO_RESULTS}", icon="⏳")
        return
    result = found[0]
    cell = next((c for c in cells if c.service == service and c.tenant == tenant), None)
    age, stale = freshness(result, now, rule)
    status = result.status.value
    columns = st.columns(5)
    columns[0].metric("Status", status_style.label(status), border=True)
    latency = "—" if result.latency_ms is None else f"{result.latency_ms:,.0f} ms"
    columns[1].metric("Latency", latency, border=True)
    columns[2].metric("Checked", context.ago(result.checked_at, now), border=True)
    columns[3].metric(
        "Freshness",
        f"{status_style.STALE_EMOJI} {status_style.STALE}" if stale else "fresh",
        border=True,
        help=f"stale: no result for more than {rule.stale_after:g} tier intervals",
    )
    columns[4].metric("In this status since", context.ago(cell.since if cell else None, now), border=True)
    if stale:
        interval = context.span_s(TIERS[result.tier].interval_s * rule.interval_scale)
        st.warning(
            f"**Stale:** the latest result is {context.age_text(age)} old, older than "
            f"{rule.stale_after:g} intervals of the {result.tier.value} tier ({interval} each). The "
            "status shown is the last one seen, not the current one. Is `healthmon serve` running?",
            icon=status_style.STALE_EMOJI,
        )
    reason = result.reason
    if reason:
        box = {"unhealthy": st.error, "degraded": st.warning}.get(status, st.info)
        box(f"**Reason:** {reason}")
    st.caption(
        f"Checked at {result.checked_at:%Y-%m-%d %H:%M:%S} UTC, {context.age_text(age)} ago "
        f"({'stale' if stale else 'fresh'}) · refreshes every {context.LIVE_EVERY_S} s"
    )
    with st.expander("Details", expanded=status != "healthy"):
        st.json(result.details, expanded=2)


def show_breakdown(service: str, names: dict[str, str]) -> None:
    rt = context.runtime()
    rule = context.stale_rule(rt)
    judged = context.judge(rt, rule=rule)
    cells = judged.by_service.get(service, ())
    if not cells:
        st.info(f"No tenant has a {service} result yet. {context.NO_RESULTS}", icon="⏳")
        return
    found = counts(cells)
    columns = st.columns(len(status_style.STATUS_ORDER) + 1)
    for column, status in zip(columns, status_style.STATUS_ORDER, strict=False):
        column.metric(status_style.label(status), found[status], border=True)
    columns[-1].metric(f"{status_style.STALE_EMOJI} {status_style.STALE}", stale_count(cells), border=True)
    # the view's cells, not each target's cached result: the same latest results, without
    # reading 10,000 keys again at every refresh; built once while they are unchanged
    table = kept_frames.breakdown(judged, service, judged.at, names, uptime_figures.targets(rt, service))
    if len(table) > BREAKDOWN_ROWS:
        # worst first: the failing tenants are all on it; a browser is not sent 10,000 rows
        # every refresh (pick a tenant for any other)
        st.caption(
            f"the {BREAKDOWN_ROWS:,} worst of {len(table):,} tenants, worst first; pick a tenant above "
            "for any other"
        )
        table = table.iloc[:BREAKDOWN_ROWS]
    context.table(
        frames.styled(table, ["status"]),
        hide_index=True,
        key="service_breakdown",
        column_order=frames.name_beside_tenant(table.columns),
        column_config={
            "latency ms": st.column_config.NumberColumn(format="%.0f"),
            "checked": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "age s": st.column_config.NumberColumn(format="%.0f", help="seconds since the check"),
            **{
                f"uptime {w} %": st.column_config.NumberColumn(
                    format="%.3f", help=f"time up over {w}; degraded is up, silenced and stale time no data"
                )
                for w in WINDOWS
            },
            "stale": st.column_config.CheckboxColumn(
                help=f"no result for more than {rule.stale_after:g} tier intervals"
            ),
        },
        max_height=560,
    )


@st.fragment(run_every=context.LIVE_EVERY_S)
def live(service: str, tenant: str | None, names: dict[str, str]) -> None:
    # `names` as read by the page's last full run (a fragment's rerun keeps its arguments)
    with context.guarded():
        if context.per_tenant(service) and tenant is None:
            st.subheader(f"{service} — every tenant")
            show_breakdown(service, names)
            return
        shown = tenant_label(tenant, names) if tenant else None
        st.subheader(f"{service} — {shown}" if shown else service)
        show_result(service, tenant)


@st.fragment(run_every=context.SLOW_EVERY_S)
def history(service: str, tenant: str | None, window: str) -> None:
    with context.guarded():
        rt = context.runtime()
        end = context.now()
        start = end - WINDOWS[window]
        points = history_points(rt.engine, service, tenant, start)
        st.subheader(f"Latency, last {window}")
        if not points:
            st.info("No checks recorded in this window.", icon="⏳")
            return
        series = frames.series_frame(latency_series(points, BUCKETS[window]))
        changes = status_changes(points)
        alerts = list_alerts(rt.engine, service=service, tenant_id=tenant, since=start, limit=200)
        if tenant is None:
            alerts = [a for a in alerts if a["tenant_id"] is None]
        else:
            # the service's cross-tenant (rollup) alert concerns every tenant's chart
            alerts += [
                a
                for a in list_alerts(rt.engine, service=service, since=start, limit=200)
                if a["tenant_id"] is None
            ]
        marks = frames.alert_marks(alerts)
        if series.empty:
            st.caption("No latency in this window (every check ended before a response).")
        segments = frames.status_segments(points[0].status, changes, points[0].at, end)
        chart = frames.history_chart(series, changes, marks, segments, start, end)
        st.altair_chart(chart, width="stretch")
        st.caption(
            f"{len(points):,} checks · {len(changes)} status changes · {len(alerts)} alerts · "
            f"p50/p95 per {context.span(BUCKETS[window])}"
        )
        with st.expander("Chart data"):
            context.table(series, hide_index=True, key="service_series")
            if changes:
                st.markdown("**Status changes**")
                context.table(changes, hide_index=True, key="service_changes")
            if alerts:
                st.markdown("**Alerts**")
                context.table(frames.alerts_table(alerts), hide_index=True, key="service_alerts")


@st.fragment(run_every=context.SLOW_EVERY_S)
def overview(service: str, window: str) -> None:
    """A per-tenant service across its tenants, over time: what its table of 1,000 rows cannot
    show. Bucketed in SQL (storage.queries.tenants_over_time); uptime as flows.slo counts it."""
    with context.guarded():
        rt = context.runtime()
        end = context.now()
        start = end - WINDOWS[window]
        # kept and refreshed in the background (dashboard/uptime.py): seconds of SQL at 10,000 tenants
        found = uptime_figures.over_time(rt, service, window)
        assert found is not None
        st.subheader(f"{service} across tenants, last {window}")
        if not found.statuses:
            st.info("No checks recorded in this window.", icon="⏳")
            return
        series = frames.series_frame(found.latency)
        failing = frames.failing_tenants_frame(found.statuses)
        uptimes = uptime_figures.uptime_of_tenants(rt, service, window)
        distribution = frames.uptime_distribution(v for (_s, t), v in uptimes.items() if t is not None)
        latency_column, failing_column, uptime_column = st.columns(3)
        with latency_column:
            st.markdown("**Latency, every tenant** (p50 / p95)")
            if series.empty:
                st.caption("No latency in this window (every check ended before a response).")
            else:
                st.altair_chart(frames.tenants_latency_chart(series, start, end), width="stretch")
        with failing_column:
            st.markdown("**Tenants degraded and unhealthy**")
            st.altair_chart(frames.failing_tenants_chart(failing, start, end), width="stretch")
        with uptime_column:
            st.markdown(f"**Uptime over {window}**, tenants per band")
            st.altair_chart(frames.uptime_chart(distribution), width="stretch")
        st.caption(
            f"per {context.span(BUCKETS[window])} · a tenant counts once per bucket, by its worst "
            "result in it · uptime: degraded counts as up, unknown, silenced and stale time as no data"
        )
        with st.expander("Overview data"):
            context.table(series, hide_index=True, key="overview_latency")
            context.table(failing, hide_index=True, key="overview_failing")
            context.table(distribution, hide_index=True, key="overview_uptime")


@st.fragment(run_every=context.SLOW_EVERY_S)
def uptime(service: str, tenant: str | None) -> None:
    """Uptime over 24 h, 7 d and 30 d of the target (or of every tenant together), and with an
    SLO its error budget left, burn rates and the budget's burn-down over the window."""
    with context.guarded():
        rt = context.runtime()
        whole = context.per_tenant(service) and tenant is None
        found = uptime_figures.whole_service(rt, service) if whole else None
        report = found or slo_report(rt, service, tenant, context.now())
        st.subheader("Uptime and error budget" + (", every tenant together" if whole else ""))
        columns = st.columns(len(report.uptime) + 1)
        for column, (name, share) in zip(columns, report.uptime.items(), strict=False):
            column.metric(f"Uptime {name}", frames.uptime_text(share), border=True)
        objective = report.objective
        if objective is None:
            columns[-1].metric("Error budget", "no SLO", border=True, help=f"set services.{service}.slo")
            st.caption(UPTIME_NOTE)
            return
        left = report.budget_remaining
        columns[-1].metric(
            f"Budget left ({objective.objective:g} % over {objective.window_days} d)",
            "no data" if left is None else f"{left * 100:.1f} %",
            border=True,
        )
        rates = " · ".join(
            f"{name} {'no data' if rate is None else f'{rate:.1f}x'}"
            for name, rate in report.burn_rates.items()
        )
        st.caption(f"Burn rate (1x spends the budget in exactly {objective.window_days} d): {rates}")
        if whole:
            st.caption("Each tenant has its own budget: pick a tenant for its burn-down.")
        elif report.burn_down:
            frame = frames.burn_down_frame(report.burn_down)
            st.altair_chart(frames.burn_down_chart(frame), width="stretch")
            with st.expander("Budget data"):
                context.table(frame, hide_index=True, key="service_budget")
        st.caption(UPTIME_NOTE)


UPTIME_NOTE = (
    "Uptime is time-weighted: each result counts until the next one, at most the stale limit. "
    "Degraded counts as up; unknown, silenced and stale time count as no data."
)

if context.per_tenant(service) and tenant is None:
    overview(service, window)
live(service, tenant, names)
uptime(service, tenant)
if not context.per_tenant(service) or tenant is not None:
    history(service, tenant, window)
if context.per_tenant(service) and tenant is not None:
    # drawn only while open (on_change="rerun"): at 10,000 tenants the table is most of the
    # page's cost, and most visits of one tenant never open it
    every = st.expander(f"Every tenant of {service}", key="service_every_tenant", on_change="rerun")
    if every.open:
        with every, context.guarded():
            show_breakdown(service, names)
