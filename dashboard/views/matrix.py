"""The service x tenant matrix: platform services in one row, then one row per tenant."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from healthmon.dashboard import context, frames, status_style
from healthmon.dashboard import uptime as uptime_figures
from healthmon.dashboard.kept_frames import matrix_view
from healthmon.flows import alerts as flow_alerts
from healthmon.monitors.result import TargetKey
from healthmon.storage.alerts import load_live
from healthmon.storage.queries import Cell
from healthmon.storage.tenants import display_names

GRID_GEN_KEY = "matrix_grid_gen"
UPTIME_KEY = "matrix_uptime"

st.title("🧮 Service × tenant matrix")  # noqa: RUF001

with st.container(horizontal=True, vertical_alignment="bottom"):
    tiers = st.multiselect("Tier", list(context.TIER_ORDER), key="matrix_tiers", placeholder="all tiers")
    statuses = st.multiselect(
        "Status",
        list(status_style.STATUS_ORDER),
        key="matrix_statuses",
        format_func=status_style.label,
        placeholder="any status",
    )
    search = st.text_input("Tenant", key="matrix_search", placeholder="search tenant id or name")
    wanted_response = st.multiselect(
        "Response",
        list(frames.RESPONSE_FILTERS),
        key="matrix_response",
        placeholder="any response",
        help="alerted: a live alert; unacknowledged: an open alert; silenced: a silence holds its "
        "notifications (several: all of them)",
    )
    sort = st.segmented_control("Sort", list(frames.SORTS), key="matrix_sort", default=frames.SORT_WORST)
    # on by default: whole hours come from the uptime rollup (docs/performance.md); off saves
    # the read on a box where history is not rolled up yet
    st.toggle(
        f"Uptime {frames.MATRIX_UPTIME_WINDOW}",
        value=True,
        key=UPTIME_KEY,
        help=f"a column with each row's uptime over the last {frames.MATRIX_UPTIME_WINDOW} (read from "
        f"history at most every {uptime_figures.MATRIX_TTL_S} s)",
    )


def open_detail(service: str, tenant: str | None) -> None:
    # a fresh table key next time: the old one's selection would send us straight back here
    st.session_state[GRID_GEN_KEY] = st.session_state.get(GRID_GEN_KEY, 0) + 1
    params = {"service": service, **({"tenant": tenant} if tenant else {})}
    st.switch_page(context.SERVICE_PAGE, query_params=params)


def freshness_line(cells: list[Cell], stale: int, stale_after: float) -> None:
    """How old the data shown is (not when the page refreshed), and a warning while any of it
    (`stale` of the cells) is stale: after `healthmon serve` stops, the old statuses must not
    pass for current ones."""
    newest = min(c.age_s for c in cells)
    oldest = max(c.age_s for c in cells)
    if stale == len(cells):
        st.warning(
            f"Data from {context.age_text(newest)} ago — stale: no target has a result newer than "
            f"{stale_after:g} tier intervals. Is `healthmon serve` running?",
            icon=status_style.STALE_EMOJI,
        )
    elif stale:
        st.warning(
            f"{stale} of {len(cells)} targets are stale: no result for more than {stale_after:g} "
            f"tier intervals (the oldest is from {context.age_text(oldest)} ago). Their cells show "
            "the status they last had, in brackets.",
            icon=status_style.STALE_EMOJI,
        )
    st.caption(
        f"Data from {context.age_text(newest)} ago (newest result) to {context.age_text(oldest)} ago "
        f"(oldest) · {stale} stale · refreshes every {context.LIVE_EVERY_S} s"
    )


def response_state(cells: Sequence[Cell]) -> dict[TargetKey, frames.Response]:
    """Live alerts and active silences, read once per run of the matrix (a few rows, beside
    the cached view of every cell)."""
    rt = context.runtime()
    now = context.now()
    return frames.responses(cells, load_live(rt.engine), flow_alerts.active_silences(rt.engine, now), now)


# the counts, the grids and the list rerun on their own every LIVE_EVERY_S (the filters above
# keep their values); a result recorded meanwhile shows without anybody touching the page
@st.fragment(run_every=context.LIVE_EVERY_S)
def live_matrix(tiers: list[str], statuses: list[str], search: str, sort: str, wanted: list[str]) -> None:
    with context.guarded():
        rt = context.runtime()
        rule = context.stale_rule(rt)
        judged = context.judge(rt, rule=rule)
        every = judged.cells
        if not every:
            st.info(context.NO_RESULTS, icon="⏳")
            return
        # once per run, for the search and the grid: the view holds ids only
        names = display_names(rt.engine, {c.tenant for c in every})
        tallies = None
        uptime_pending = False
        if st.session_state.get(UPTIME_KEY):
            # every service's targets, whatever the filters: a row's uptime is of all its services
            checked = tuple(sorted(judged.by_service))
            # never waited for: at 10,000 tenants it is seconds of reading, done in the background
            # (dashboard/kept.py); the column fills in at a later refresh
            tallies = uptime_figures.tallies(rt, checked, frames.MATRIX_UPTIME_WINDOW, wait=False)
            uptime_pending = tallies is None
        view = matrix_view(
            judged,
            tiers=tiers,
            statuses=statuses,
            search=search,
            sort=sort,
            wanted=wanted,
            response=response_state(every),
            names=names,
            tallies=tallies,
        )
        cells = [every[i] for i in view.shown]
        found = view.counts
        columns = st.columns(len(status_style.STATUS_ORDER) + 2)
        for column, status in zip(columns, status_style.STATUS_ORDER, strict=False):
            column.metric(status_style.label(status), found[status], border=True)
        columns[-2].metric(
            f"{status_style.STALE_EMOJI} {status_style.STALE}",
            view.stale,
            border=True,
            help=f"no result for more than {rule.stale_after:g} tier intervals; also counted by the "
            "status it last had",
        )
        columns[-1].metric("targets", len(cells), border=True)
        if cells:
            freshness_line(cells, view.stale, rule.stale_after)

        if uptime_pending:
            st.caption(f"Uptime {frames.MATRIX_UPTIME_WINDOW}: being computed, shown in a few seconds.")
        grid = frames.with_names(view.grid, names)
        gen = st.session_state.get(GRID_GEN_KEY, 0)
        config = {
            frames.TENANT_COLUMN: st.column_config.TextColumn("tenant", pinned=True),
            frames.NAME_COLUMN: st.column_config.TextColumn(
                "name", pinned=True, help="the tenant's display name"
            ),
        }
        config[frames.UPTIME_COLUMN] = st.column_config.NumberColumn(
            frames.UPTIME_COLUMN,
            format="%.3f",
            help=f"the row's services together over the last {frames.MATRIX_UPTIME_WINDOW}, time-weighted; "
            "degraded is up, silenced and stale time no data",
        )
        for service in {*grid.platform_services, *grid.tenant_services}:
            config[service] = st.column_config.TextColumn(service, help=f"{context.tier_of(service)} tier")

        st.subheader("Platform")
        if grid.platform.empty:
            st.caption("No platform service matches the filters.")
        else:
            event = context.table(
                frames.styled(grid.platform, grid.platform_services),
                hide_index=True,
                column_config=config,
                on_select="rerun",
                selection_mode="single-cell",
                key=f"matrix_platform_{gen}",
            )
            target = frames.cell_target(grid.platform, event.selection, grid.platform_services)
            if target:
                open_detail(*target)

        st.subheader(f"Tenants ({len(grid.tenants)})")
        # one page of rows, worst first: the failing tenants are on the first page, and a
        # browser is not sent 10,000 rows every refresh (search and filters find the rest)
        pages = max(1, -(-len(grid.tenants) // frames.MATRIX_PAGE_ROWS))
        if pages > 1:
            page = st.number_input(
                f"Page (of {pages}, {frames.MATRIX_PAGE_ROWS:,} tenants each)",
                min_value=1,
                max_value=pages,
                value=1,
                key="matrix_page",
            )
            grid = frames.page_of(grid, int(page))
            last = grid.first_row + len(grid.tenants)
            st.caption(
                f"tenants {grid.first_row + 1:,}-{last:,} of {grid.total_rows:,}, worst first; "
                "search or filter for the others"
            )
        if grid.tenants.empty:
            st.caption("No tenant matches the filters.")
        else:
            config[frames.WORST_COLUMN] = st.column_config.TextColumn(
                "worst", help="the tenant's worst status"
            )
            event = context.table(
                frames.styled(grid.tenants, [frames.WORST_COLUMN, *grid.tenant_services]),
                hide_index=True,
                column_config=config,
                on_select="rerun",
                selection_mode="single-cell",
                max_height=640,
                key=f"matrix_tenants_{gen}",
            )
            target = frames.cell_target(grid.tenants, event.selection, grid.tenant_services)
            if target:
                open_detail(*target)
        st.caption(status_style.legend(rule.stale_after))
        st.caption(frames.RESPONSE_LEGEND)
        st.caption("Click a status cell to open that service's detail.")

        attention, not_healthy = view.attention, view.not_healthy
        shown = f", the {len(attention)} worst shown" if len(attention) < not_healthy else ""
        with st.expander(f"Not healthy or stale ({not_healthy}{shown})", expanded=0 < not_healthy <= 20):
            if attention.empty:
                st.caption("Everything shown is healthy.")
            else:
                context.table(attention, hide_index=True, key="matrix_attention")


live_matrix(tiers, statuses, search or "", sort or frames.SORT_WORST, wanted_response)

st.divider()
with st.container(horizontal=True, vertical_alignment="bottom"):
    chosen = st.selectbox(
        "Service", context.services(), key="matrix_goto_service", index=None, placeholder="pick a service"
    )
    tenant = None
    if chosen and context.per_tenant(chosen):
        tenant = st.text_input("Tenant id", key="matrix_goto_tenant", placeholder="optional")
    if st.button("Open service detail", key="matrix_goto", disabled=not chosen) and chosen:
        open_detail(chosen, (tenant or "").strip() or None)
