"""The service x tenant matrix: platform services in one row, then one row per tenant."""

from __future__ import annotations

import streamlit as st

from healthmon.dashboard import context, frames, status_style
from healthmon.storage.queries import Cell, counts, filter_cells, matrix_cells, stale_count

GRID_GEN_KEY = "matrix_grid_gen"

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
    search = st.text_input("Tenant", key="matrix_search", placeholder="search tenant id")
    sort = st.segmented_control("Sort", list(frames.SORTS), key="matrix_sort", default=frames.SORT_WORST)


def open_detail(service: str, tenant: str | None) -> None:
    # a fresh table key next time: the old one's selection would send us straight back here
    st.session_state[GRID_GEN_KEY] = st.session_state.get(GRID_GEN_KEY, 0) + 1
    params = {"service": service, **({"tenant": tenant} if tenant else {})}
    st.switch_page(context.SERVICE_PAGE, query_params=params)


def freshness_line(cells: list[Cell], stale_after: float) -> None:
    """How old the data shown is (not when the page refreshed), and a warning while any of it
    is stale: after `healthmon serve` stops, the old statuses must not pass for current ones."""
    newest = min(c.age_s for c in cells)
    oldest = max(c.age_s for c in cells)
    stale = stale_count(cells)
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


@st.fragment(run_every=context.LIVE_EVERY_S)
def live_matrix(tiers: list[str], statuses: list[str], search: str, sort: str) -> None:
    with context.guarded():
        rt = context.runtime()
        rule = context.stale_rule(rt)
        every = matrix_cells(rt.engine, context.view_cache(rt), context.now(), rule)
        if not every:
            st.info(context.NO_RESULTS, icon="⏳")
            return
        cells = filter_cells(
            every, tiers=tiers or None, statuses=statuses or None, tenant_search=search or None
        )
        found = counts(cells)
        columns = st.columns(len(status_style.STATUS_ORDER) + 2)
        for column, status in zip(columns, status_style.STATUS_ORDER, strict=False):
            column.metric(status_style.label(status), found[status], border=True)
        columns[-2].metric(
            f"{status_style.STALE_EMOJI} {status_style.STALE}",
            stale_count(cells),
            border=True,
            help=f"no result for more than {rule.stale_after:g} tier intervals; also counted by the "
            "status it last had",
        )
        columns[-1].metric("targets", len(cells), border=True)
        if cells:
            freshness_line(cells, rule.stale_after)

        grid = frames.matrix(cells, sort)
        gen = st.session_state.get(GRID_GEN_KEY, 0)
        config = {frames.TENANT_COLUMN: st.column_config.TextColumn("tenant", pinned=True)}
        for service in {*grid.platform_services, *grid.tenant_services}:
            config[service] = st.column_config.TextColumn(service, help=f"{context.tier_of(service)} tier")

        st.subheader("Platform")
        if grid.platform.empty:
            st.caption("No platform service matches the filters.")
        else:
            event = st.dataframe(
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
        if grid.tenants.empty:
            st.caption("No tenant matches the filters.")
        else:
            config[frames.WORST_COLUMN] = st.column_config.TextColumn(
                "worst", help="the tenant's worst status"
            )
            event = st.dataframe(
                frames.styled(grid.tenants, [frames.WORST_COLUMN, *grid.tenant_services]),
                hide_index=True,
                column_config=config,
                on_select="rerun",
                selection_mode="single-cell",
                height=min(38 + 35 * len(grid.tenants), 640),
                key=f"matrix_tenants_{gen}",
            )
            target = frames.cell_target(grid.tenants, event.selection, grid.tenant_services)
            if target:
                open_detail(*target)
        st.caption(status_style.legend(rule.stale_after))
        st.caption("Click a status cell to open that service's detail.")

        attention = frames.attention(cells)
        not_healthy = sum(1 for c in cells if frames.needs_attention(c))
        shown = f", the {len(attention)} worst shown" if len(attention) < not_healthy else ""
        with st.expander(f"Not healthy or stale ({not_healthy}{shown})", expanded=0 < not_healthy <= 20):
            if attention.empty:
                st.caption("Everything shown is healthy.")
            else:
                st.dataframe(attention, hide_index=True, key="matrix_attention")


live_matrix(tiers, statuses, search or "", sort or frames.SORT_WORST)

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
